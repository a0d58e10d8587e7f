// Package config reads Roster's configuration from ROSTER_* environment
// variables, lets command-line flags of the same name override them, and
// validates the result, reporting every problem at once.
package config

import (
	"crypto/hmac"
	"crypto/sha256"
	"flag"
	"net"
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
	// DefaultJWTMaxLifetime is auth.DefaultMaxLifetime, repeated so the
	// configuration does not import the verifier.
	DefaultJWTMaxLifetime = 24 * time.Hour
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "json"
	// DefaultLongReadsPerCaller and DefaultLongReadsTotal are
	// httpapi.DefaultLongReadsPerCaller and httpapi.DefaultLongReadsTotal,
	// repeated so the configuration does not import the API.
	DefaultLongReadsPerCaller = 2
	DefaultLongReadsTotal     = 8
	// DefaultLeaseTTL is consumers.DefaultLeaseTTL, repeated so the
	// configuration does not import the consumers.
	DefaultLeaseTTL = 3 * time.Second
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
	// JWTMaxLifetime is the longest a token may be valid, exp - iat: a
	// longer-lived token is refused however recently it was issued
	// (ROSTER_JWT_MAX_LIFETIME).
	JWTMaxLifetime time.Duration
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
	// DevLogin lets the dashboard sign anyone in by typing an email: the
	// server mints a short-lived development token for it
	// (ROSTER_DEV_LOGIN). Validate refuses it beside a JWKS or an OIDC
	// issuer and on an address other than loopback.
	DevLogin bool
	// OIDCIssuer is the identity provider the dashboard signs people in
	// with, OpenID Connect authorization code with PKCE
	// (ROSTER_OIDC_ISSUER). Its ID tokens are the bearer tokens, so they
	// are verified against the provider's discovered JWKS (unless JWKSURL
	// names one), with JWTIssuer defaulting to it.
	OIDCIssuer string
	// OIDCClientID is the dashboard's client at the provider
	// (ROSTER_OIDC_CLIENT_ID): the aud of its ID tokens, so JWTAudience
	// defaults to it.
	OIDCClientID string
	// CheckServices are the services allowed the access-check API: the
	// client_id (else sub) of their tokens (ROSTER_CHECK_SERVICES). Empty
	// allows none.
	CheckServices []string
	// CheckScope is the scope a service's token must carry
	// (ROSTER_CHECK_SCOPE).
	CheckScope string
	// CheckMaxStaleness is how old an access check without at_least may be
	// (ROSTER_CHECK_MAX_STALENESS).
	CheckMaxStaleness time.Duration
	// CheckIndexSize bounds the access index's entries
	// (ROSTER_CHECK_INDEX_SIZE).
	CheckIndexSize int
	// WebhookRetryHorizon is how long a webhook delivery is retried
	// (ROSTER_WEBHOOK_RETRY_HORIZON); zero means DefaultWebhookRetryHorizon.
	WebhookRetryHorizon time.Duration
	// WebhookTimeout bounds one webhook request (ROSTER_WEBHOOK_TIMEOUT);
	// zero means DefaultWebhookTimeout.
	WebhookTimeout time.Duration
	// WebhookAllowHTTP takes http:// endpoint URLs (ROSTER_WEBHOOK_ALLOW_HTTP).
	WebhookAllowHTTP bool
	// WebhookAllowPrivate lets deliveries reach private, loopback and
	// link-local addresses (ROSTER_WEBHOOK_ALLOW_PRIVATE).
	WebhookAllowPrivate bool
	// LongReadsPerCaller is how many long reads (audit exports, as_of
	// queries, access reviews) one account may run at once; more are
	// answered 429 (ROSTER_LONG_READS_PER_CALLER). Zero takes the default.
	LongReadsPerCaller int
	// LongReadsTotal is how many long reads the server runs at once,
	// whoever asks (ROSTER_LONG_READS_TOTAL). Keep it well below the
	// database pool's size, so that commands and short queries always
	// find a connection. Zero takes the default.
	LongReadsTotal int
	// Limits are the limits on writes (ROSTER_LIMIT_*).
	Limits Limits

	// InstanceID names this process in the leases of the feed's consumers
	// (ROSTER_INSTANCE_ID); empty means the host name and the process ID.
	// Each running instance needs its own.
	InstanceID string
	// LeaseTTL is how long a consumer's lease outlives its last renewal
	// (ROSTER_LEASE_TTL): a consumer whose leader stalls or dies silently
	// is taken over by another instance about that long after, plus a
	// third of it.
	LeaseTTL time.Duration
	// ExpiryPoll is how often the scheduler that ends accesses on their
	// date looks for due ones when nothing wakes it sooner
	// (ROSTER_EXPIRY_POLL); zero takes expiry.DefaultPoll, 10 seconds.
	ExpiryPoll time.Duration
	// MailLease is how long an attempt to send an invitation mail holds
	// it (ROSTER_MAIL_LEASE): a mail still being sent after it belonged to
	// an instance that died mid-send, and is sent again. Zero takes the
	// mail ledger's default, 5 minutes.
	MailLease time.Duration

	// issuerGiven and audienceGiven record that ROSTER_JWT_ISSUER and
	// ROSTER_JWT_AUDIENCE were set, rather than defaulted.
	issuerGiven, audienceGiven bool

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
			// Defaults are applied again after every flag: some follow
			// other settings (the token issuer follows the OIDC issuer).
			err := s.parse(c, strings.TrimSpace(v))
			c.setDefaults()
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
	// The dashboard's ID tokens are the bearer tokens: they carry the
	// provider as iss and the dashboard's client as aud. Unless given, the
	// expected ones follow the OIDC settings, also when a flag sets those
	// after the environment was read.
	if !c.issuerGiven {
		c.JWTIssuer = orDefault(c.OIDCIssuer, DefaultJWTIssuer)
	}
	if !c.audienceGiven {
		c.JWTAudience = orDefault(c.OIDCClientID, DefaultJWTAudience)
	}
	if c.JWTMaxLifetime == 0 {
		c.JWTMaxLifetime = DefaultJWTMaxLifetime
	}
	if c.InviteTTL == 0 {
		c.InviteTTL = DefaultInviteTTL
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	if c.LogFormat == "" {
		c.LogFormat = DefaultLogFormat
	}
	if c.LongReadsPerCaller == 0 {
		c.LongReadsPerCaller = DefaultLongReadsPerCaller
	}
	if c.LongReadsTotal == 0 {
		c.LongReadsTotal = DefaultLongReadsTotal
	}
	c.setLimitDefaults()
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
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
	for _, p := range []*string{&c.PGURL, &c.ESDBURL, &c.SMTPURL, &c.BrokerURL, &c.JWKSURL, &c.AcceptURL, &c.OIDCIssuer} {
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

// DashboardURL is the address of the dashboard on the server's own
// address, HTTPAddr: an address on every interface is reached through
// 127.0.0.1. Serve sets HTTPAddr to the address it listens on, so a port
// chosen by the system (":0") is the one given. Empty when HTTPAddr is no
// host:port.
func (c Config) DashboardURL() string {
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: "/"}).String()
}

// AcceptPage is the page invitation mail links to: AcceptURL when set, else
// the dashboard's /accept page (see DashboardURL).
func (c Config) AcceptPage() string {
	if c.AcceptURL != "" {
		return c.AcceptURL
	}
	if base := c.DashboardURL(); base != "" {
		return base + "accept"
	}
	return ""
}
