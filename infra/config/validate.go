package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/logging"
)

// minKeyLen is the shortest secret accepted for HMAC keys: RFC 7518 section
// 3.2 asks for at least the hash size, 256 bits.
const minKeyLen = 32

// Validate reports every problem of c at once, joined with errors.Join, each
// naming its environment variable. Values that failed to parse in Load are
// among them unless a flag has replaced them. Secrets are never echoed.
func (c Config) Validate() error {
	// Problems are gathered by variable and reported in the order of
	// settings, so the same input always gives the same message.
	problems := make(map[string][]error)
	add := func(env, format string, args ...any) {
		problems[env] = append(problems[env], fmt.Errorf("%s: "+format, append([]any{env}, args...)...))
	}
	for env, err := range c.parseErrs {
		add(env, "%v", err)
	}

	// An empty host (":8080") listens on every interface, which is allowed.
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		add("ROSTER_HTTP_ADDR", "%q is not host:port", c.HTTPAddr)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		add("ROSTER_HTTP_ADDR", "port %q of %q is not a number from 0 to 65535", port, c.HTTPAddr)
	}

	if c.DebugAddr != "" {
		if host, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			add("ROSTER_DEBUG_ADDR", "%q is not host:port", c.DebugAddr)
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			add("ROSTER_DEBUG_ADDR", "%q is not a loopback address: profiles must not be reachable from outside", c.DebugAddr)
		}
	}

	if c.PGURL == "" {
		add("ROSTER_PG_URL", "is required")
	} else if err := checkURL(c.PGURL, "postgres", "postgresql"); err != nil {
		add("ROSTER_PG_URL", "%v", err)
	}

	switch c.EventStore {
	case EventStorePostgres, EventStoreMemory:
	case EventStoreESDB:
		if c.ESDBURL == "" {
			add("ROSTER_ESDB_URL", "is required when ROSTER_EVENT_STORE is %s", EventStoreESDB)
		}
	default:
		add("ROSTER_EVENT_STORE", "unknown event store %q (want %s, %s or %s)", c.EventStore, EventStorePostgres, EventStoreESDB, EventStoreMemory)
	}
	if c.ESDBURL != "" {
		if err := checkURL(c.ESDBURL, "esdb", "esdb+discover"); err != nil {
			add("ROSTER_ESDB_URL", "%v", err)
		}
	}

	if c.JWTSecret == "" && c.JWKSURL == "" && c.OIDCIssuer == "" {
		add("ROSTER_JWT_SECRET", "neither it nor ROSTER_JWKS_URL is set; set the secret for development tokens or the JWKS URL of the identity provider")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < minKeyLen {
		add("ROSTER_JWT_SECRET", "is %d bytes, needs at least %d (try: openssl rand -base64 32)", len(c.JWTSecret), minKeyLen)
	}
	if c.JWKSURL != "" {
		if err := checkURL(c.JWKSURL, "https", "http"); err != nil {
			add("ROSTER_JWKS_URL", "%v", err)
		}
	}
	if c.JWTIssuer == "" {
		add("ROSTER_JWT_ISSUER", "is empty")
	}
	if c.JWTAudience == "" {
		add("ROSTER_JWT_AUDIENCE", "is empty")
	}

	if _, failed := c.parseErrs["ROSTER_JWT_MAX_LIFETIME"]; !failed && c.JWTMaxLifetime <= 0 {
		add("ROSTER_JWT_MAX_LIFETIME", "%s is not a positive duration", c.JWTMaxLifetime)
	}
	c.validateSignIn(add)

	if _, failed := c.parseErrs["ROSTER_INVITE_TTL"]; !failed {
		// The default of properties without a policy; no inviter may choose
		// longer than the domain's maximum, so neither may the service.
		switch longest := domain.MaxLifetime.Duration(); {
		case c.InviteTTL <= 0:
			add("ROSTER_INVITE_TTL", "%s is not a positive duration", c.InviteTTL)
		case c.InviteTTL > longest:
			add("ROSTER_INVITE_TTL", "%s is longer than %s, the longest an invitation may live", c.InviteTTL, longest)
		}
	}
	// Below 300ms a heartbeat (a third of the lease) would race the
	// database's own round trips under load.
	if _, failed := c.parseErrs["ROSTER_LEASE_TTL"]; !failed && (c.LeaseTTL < 300*time.Millisecond || c.LeaseTTL > time.Hour) {
		add("ROSTER_LEASE_TTL", "%s is not between 300ms and 1h", c.LeaseTTL)
	}
	if _, failed := c.parseErrs["ROSTER_EXPIRY_POLL"]; !failed && c.ExpiryPoll != 0 && (c.ExpiryPoll < 10*time.Millisecond || c.ExpiryPoll > 30*time.Second) {
		add("ROSTER_EXPIRY_POLL", "%s is not between 10ms and 30s: an access must end within a minute of its moment", c.ExpiryPoll)
	}
	if _, failed := c.parseErrs["ROSTER_MAIL_LEASE"]; !failed && c.MailLease < 0 {
		add("ROSTER_MAIL_LEASE", "%s is negative", c.MailLease)
	}
	if strings.ContainsFunc(c.InstanceID, unicode.IsControl) || len(c.InstanceID) > 200 {
		add("ROSTER_INSTANCE_ID", "must be at most 200 bytes without control characters")
	}
	c.validateLongReads(add)
	c.validateLimits(add)
	c.validateWebhooks(add)
	switch {
	case c.InviteKey == "" && c.JWTSecret == "":
		add("ROSTER_INVITE_KEY", "is required when ROSTER_JWT_SECRET is not set (it is derived from that secret otherwise)")
	case c.InviteKey != "" && len(c.InviteKey) < minKeyLen:
		add("ROSTER_INVITE_KEY", "is %d bytes, needs at least %d", len(c.InviteKey), minKeyLen)
	}

	if c.SMTPURL != "" {
		if err := checkURL(c.SMTPURL, "smtp", "smtps"); err != nil {
			add("ROSTER_SMTP_URL", "%v", err)
		}
		if c.MailFrom == "" {
			add("ROSTER_MAIL_FROM", "is required when ROSTER_SMTP_URL is set")
		}
	}
	if c.MailFrom != "" {
		if _, err := mail.ParseAddress(c.MailFrom); err != nil {
			add("ROSTER_MAIL_FROM", "%q is not an email address: %v", c.MailFrom, err)
		}
	}
	if c.AcceptURL != "" {
		if err := checkURL(c.AcceptURL, "https", "http"); err != nil {
			add("ROSTER_ACCEPT_URL", "%v", err)
		}
	}
	if c.BrokerURL != "" {
		if err := checkURL(c.BrokerURL, "nats", "tls", "ws", "wss"); err != nil {
			add("ROSTER_BROKER_URL", "%v", err)
		}
	}

	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		add("ROSTER_LOG_LEVEL", "%v", err)
	}
	if err := logging.CheckFormat(c.LogFormat); err != nil {
		add("ROSTER_LOG_FORMAT", "%v", err)
	}
	if _, err := ParseAuditSigningKey(c.AuditSigningKey); err != nil {
		add("ROSTER_AUDIT_SIGNING_KEY", "%v", err)
	}
	var errs []error
	for _, s := range settings {
		errs = append(errs, problems[s.env]...)
	}
	return errors.Join(errs...)
}

