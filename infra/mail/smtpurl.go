package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TLSMode says how the connection to the SMTP server is encrypted.
type TLSMode int

// The TLS modes. The zero value upgrades when it can, which is what an
// smtp:// URL without a starttls option means.
const (
	// STARTTLSOpportunistic upgrades with STARTTLS when the server offers it
	// and goes on in clear text when it does not; credentials are then never
	// sent by a mechanism that reveals them (PLAIN or LOGIN).
	STARTTLSOpportunistic TLSMode = iota
	// STARTTLSRequired refuses to go on unless the server offers STARTTLS.
	STARTTLSRequired
	// STARTTLSNone never upgrades: clear text all along.
	STARTTLSNone
	// ImplicitTLS speaks TLS from the first byte (smtps://, port 465).
	ImplicitTLS
)

// String returns the mode as the starttls option (or smtps) names it.
func (m TLSMode) String() string {
	switch m {
	case STARTTLSOpportunistic:
		return "opportunistic"
	case STARTTLSRequired:
		return "required"
	case STARTTLSNone:
		return "none"
	case ImplicitTLS:
		return "implicit"
	}
	return "TLSMode(" + strconv.Itoa(int(m)) + ")"
}

// Default ports and timeout of SMTP connections.
const (
	DefaultSubmissionPort = 587
	DefaultSMTPSPort      = 465
	DefaultSMTPTimeout    = 30 * time.Second
)

// SMTPConfig says how to reach the SMTP server. ParseSMTPURL fills it from
// ROSTER_SMTP_URL; tests and callers may set TLSConfig afterwards.
type SMTPConfig struct {
	// Host is the server's name or IP address, also the name its
	// certificate must carry.
	Host string
	// Port is the server's TCP port.
	Port int
	// Username and Password authenticate with SMTP AUTH; no AUTH when
	// Username is empty.
	Username string
	Password string
	// TLS says whether and how the connection is encrypted.
	TLS TLSMode
	// Timeout bounds the dial and then each SMTP command and reply; a dead
	// server fails an attempt after at most this long without an answer.
	// DefaultSMTPTimeout when zero.
	Timeout time.Duration
	// TLSConfig replaces the default TLS settings, for instance to trust a
	// private CA. ServerName defaults to Host. Nil verifies the server
	// against the system's roots.
	TLSConfig *tls.Config
}

// ParseSMTPURL reads an SMTP server URL of the ROSTER_SMTP_URL form:
//
//	smtp://user:password@host:port?starttls=required|opportunistic|none&timeout=10s
//	smtps://user:password@host:port?timeout=10s
//
// smtp:// defaults to port 587 and opportunistic STARTTLS; smtps:// to port
// 465 and TLS from the start. User and password are percent-decoded. An
// unknown option, or starttls with smtps, is an error. Errors never quote
// the URL, which may hold a password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return SMTPConfig{}, fmt.Errorf("smtp url: %v", err)
	}
	var c SMTPConfig
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		c.Port, c.TLS = DefaultSubmissionPort, STARTTLSOpportunistic
	case "smtps":
		c.Port, c.TLS = DefaultSMTPSPort, ImplicitTLS
	default:
		return SMTPConfig{}, fmt.Errorf("smtp url: scheme %q is not smtp or smtps", u.Scheme)
	}
	if c.Host = u.Hostname(); c.Host == "" {
		return SMTPConfig{}, errors.New("smtp url: no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("smtp url: port %q is not a number from 1 to 65535", p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if u.Path != "" && u.Path != "/" {
		return SMTPConfig{}, fmt.Errorf("smtp url: unexpected path %q", u.Path)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return SMTPConfig{}, fmt.Errorf("smtp url: query: %v", err)
	}
	var problems []error
	for _, key := range slices.Sorted(maps.Keys(q)) { // sorted: the same input, the same message
		v := q.Get(key)
		switch key {
		case "starttls":
			if c.TLS == ImplicitTLS {
				problems = append(problems, errors.New("smtp url: starttls does not apply to smtps, which is TLS from the start"))
				continue
			}
			switch strings.ToLower(v) {
			case "required", "mandatory":
				c.TLS = STARTTLSRequired
			case "opportunistic", "":
				c.TLS = STARTTLSOpportunistic
			case "none", "off":
				c.TLS = STARTTLSNone
			default:
				problems = append(problems, fmt.Errorf("smtp url: starttls=%q is not required, opportunistic or none", v))
			}
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				problems = append(problems, fmt.Errorf("smtp url: timeout=%q is not a positive duration", v))
				continue
			}
			c.Timeout = d
		default:
			problems = append(problems, fmt.Errorf("smtp url: unknown option %q (want starttls or timeout)", key))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return SMTPConfig{}, err
	}
	return c, nil
}
