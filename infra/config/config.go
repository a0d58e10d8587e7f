// Package config reads Roster's configuration from ROSTER_* environment
// variables, lets command-line flags of the same name override them, and
// validates the result, reporting every problem at once.
package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"flag"
	"net/url"
	"strings"
	"time"
)

// The kinds of event store ROSTER_EVENT_STORE may name.
const (
	EventStorePostgres = "postgres"
	EventStoreESDB     = "esdb"
	EventStoreMemory   = "memory"
)

// Defaults of the settings that have one.
const (
	DefaultHTTPAddr    = "127.0.0.1:8080"
	DefaultPGURL       = "postgres://postgres@127.0.0.1:5432/roster"
	DefaultEventStore  = EventStorePostgres
	DefaultJWTIssuer   = "roster"
	DefaultJWTAudience = "roster"
	DefaultInviteTTL   = 168 * time.Hour
	DefaultLogLevel    = "info"
	DefaultLogFormat   = "json"
)

// inviteKeyLabel is the message the invitation key is derived under from the
// JWT secret. Changing it invalidates every outstanding invitation token.
const inviteKeyLabel = "roster/invitation-token-key/v1"

// Config is the whole configuration of the roster binary. The zero value is
// not usable: get one from Load or Parse.
type Config struct {
	// HTTPAddr is the host:port `serve` listens on (ROSTER_HTTP_ADDR).
	HTTPAddr string
	// PGURL is the PostgreSQL URL of the read models, and of the events with
	// the postgres event store (ROSTER_PG_URL).
	PGURL string
	// EventStore is the event store kind: EventStorePostgres, EventStoreESDB
	// or EventStoreMemory (ROSTER_EVENT_STORE).
	EventStore string
	// ESDBURL is the EventStoreDB connection string, required with the esdb
	// event store (ROSTER_ESDB_URL).
	ESDBURL string
	// JWTSecret is the HS256 secret of development tokens (ROSTER_JWT_SECRET).
	// Without it, JWKSURL is required.
	JWTSecret string
	// JWKSURL is where the identity provider publishes the RS256/ES256 keys
	// of production tokens (ROSTER_JWKS_URL).
	JWKSURL string
	// JWTIssuer is the iss claim every token must carry (ROSTER_JWT_ISSUER).
	JWTIssuer string
	// JWTAudience is the value the aud claim of every token must contain
	// (ROSTER_JWT_AUDIENCE).
	JWTAudience string
	// InviteTTL is how long an invitation stays valid (ROSTER_INVITE_TTL).
	InviteTTL time.Duration
	// InviteKey is the server key invitation tokens are derived under
	// (ROSTER_INVITE_KEY). When empty, InvitationKey derives one from
	// JWTSecret, so development needs a single secret; production with a
	// JWKS must set it.
	InviteKey string
	// SMTPURL is the mail server invitations are sent through, as
	// smtp://user:pass@host:port or smtps://...; empty sends mail to the log
	// (ROSTER_SMTP_URL).
	SMTPURL string
	// MailFrom is the sender address of invitation mail (ROSTER_MAIL_FROM),
	// required with SMTPURL.
	MailFrom string
	// AcceptURL is the dashboard page invitation mail links to; the token is
	// appended to it (ROSTER_ACCEPT_URL).
	AcceptURL string
	// BrokerURL is the NATS server integration events are published to;
	// empty turns publishing off (ROSTER_BROKER_URL).
	BrokerURL string
	// LogLevel is the least severe level logged: trace, debug, info, warn,
	// error (ROSTER_LOG_LEVEL).
	LogLevel string
	// LogFormat is json or console (ROSTER_LOG_FORMAT).
	LogFormat string
	// AuditSigningKey is the Ed25519 key chain heads are signed with, in
	// base64: the 32-byte seed or the 64-byte private key
	// (ROSTER_AUDIT_SIGNING_KEY). Empty leaves heads unsigned; AuditKey
	// decodes it.
	AuditSigningKey string
	// Operators are the accounts (token sub values) allowed to use the
	// operator-only API, such as forgetting a person (ROSTER_OPERATORS,
	// comma-separated). Empty allows nobody.
	Operators []string
	// DebugAddr, when set, is a host:port serving Go's profiles
	// (/debug/pprof/) apart from the API (ROSTER_DEBUG_ADDR). Keep it on
	// loopback: profiles show the server's memory.
	DebugAddr string

	// parseErrs keeps the values that could not be parsed, by variable, so
	// Validate reports them with everything else unless a flag has since
	// set that variable.
	parseErrs map[string]error
}