// validateSignIn checks how the dashboard signs people in: development
// sign-in only where nobody else can reach it and no real identity
// provider is trusted, and OpenID Connect with settings its ID tokens can
// pass.
func (c Config) validateSignIn(add func(env, format string, args ...any)) {
	if c.DevLogin {
		if c.JWTSecret == "" {
			add("ROSTER_DEV_LOGIN", "needs ROSTER_JWT_SECRET to sign the development tokens")
		}
		if c.JWKSURL != "" {
			add("ROSTER_DEV_LOGIN", "is refused with ROSTER_JWKS_URL: anyone could sign in as anybody beside real accounts")
		}
		if c.OIDCIssuer != "" {
			add("ROSTER_DEV_LOGIN", "is refused with ROSTER_OIDC_ISSUER: anyone could sign in as anybody beside real accounts")
		}
		if host, _, err := net.SplitHostPort(c.HTTPAddr); err == nil && !isLoopbackHost(host) {
			add("ROSTER_DEV_LOGIN", "is refused on ROSTER_HTTP_ADDR %q: development sign-in listens on loopback only (127.0.0.1, ::1 or localhost)", c.HTTPAddr)
		}
	}
	switch {
	case c.OIDCIssuer == "" && c.OIDCClientID != "":
		add("ROSTER_OIDC_ISSUER", "is required with ROSTER_OIDC_CLIENT_ID")
	case c.OIDCIssuer != "" && c.OIDCClientID == "":
		add("ROSTER_OIDC_CLIENT_ID", "is required with ROSTER_OIDC_ISSUER")
	}
	if c.OIDCIssuer == "" {
		return
	}
	if err := checkURL(c.OIDCIssuer, "https", "http"); err != nil {
		add("ROSTER_OIDC_ISSUER", "%v", err)
	} else if u, _ := url.Parse(c.OIDCIssuer); strings.EqualFold(u.Scheme, "http") && !isLoopbackHost(u.Hostname()) {
		add("ROSTER_OIDC_ISSUER", "%s is plain http on another machine: ID tokens and keys must come over https (http is for loopback only)", u.Redacted())
	}
	if c.JWTIssuer != c.OIDCIssuer {
		add("ROSTER_JWT_ISSUER", "is %q but the ID tokens of ROSTER_OIDC_ISSUER carry iss %q: leave it unset or make them equal", c.JWTIssuer, c.OIDCIssuer)
	}
	if c.OIDCClientID != "" && c.JWTAudience != c.OIDCClientID {
		add("ROSTER_JWT_AUDIENCE", "is %q but the ID tokens of ROSTER_OIDC_CLIENT_ID carry aud %q: leave it unset or make them equal", c.JWTAudience, c.OIDCClientID)
	}
}

