package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"os"
	"slices"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPSender sends mail through an SMTP server with github.com/wneessen/go-mail,
// one connection per message. It is safe for concurrent use.
type SMTPSender struct {
	opts   []gomail.Option
	host   string
	from   string
	domain string // of from, for Message-IDs
	// implicitTLS keeps the library's own dialer: with a dialer of ours it
	// would take the connection for unencrypted and refuse PLAIN and LOGIN.
	implicitTLS bool
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender returns a sender through the server c describes, with from
// (ROSTER_MAIL_FROM, "addr@example.com" or "Name <addr@example.com>") as the
// sender. It does not connect. It returns an error when from is not an
// address or c is incomplete.
func NewSMTPSender(c SMTPConfig, from string) (*SMTPSender, error) {
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail from %q: %w", from, err)
	}
	if c.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	if c.Port < 1 || c.Port > 65535 {
		return nil, fmt.Errorf("smtp: port %d is not from 1 to 65535", c.Port)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSConfig != nil {
		tc = c.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = c.Host
	}
	opts := []gomail.Option{
		gomail.WithPort(c.Port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tc),
		// One message per connection: a RSET after it only adds a way for
		// a delivered mail to look failed.
		gomail.WithoutRset(),
	}
	switch c.TLS {
	case STARTTLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case STARTTLSRequired:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case STARTTLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("smtp: unknown TLS mode %v", c.TLS)
	}
	if c.Username != "" {
		// Auto-discovery picks the strongest mechanism the server offers and
		// never one that reveals the password (PLAIN, LOGIN) without TLS.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	if _, err := gomail.NewClient(c.Host, opts...); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	domain := addr.Address[strings.LastIndexByte(addr.Address, '@')+1:]
	return &SMTPSender{opts: opts, host: c.Host, from: from, domain: domain, implicitTLS: c.TLS == ImplicitTLS}, nil
}

// Send delivers msg. ctx bounds the connection and login; once the message
// is being transferred, the connection is closed when ctx ends, and every
// command is bounded by the configured timeout. Past ctx's deadline nothing
// more is written, not even the final dot that would make the server take
// the message (except with implicit TLS, where only the close guards it). Errors: a 5xx refusal of the
// recipient or the message, or a malformed message, matches ErrPermanent;
// anything else (unreachable server, 4xx, timeout, TLS or login failure,
// which an operator can fix) is worth retrying.
func (s *SMTPSender) Send(ctx context.Context, msg Message) error {
	m, err := s.build(msg)
	if err != nil {
		return permanent(err)
	}
	opts := s.opts
	if until, ok := ctx.Deadline(); ok && !s.implicitTLS {
		opts = append(slices.Clip(opts), gomail.WithDialContextFunc(fencedDial(until)))
	}
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("smtp connect: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	err = client.SendWithSMTPClient(conn, m)
	stop()
	if m.IsDelivered() {
		// The server took the message. A failing QUIT must not make it look
		// unsent, which would send it again.
		_ = client.CloseWithSMTPClient(conn)
		return nil
	}
	_ = conn.Close()
	if err == nil {
		err = errors.New("smtp: message not accepted")
	}
	return classify(err)
}

// fencedDial dials connections that write nothing at or after until.
func fencedDial(until time.Time) gomail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return fencedConn{Conn: conn, until: until}, nil
	}
}

// fencedConn refuses writes once until has passed, checked before each
// write rather than left to a timer: a process that was stopped wakes with
// its timers and its sends racing, and the check is what decides.
type fencedConn struct {
	net.Conn
	until time.Time
}

var errFenced = fmt.Errorf("smtp: the attempt's time ran out before the message was sent: %w", os.ErrDeadlineExceeded)

func (c fencedConn) Write(b []byte) (int, error) {
	if !time.Now().Before(c.until) {
		return 0, errFenced
	}
	return c.Conn.Write(b)
}

func (c fencedConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.earlier(t)) }
func (c fencedConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.earlier(t)) }
func (c fencedConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.earlier(t)) }

func (c fencedConn) earlier(t time.Time) time.Time {
	if t.IsZero() || c.until.Before(t) {
		return c.until
	}
	return t
}

// build turns msg into a go-mail message. Addresses are parsed, and header
// values encoded, by the library: a line break in a name cannot add a header.
func (s *SMTPSender) build(msg Message) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(s.from); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := m.To(msg.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", msg.To, err)
	}
	m.Subject(msg.Subject)
	m.SetDate()
	if msg.ID != "" {
		m.SetMessageIDWithValue(MessageID(msg.ID, s.domain))
	} else {
		m.SetMessageID()
	}
	// An automatic mail: vacation responders should not answer it (RFC 3834).
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	return m, nil
}

// MessageID is the Message-ID (without angle brackets) of the mail with the
// given ID from a sender in domain. It depends on nothing else, so a mail
// sent again carries the same one.
func MessageID(id, domain string) string {
	return "roster." + id + "@" + domain
}

// classify marks the send errors that retrying cannot fix as permanent.
func classify(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return err
	}
	switch se.Reason {
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		return permanent(err)
	case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose, gomail.ErrWriteContent:
		// 5xx refuses this recipient or message for good. A 5xx on MAIL FROM
		// is left retryable: it refuses our sender, a configuration problem.
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return permanent(err)
		}
	}
	return err
}
