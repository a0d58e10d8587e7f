package config

import (
	"fmt"
	"strings"
	"time"
	"unicode"
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

// settings lists every variable in the order of DESIGN section 6, which is
// also the order problems are reported in.
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
	{env: "ROSTER_JWT_ISSUER", usage: "`issuer` tokens must carry in their iss claim", def: DefaultJWTIssuer,
		parse: str(func(c *Config) *string { return &c.JWTIssuer })},
	{env: "ROSTER_JWT_AUDIENCE", usage: "`audience` tokens must name in their aud claim", def: DefaultJWTAudience,
		parse: str(func(c *Config) *string { return &c.JWTAudience })},
	{env: "ROSTER_INVITE_TTL", usage: "how long an invitation stays valid, as a Go `duration`", def: DefaultInviteTTL.String(),
		parse: func(c *Config, v string) error {
			if v == "" {
				c.InviteTTL = 0
				return nil
			}
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			c.InviteTTL = d
			return nil
		}},
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
	{env: "ROSTER_DEBUG_ADDR", usage: "`host:port` serving Go's profiles at /debug/pprof/ (loopback only); unset serves none",
		parse: str(func(c *Config) *string { return &c.DebugAddr })},
}

// operators reads ROSTER_OPERATORS: account IDs separated by commas, each
// trimmed. An empty entry or one with a space inside is refused: it is a
// stray or a missing comma, and guessing would grant or deny the wrong
// account.
func operators(c *Config, v string) error {
	c.Operators = nil
	if v == "" {
		return nil
	}
	for i, id := range strings.Split(v, ",") {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
			return fmt.Errorf("entry %d is empty; separate account IDs with single commas", i+1)
		case strings.ContainsFunc(id, unicode.IsSpace):
			return fmt.Errorf("entry %q holds a space; separate account IDs with commas", id)
		}
		c.Operators = append(c.Operators, id)
	}
	return nil
}