// isLoopbackHost reports whether host names this machine only.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkURL reports whether raw is an absolute URL with one of schemes and a
// host (PostgreSQL URLs may name their host in the query instead, for a
// Unix socket). Its messages leave the URL out, since it may hold a password.
func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("not a valid URL: %v", err)
	}
	if !slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		return fmt.Errorf("URL scheme %q is not %s", u.Scheme, strings.Join(schemes, " or "))
	}
	if u.Host == "" && !(slices.Contains(schemes, "postgres") && u.Query().Has("host")) {
		return fmt.Errorf("URL %s has no host", u.Redacted())
	}
	return nil
}

// AuditKey returns the key chain heads are signed with, or nil when
// ROSTER_AUDIT_SIGNING_KEY is not set. The error is ParseAuditSigningKey's,
// which Validate reports already.
func (c Config) AuditKey() (ed25519.PrivateKey, error) {
	return ParseAuditSigningKey(c.AuditSigningKey)
}

// ParseAuditSigningKey decodes an Ed25519 key given in base64 (standard or
// URL alphabet, padded or not): the 32-byte seed, or the 64-byte private key
// (seed and public key, as crypto/ed25519 holds it), whose public half must
// be the seed's. Empty gives nil and no error. Errors never echo the key.
func ParseAuditSigningKey(v string) (ed25519.PrivateKey, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	var raw []byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			raw = b
			break
		}
	}
	switch {
	case raw == nil:
		return nil, errors.New("is not base64")
	case len(raw) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case len(raw) == ed25519.PrivateKeySize:
		key := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if !key.Equal(ed25519.PrivateKey(raw)) {
			return nil, errors.New("is 64 bytes but not an Ed25519 private key: its public half does not belong to its seed")
		}
		return key, nil
	}
	return nil, fmt.Errorf("decodes to %d bytes; want base64 of a %d-byte Ed25519 seed or a %d-byte private key (try: openssl rand -base64 32)",
		len(raw), ed25519.SeedSize, ed25519.PrivateKeySize)
}

// validateLongReads refuses bounds of long reads below one, and a bound per
// account above the total, which could never be reached and is likely two
// values swapped.
func (c Config) validateLongReads(add func(env, format string, args ...any)) {
	_, perFailed := c.parseErrs["ROSTER_LONG_READS_PER_CALLER"]
	_, totalFailed := c.parseErrs["ROSTER_LONG_READS_TOTAL"]
	if !perFailed && c.LongReadsPerCaller < 1 {
		add("ROSTER_LONG_READS_PER_CALLER", "%d is not at least 1", c.LongReadsPerCaller)
	}
	if !totalFailed && c.LongReadsTotal < 1 {
		add("ROSTER_LONG_READS_TOTAL", "%d is not at least 1", c.LongReadsTotal)
	}
	if !perFailed && !totalFailed && c.LongReadsTotal >= 1 && c.LongReadsPerCaller > c.LongReadsTotal {
		add("ROSTER_LONG_READS_PER_CALLER", "%d is more than ROSTER_LONG_READS_TOTAL (%d), so it could never be reached",
			c.LongReadsPerCaller, c.LongReadsTotal)
	}
}
