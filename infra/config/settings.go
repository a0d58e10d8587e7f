package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// setting ties one environment variable (and so one flag) to its field.
type setting struct {
	env   string
	usage string
	def   string // shown in flag help only; setDefaults applies defaults
	// parse stores v in the field; an empty v clears it.
	parse func(c *Config, v string) error
}

func str(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func lower(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = strings.ToLower(v); return nil }
}

func duration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			*field(c) = 0
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*field(c) = d
		return nil
	}
}

func count(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			*field(c) = 0
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*field(c) = n
		return nil
	}
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			*field(c) = false
			return nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*field(c) = b
		return nil
	}
}

// settings lists every variable in the order the README documents them, which
// is also the order problems are reported in.
var settings = []setting{
	{env: "ROSTER_HTTP_ADDR", usage: "`host:port` the serve command listens on", def: DefaultHTTPAddr,
		parse: str(func(c *Config) *string { return &c.HTTPAddr })},
	{env: "ROSTER_PG_URL", usage: "PostgreSQL `URL` of the read models (and events, with the postgres store)", def: DefaultPGURL,
		parse: str(func(c *Config) *string { return &c.PGURL })},
	{env: "ROSTER_EVENT_STORE", usage: "event store `kind`: postgres, esdb or memory", def: DefaultEventStore,
		parse: lower(func(c *Config) *string { return &c.EventStore })},
	{env: "ROSTER_ESDB_URL", usage: "EventStoreDB connection `string` (esdb://...), required with the esdb store",
		parse: str(func(c *Config) *string { return &c.ESDBURL })},
	{env: "ROSTER_JWT_SECRET", usage: "HS256 `secret` of development tokens, at least 32 bytes; without it a JWKS URL is required",
		parse: str(func(c *Config) *string { return &c.JWTSecret })},
	{env: "ROSTER_JWKS_URL", usage: "`URL` of the identity provider's JWKS (RS256/ES256 keys of production tokens)",
		parse: str(func(c *Config) *string { return &c.JWKSURL })},
	{env: "ROSTER_JWT_ISSUER", usage: "`issuer` tokens must carry in their iss claim; the OIDC issuer when that is set", def: DefaultJWTIssuer,
		parse: func(c *Config, v string) error { c.JWTIssuer, c.issuerGiven = v, v != ""; return nil }},
	{env: "ROSTER_JWT_AUDIENCE", usage: "`audience` tokens must name in their aud claim; the OIDC client ID when that is set", def: DefaultJWTAudience,
		parse: func(c *Config, v string) error { c.JWTAudience, c.audienceGiven = v, v != ""; return nil }},
	{env: "ROSTER_JWT_MAX_LIFETIME", usage: "longest a token may be valid (exp - iat), as a Go `duration`", def: DefaultJWTMaxLifetime.String(),
		parse: duration(func(c *Config) *time.Duration { return &c.JWTMaxLifetime })},
	{env: "ROSTER_INVITE_TTL", usage: "how long an invitation stays valid, as a Go `duration`", def: DefaultInviteTTL.String(),
		parse: duration(func(c *Config) *time.Duration { return &c.InviteTTL })},
	{env: "ROSTER_INVITE_KEY", usage: "server `key` invitation tokens are derived under, at least 32 bytes; derived from the JWT secret when unset",
		parse: str(func(c *Config) *string { return &c.InviteKey })},
	{env: "ROSTER_SMTP_URL", usage: "mail server `URL` for invitations (smtp:// or smtps://); unset sends mail to the log",
		parse: str(func(c *Config) *string { return &c.SMTPURL })},
	{env: "ROSTER_MAIL_FROM", usage: "sender `address` of invitation mail, required with an SMTP URL",
		parse: str(func(c *Config) *string { return &c.MailFrom })},
	{env: "ROSTER_ACCEPT_URL", usage: "dashboard page `URL` invitation mail links to",
		parse: str(func(c *Config) *string { return &c.AcceptURL })},
	{env: "ROSTER_BROKER_URL", usage: "NATS server `URL` for integration events (nats://...); unset turns them off",
		parse: str(func(c *Config) *string { return &c.BrokerURL })},
	{env: "ROSTER_LOG_LEVEL", usage: "least severe `level` logged: trace, debug, info, warn, error", def: DefaultLogLevel,
		parse: lower(func(c *Config) *string { return &c.LogLevel })},
	{env: "ROSTER_LOG_FORMAT", usage: "log `format`: json or console", def: DefaultLogFormat,
		parse: lower(func(c *Config) *string { return &c.LogFormat })},
	{env: "ROSTER_AUDIT_SIGNING_KEY", usage: "Ed25519 `key` chain heads are signed with: base64 of the 32-byte seed or the 64-byte private key; unset leaves heads unsigned",
		parse: str(func(c *Config) *string { return &c.AuditSigningKey })},
	{env: "ROSTER_OPERATORS", usage: "comma-separated account `IDs` (token sub) allowed the operator-only API; unset allows nobody",
		parse: operators},
	{env: "ROSTER_DEV_LOGIN", usage: "`true` lets the dashboard sign anyone in by email with a short-lived development token (loopback only, never with a JWKS or OIDC)",
		parse: boolean(func(c *Config) *bool { return &c.DevLogin })},
	{env: "ROSTER_OIDC_ISSUER", usage: "OpenID Connect issuer `URL` the dashboard signs people in with (authorization code with PKCE)",
		parse: str(func(c *Config) *string { return &c.OIDCIssuer })},
	{env: "ROSTER_OIDC_CLIENT_ID", usage: "the dashboard's OpenID Connect client `ID`, required with the issuer",
		parse: str(func(c *Config) *string { return &c.OIDCClientID })},
	{env: "ROSTER_INSTANCE_ID", usage: "`name` of this instance in the leases of the feed's consumers, unique per running instance; default the host name and PID",
		parse: str(func(c *Config) *string { return &c.InstanceID })},
	{env: "ROSTER_LEASE_TTL", usage: "how long a consumer's lease outlives its last renewal, as a Go `duration`: another instance takes over a silent leader about this long after", def: DefaultLeaseTTL.String(),
		parse: duration(func(c *Config) *time.Duration { return &c.LeaseTTL })},
	{env: "ROSTER_LONG_READS_PER_CALLER", usage: "how many audit exports, as_of queries and access reviews one account may run at once (`n`)",
		def: strconv.Itoa(DefaultLongReadsPerCaller), parse: count(func(c *Config) *int { return &c.LongReadsPerCaller })},
	{env: "ROSTER_LONG_READS_TOTAL", usage: "how many audit exports, as_of queries and access reviews the server runs at once (`n`)",
		def: strconv.Itoa(DefaultLongReadsTotal), parse: count(func(c *Config) *int { return &c.LongReadsTotal })},
	{env: "ROSTER_EXPIRY_POLL", usage: "how often the scheduler that ends accesses on their date looks for due ones, as a Go `duration` from 10ms to 30s (default 10s)",
		parse: duration(func(c *Config) *time.Duration { return &c.ExpiryPoll })},
	{env: "ROSTER_MAIL_LEASE", usage: "how long an attempt to send an invitation mail holds it, as a Go `duration`, above the longest SMTP send: one still unsent after it, its instance dead, is sent again (default 5m)",
		parse: duration(func(c *Config) *time.Duration { return &c.MailLease })},
	{env: "ROSTER_DEBUG_ADDR", usage: "`host:port` serving Go's profiles at /debug/pprof/ (loopback only); unset serves none",
		parse: str(func(c *Config) *string { return &c.DebugAddr })},
}

func init() { settings = append(append(settings, checkSettings...), webhookSettings...) }

// operators reads ROSTER_OPERATORS: account IDs separated by commas, each
// trimmed. An empty entry or one with a space inside is refused: it is a
// stray or a missing comma, and guessing would grant or deny the wrong
// account.
func operators(c *Config, v string) (err error) {
	c.Operators, err = commaNames(v, "account IDs")
	return err
}