// Load reads the configuration from getenv (os.Getenv in main), fills in the
// defaults and validates it. An empty variable counts as unset. On error the
// returned Config holds what could be read, and the error joins every
// problem found.
func Load(getenv func(string) string) (Config, error) {
	var c Config
	for _, s := range settings {
		if v := strings.TrimSpace(getenv(s.env)); v != "" {
			c.set(s, v)
		}
	}
	c.setDefaults()
	return c, c.Validate()
}

// Parse is Load followed by flags: it registers the configuration flags on
// fs (next to any the caller defined), parses args and validates the result.
// A flag overrides its variable, and may correct a bad one. The error is
// fs.Parse's, or every remaining problem joined.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	c, _ := Load(getenv) // Validate below reports what the flags leave wrong.
	c.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// BindFlags registers one flag per variable on fs: ROSTER_HTTP_ADDR becomes
// -http-addr, ROSTER_JWT_SECRET -jwt-secret, and so on. Parsing fs then
// writes into c, so bind after Load and call Validate after fs.Parse. An
// empty flag value restores the default. Secrets given as flags are visible
// to other local users in the process list; prefer the environment for them.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	for _, s := range settings {
		usage := s.usage + " (env " + s.env
		if s.def != "" {
			usage += ", default " + s.def
		}
		usage += ")"
		fs.Func(FlagName(s.env), usage, func(v string) error {
			var err error
			if v = strings.TrimSpace(v); v == "" {
				err = s.parse(c, "")
				c.setDefaults()
			} else {
				err = s.parse(c, v)
			}
			if err != nil {
				return err
			}
			delete(c.parseErrs, s.env)
			return nil
		})
	}
}

// FlagName is the flag that overrides the environment variable env:
// ROSTER_INVITE_TTL gives invite-ttl.
func FlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "ROSTER_")), "_", "-")
}

// setDefaults fills every unset setting that has a default.
func (c *Config) setDefaults() {
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.PGURL == "" {
		c.PGURL = DefaultPGURL
	}
	if c.EventStore == "" {
		c.EventStore = DefaultEventStore
	}
	if c.JWTIssuer == "" {
		c.JWTIssuer = DefaultJWTIssuer
	}
	if c.JWTAudience == "" {
		c.JWTAudience = DefaultJWTAudience
	}
	if c.InviteTTL == 0 {
		c.InviteTTL = DefaultInviteTTL
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	if c.LogFormat == "" {
		c.LogFormat = DefaultLogFormat
	}
}

// set parses v into the field of s, remembering a parse failure for Validate.
func (c *Config) set(s setting, v string) {
	if err := s.parse(c, v); err != nil {
		if c.parseErrs == nil {
			c.parseErrs = make(map[string]error)
		}
		c.parseErrs[s.env] = err
	}
}

// InvitationKey returns the key invitation tokens are derived under:
// InviteKey when set, else HMAC-SHA256 of a fixed label under JWTSecret, else
// nil (which Validate refuses). Because the derived key follows the JWT
// secret, rotating that secret also voids outstanding invitation tokens;
// set ROSTER_INVITE_KEY to rotate them independently.
func (c Config) InvitationKey() []byte {
	if c.InviteKey != "" {
		return []byte(c.InviteKey)
	}
	if c.JWTSecret == "" {
		return nil
	}
	m := hmac.New(sha256.New, []byte(c.JWTSecret))
	m.Write([]byte(inviteKeyLabel))
	return m.Sum(nil)
}

// Redacted returns a copy of c that is safe to log: secrets are replaced and
// passwords in URLs are masked.
func (c Config) Redacted() Config {
	const mask = "[redacted]"
	if c.JWTSecret != "" {
		c.JWTSecret = mask
	}
	if c.InviteKey != "" {
		c.InviteKey = mask
	}
	if c.AuditSigningKey != "" {
		c.AuditSigningKey = mask
	}
	for _, p := range []*string{&c.PGURL, &c.ESDBURL, &c.SMTPURL, &c.BrokerURL, &c.JWKSURL, &c.AcceptURL} {
		if *p == "" {
			continue
		}
		if u, err := url.Parse(*p); err == nil {
			*p = u.Redacted()
		} else {
			*p = mask // unparsable, so it may hide a password anywhere
		}
	}
	c.parseErrs = nil
	return c
}
