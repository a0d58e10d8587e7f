package config

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const devSecret = "0123456789abcdef0123456789abcdef"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// defaults is the configuration with only the development secret set.
func defaults() Config {
	return Config{
		HTTPAddr:       "127.0.0.1:8080",
		PGURL:          "postgres://postgres@127.0.0.1:5432/roster",
		EventStore:     "postgres",
		JWTSecret:      devSecret,
		JWTIssuer:      "roster",
		JWTAudience:    "roster",
		JWTMaxLifetime: 24 * time.Hour,
		InviteTTL:      168 * time.Hour,
		LeaseTTL:       3 * time.Second,
		LogLevel:       "info",
		LogFormat:      "json",

		LongReadsPerCaller: 2,
		LongReadsTotal:     8,
		Limits: Limits{InvitationsPerActorHour: 100, InvitationsPerPropertyDay: 1000, NewEmailsPerPropertyDay: 500,
			CommandsPerAccountSecond: 20, TokenFailuresPerIPMinute: 10},
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Config
	}{
		{
			name: "only a JWT secret gives the documented defaults",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret},
			want: defaults(),
		},
		{
			name: "every variable is read, trimmed, kinds lower-cased",
			env: map[string]string{
				"ROSTER_HTTP_ADDR":        ":9090",
				"ROSTER_PG_URL":           "postgresql://app:pw@db.internal:5432/roster?sslmode=require",
				"ROSTER_EVENT_STORE":      " ESDB ",
				"ROSTER_ESDB_URL":         "esdb://admin:changeit@esdb:2113?tls=false",
				"ROSTER_JWT_SECRET":       "",
				"ROSTER_JWKS_URL":         "https://id.example.com/.well-known/jwks.json",
				"ROSTER_JWT_ISSUER":       "https://id.example.com/",
				"ROSTER_JWT_AUDIENCE":     "roster-api",
				"ROSTER_JWT_MAX_LIFETIME": "90m",
				"ROSTER_INVITE_TTL":       "72h",
				"ROSTER_INVITE_KEY":       "fedcba9876543210fedcba9876543210",
				"ROSTER_SMTP_URL":         "smtps://mailer:pw@smtp.example.com:465",
				"ROSTER_MAIL_FROM":        "Roster <no-reply@example.com>",
				"ROSTER_ACCEPT_URL":       "https://app.example.com/invitations/accept",
				"ROSTER_BROKER_URL":       "nats://nats:4222",
				"ROSTER_LOG_LEVEL":        "Debug",
				"ROSTER_LOG_FORMAT":       "console",
				"ROSTER_INSTANCE_ID":      "api-2",
				"ROSTER_LEASE_TTL":        "10s",
				"ROSTER_MAIL_LEASE":       "2m",

				"ROSTER_LONG_READS_PER_CALLER": "3",
				"ROSTER_LONG_READS_TOTAL":      "12",

				"ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR":   "7",
				"ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY": "70",
				"ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY":  " 60 ",
				"ROSTER_LIMIT_COMMANDS_PER_ACCOUNT_SECOND":  "5",
				"ROSTER_LIMIT_TOKEN_FAILURES_PER_IP_MINUTE": "3",
			},
			want: Config{
				HTTPAddr:       ":9090",
				PGURL:          "postgresql://app:pw@db.internal:5432/roster?sslmode=require",
				EventStore:     "esdb",
				ESDBURL:        "esdb://admin:changeit@esdb:2113?tls=false",
				JWKSURL:        "https://id.example.com/.well-known/jwks.json",
				JWTIssuer:      "https://id.example.com/",
				JWTAudience:    "roster-api",
				JWTMaxLifetime: 90 * time.Minute,
				InviteTTL:      72 * time.Hour,
				InviteKey:      "fedcba9876543210fedcba9876543210",
				SMTPURL:        "smtps://mailer:pw@smtp.example.com:465",
				MailFrom:       "Roster <no-reply@example.com>",
				AcceptURL:      "https://app.example.com/invitations/accept",
				BrokerURL:      "nats://nats:4222",
				LogLevel:       "debug",
				LogFormat:      "console",
				InstanceID:     "api-2",
				LeaseTTL:       10 * time.Second,
				MailLease:      2 * time.Minute,

				LongReadsPerCaller: 3,
				LongReadsTotal:     12,
				Limits: Limits{InvitationsPerActorHour: 7, InvitationsPerPropertyDay: 70, NewEmailsPerPropertyDay: 60,
					CommandsPerAccountSecond: 5, TokenFailuresPerIPMinute: 3},
			},
		},
		{
			name: "a PostgreSQL URL may name a Unix socket in its query",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_PG_URL": "postgres:///roster?host=/run/postgresql"},
			want: func() Config { c := defaults(); c.PGURL = "postgres:///roster?host=/run/postgresql"; return c }(),
		},
		{
			name: "the memory event store needs nothing more",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_EVENT_STORE": "memory"},
			want: func() Config { c := defaults(); c.EventStore = "memory"; return c }(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(Config{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // each must appear in the error
	}{
		{
			name: "neither secret nor JWKS",
			env:  map[string]string{},
			want: []string{"ROSTER_JWT_SECRET: neither it nor ROSTER_JWKS_URL is set", "ROSTER_INVITE_KEY: is required"},
		},
		{
			name: "a JWKS without an invitation key",
			env:  map[string]string{"ROSTER_JWKS_URL": "https://id.example.com/jwks"},
			want: []string{"ROSTER_INVITE_KEY: is required when ROSTER_JWT_SECRET is not set"},
		},
		{
			name: "a short secret, without echoing it",
			env:  map[string]string{"ROSTER_JWT_SECRET": "hunter2"},
			want: []string{"ROSTER_JWT_SECRET: is 7 bytes, needs at least 32"},
		},
		{
			name: "a short invitation key",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_INVITE_KEY": "tiny"},
			want: []string{"ROSTER_INVITE_KEY: is 4 bytes"},
		},
		{
			name: "esdb without its URL",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_EVENT_STORE": "esdb"},
			want: []string{"ROSTER_ESDB_URL: is required when ROSTER_EVENT_STORE is esdb"},
		},
		{
			name: "a negative invitation lifetime",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_INVITE_TTL": "-1h"},
			want: []string{"ROSTER_INVITE_TTL: -1h0m0s is not a positive duration"},
		},
		{
			name: "an invitation lifetime above the domain's maximum",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_INVITE_TTL": "721h"},
			want: []string{"ROSTER_INVITE_TTL: 721h0m0s is longer than 720h0m0s, the longest an invitation may live"},
		},
		{
			name: "a lease too short for its heartbeat",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_LEASE_TTL": "100ms"},
			want: []string{"ROSTER_LEASE_TTL: 100ms is not between 300ms and 1h"},
		},
		{
			name: "a lease that is no duration",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_LEASE_TTL": "long"},
			want: []string{`ROSTER_LEASE_TTL: time: invalid duration "long"`},
		},
		{
			name: "a negative mail lease",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_MAIL_LEASE": "-1s"},
			want: []string{"ROSTER_MAIL_LEASE: -1s is negative"},
		},
		{
			name: "an instance ID with a control character",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_INSTANCE_ID": "api\n2"},
			want: []string{"ROSTER_INSTANCE_ID: must be at most 200 bytes without control characters"},
		},
		{
			name: "a token lifetime that is not positive",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_JWT_MAX_LIFETIME": "-5m"},
			want: []string{"ROSTER_JWT_MAX_LIFETIME: -5m0s is not a positive duration"},
		},
		{
			name: "a token lifetime that is no duration",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_JWT_MAX_LIFETIME": "a day"},
			want: []string{`ROSTER_JWT_MAX_LIFETIME: time: invalid duration "a day"`},
		},
		{
			name: "SMTP without a sender",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_SMTP_URL": "smtp://localhost:25"},
			want: []string{"ROSTER_MAIL_FROM: is required when ROSTER_SMTP_URL is set"},
		},
		{
			name: "a URL with a bad port, without echoing its password",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_PG_URL": "postgres://u:s3cret@db:port/roster"},
			want: []string{"ROSTER_PG_URL: not a valid URL"},
		},
		{
			name: "every problem at once",
			env: map[string]string{
				"ROSTER_HTTP_ADDR":   "localhost",
				"ROSTER_PG_URL":      "mysql://db/roster",
				"ROSTER_EVENT_STORE": "kafka",
				"ROSTER_ESDB_URL":    "http://esdb:2113",
				"ROSTER_JWKS_URL":    "/jwks.json",
				"ROSTER_INVITE_TTL":  "a week",
				"ROSTER_SMTP_URL":    "smtp://",
				"ROSTER_MAIL_FROM":   "not an address",
				"ROSTER_ACCEPT_URL":  "ftp://app/accept",
				"ROSTER_BROKER_URL":  "amqp://rabbit",
				"ROSTER_LOG_LEVEL":   "loud",
				"ROSTER_LOG_FORMAT":  "xml",
			},
			want: []string{
				`ROSTER_HTTP_ADDR: "localhost" is not host:port`,
				`ROSTER_PG_URL: URL scheme "mysql" is not postgres or postgresql`,
				`ROSTER_EVENT_STORE: unknown event store "kafka"`,
				`ROSTER_ESDB_URL: URL scheme "http" is not esdb or esdb+discover`,
				`ROSTER_JWKS_URL: URL scheme "" is not https or http`,
				`ROSTER_INVITE_TTL: time: invalid duration "a week"`,
				`ROSTER_INVITE_KEY: is required`,
				`ROSTER_SMTP_URL: URL smtp: has no host`,
				`ROSTER_MAIL_FROM: "not an address" is not an email address`,
				`ROSTER_ACCEPT_URL: URL scheme "ftp" is not https or http`,
				`ROSTER_BROKER_URL: URL scheme "amqp" is not nats or tls or ws or wss`,
				`ROSTER_LOG_LEVEL: unknown log level "loud"`,
				`ROSTER_LOG_FORMAT: unknown log format "xml"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q; got:\n%s", w, msg)
				}
			}
			for _, secret := range []string{"hunter2", "s3cret"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error echoes a secret:\n%s", msg)
				}
			}
			if n := strings.Count(msg, "\n") + 1; n != len(tt.want) {
				t.Errorf("error has %d problems, want %d:\n%s", n, len(tt.want), msg)
			}
		})
	}
}

func TestInvitationKey(t *testing.T) {
	derived := func(secret string) []byte { return Config{JWTSecret: secret}.InvitationKey() }
	a, b := derived(devSecret), derived(devSecret+"x")
	if len(a) != 32 {
		t.Errorf("derived key is %d bytes, want 32", len(a))
	}
	if !bytes.Equal(a, derived(devSecret)) {
		t.Error("the same secret derives different keys")
	}
	if bytes.Equal(a, b) {
		t.Error("different secrets derive the same key")
	}
	if bytes.Contains(a, []byte(devSecret)) {
		t.Error("the derived key contains the secret")
	}
	explicit := Config{JWTSecret: devSecret, InviteKey: "fedcba9876543210fedcba9876543210"}.InvitationKey()
	if string(explicit) != "fedcba9876543210fedcba9876543210" {
		t.Errorf("explicit key not used: %q", explicit)
	}
	if k := (Config{JWKSURL: "https://id.example.com/jwks"}).InvitationKey(); k != nil {
		t.Errorf("key without secret or invite key = %x, want nil", k)
	}
}

func TestParseFlagsOverrideEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    func(*Config)
		wantErr string
	}{
		{
			name: "a flag beats its variable",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_HTTP_ADDR": "127.0.0.1:1111"},
			args: []string{"-http-addr", "127.0.0.1:2222", "-invite-ttl=1h", "-log-format", "CONSOLE"},
			want: func(c *Config) { c.HTTPAddr = "127.0.0.1:2222"; c.InviteTTL = time.Hour; c.LogFormat = "console" },
		},
		{
			name: "a flag corrects a variable that did not parse",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_INVITE_TTL": "soon"},
			args: []string{"-invite-ttl", "2h"},
			want: func(c *Config) { c.InviteTTL = 2 * time.Hour },
		},
		{
			name: "a flag supplies what the environment lacks",
			env:  map[string]string{},
			args: []string{"-jwt-secret", devSecret},
			want: func(*Config) {},
		},
		{
			name: "an empty flag restores the default",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_PG_URL": "postgres://elsewhere/roster"},
			args: []string{"-pg-url="},
			want: func(*Config) {},
		},
		{
			name:    "a bad variable no flag corrects is still reported",
			env:     map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_INVITE_TTL": "soon"},
			args:    []string{"-http-addr", ":1"},
			wantErr: `ROSTER_INVITE_TTL: time: invalid duration "soon"`,
		},
		{
			name:    "a bad flag value fails parsing",
			env:     map[string]string{"ROSTER_JWT_SECRET": devSecret},
			args:    []string{"-invite-ttl", "soon"},
			wantErr: `invalid value "soon" for flag -invite-ttl`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			got, err := Parse(fs, tt.args, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := defaults()
			tt.want(&want)
			if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Config{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEveryVariableHasAFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var c Config
	c.BindFlags(fs)
	var got []string
	fs.VisitAll(func(f *flag.Flag) { got = append(got, f.Name) })
	want := []string{
		"accept-url", "audit-signing-key", "broker-url", "check-index-size", "check-max-staleness", "check-scope", "check-services", "debug-addr", "dev-login", "esdb-url", "event-store", "expiry-poll", "http-addr", "instance-id", "invite-key", "invite-ttl",
		"jwks-url", "jwt-audience", "jwt-issuer", "jwt-max-lifetime", "jwt-secret", "lease-ttl",
		"limit-commands-per-account-second", "limit-invitations-per-actor-hour", "limit-invitations-per-property-day",
		"limit-new-emails-per-property-day", "limit-token-failures-per-ip-minute", "log-format", "log-level",
		"long-reads-per-caller", "long-reads-total", "mail-from", "mail-lease",
		"oidc-client-id", "oidc-issuer", "operators", "pg-url", "smtp-url",
		"webhook-allow-http", "webhook-allow-private", "webhook-retry-horizon", "webhook-timeout",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	c := defaults()
	c.PGURL = "postgres://app:pgpass@db/roster"
	c.SMTPURL = "smtp://mailer:mailpass@smtp:25"
	c.InviteKey = "fedcba9876543210fedcba9876543210"
	r := c.Redacted()
	dump := strings.Join([]string{r.JWTSecret, r.InviteKey, r.PGURL, r.SMTPURL}, " ")
	for _, secret := range []string{devSecret, c.InviteKey, "pgpass", "mailpass"} {
		if strings.Contains(dump, secret) {
			t.Errorf("redacted config still holds %q: %s", secret, dump)
		}
	}
	if r.HTTPAddr != c.HTTPAddr || !strings.Contains(r.PGURL, "app:xxxxx@db/roster") {
		t.Errorf("redaction changed more than secrets: %+v", r)
	}
	if c.JWTSecret != devSecret {
		t.Error("Redacted modified its receiver")
	}
}

func TestAuditSigningKey(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	key := ed25519.NewKeyFromSeed(seed)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	mismatched := append(bytes.Clone(key.Seed()), other.Public().(ed25519.PublicKey)...)
	tests := []struct {
		name    string
		value   string
		want    ed25519.PrivateKey
		wantErr string
	}{
		{"unset leaves heads unsigned", "", nil, ""},
		{"the 32-byte seed in standard base64", base64.StdEncoding.EncodeToString(seed), key, ""},
		{"the 64-byte private key in standard base64", base64.StdEncoding.EncodeToString(key), key, ""},
		{"the seed in URL-safe base64 without padding, with spaces around", " " + base64.RawURLEncoding.EncodeToString(seed) + "\n", key, ""},
		{"a value that is not base64", "not a key!", nil, "ROSTER_AUDIT_SIGNING_KEY: is not base64"},
		{"a key of another size", base64.StdEncoding.EncodeToString([]byte("sixteen byte key")), nil,
			"ROSTER_AUDIT_SIGNING_KEY: decodes to 16 bytes; want base64 of a 32-byte Ed25519 seed or a 64-byte private key"},
		{"a 64-byte key whose public half is another key's", base64.StdEncoding.EncodeToString(mismatched), nil,
			"ROSTER_AUDIT_SIGNING_KEY: is 64 bytes but not an Ed25519 private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_AUDIT_SIGNING_KEY": tt.value}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Count(err.Error(), "\n") != 0 {
					t.Fatalf("Load error = %v, want only %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), strings.TrimSpace(tt.value)) {
					t.Errorf("error echoes the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got, err := c.AuditKey()
			if err != nil || !got.Equal(tt.want) && !(got == nil && tt.want == nil) {
				t.Errorf("AuditKey() = %x, %v; want %x", got, err, tt.want)
			}
			if r := c.Redacted(); tt.value != "" && r.AuditSigningKey != "[redacted]" {
				t.Errorf("Redacted keeps the signing key: %q", r.AuditSigningKey)
			}
		})
	}
}

func TestOperators(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    []string
		wantErr string
	}{
		{"unset allows nobody", "", nil, ""},
		{"one account", "acc-1", []string{"acc-1"}, ""},
		{"several, trimmed", " acc-1 , auth0|42,acc-3 ", []string{"acc-1", "auth0|42", "acc-3"}, ""},
		{"an empty entry is refused", "acc-1,,acc-2", nil, "ROSTER_OPERATORS: entry 2 is empty"},
		{"a trailing comma is refused", "acc-1,", nil, "ROSTER_OPERATORS: entry 2 is empty"},
		{"a missing comma is refused", "acc-1 acc-2", nil, `ROSTER_OPERATORS: entry "acc-1 acc-2" holds a space`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_OPERATORS": tt.value}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.want, c.Operators); diff != "" {
				t.Errorf("operators (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a flag overrides the variable", func(t *testing.T) {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		c, err := Parse(fs, []string{"-operators", "acc-9"}, env(map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_OPERATORS": "acc-1,,"}))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if diff := cmp.Diff([]string{"acc-9"}, c.Operators); diff != "" {
			t.Errorf("operators (-want +got):\n%s", diff)
		}
	})
}

func TestDebugAddr(t *testing.T) {
	tests := []struct {
		name, value, wantErr string
	}{
		{"unset serves no profiles", "", ""},
		{"loopback IPv4", "127.0.0.1:6060", ""},
		{"loopback IPv6", "[::1]:6060", ""},
		{"localhost", "localhost:6060", ""},
		{"every interface is refused", ":6060", "ROSTER_DEBUG_ADDR: \":6060\" is not a loopback address"},
		{"a public address is refused", "10.0.0.5:6060", "is not a loopback address"},
		{"no port is refused", "127.0.0.1", "is not host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_DEBUG_ADDR": tt.value}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.DebugAddr != tt.value {
				t.Fatalf("Load = %q, %v; want %q", c.DebugAddr, err, tt.value)
			}
		})
	}
}

func TestLongReads(t *testing.T) {
	tests := []struct {
		name, perCaller, total string
		want                   [2]int
		wantErr                string
	}{
		{"unset takes the defaults", "", "", [2]int{2, 8}, ""},
		{"both given", "1", "4", [2]int{1, 4}, ""},
		{"per account equal to the total", "5", "5", [2]int{5, 5}, ""},
		{"zero takes the default, as for every setting", "0", "0", [2]int{2, 8}, ""},
		{"a negative bound per account is refused", "-1", "", [2]int{}, "ROSTER_LONG_READS_PER_CALLER: -1 is not at least 1"},
		{"a negative total is refused", "", "-3", [2]int{}, "ROSTER_LONG_READS_TOTAL: -3 is not at least 1"},
		{"no number is refused", "two", "", [2]int{}, `ROSTER_LONG_READS_PER_CALLER: "two" is not a whole number`},
		{"per account above the total is refused", "9", "4", [2]int{}, "ROSTER_LONG_READS_PER_CALLER: 9 is more than ROSTER_LONG_READS_TOTAL (4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"ROSTER_JWT_SECRET": devSecret,
				"ROSTER_LONG_READS_PER_CALLER": tt.perCaller, "ROSTER_LONG_READS_TOTAL": tt.total}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if got := [2]int{c.LongReadsPerCaller, c.LongReadsTotal}; err != nil || got != tt.want {
				t.Fatalf("Load = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Limits
		wantErr string
	}{
		{"unset takes the defaults", nil, Limits{100, 1000, 500, 20, 10}, ""},
		{"each given", map[string]string{"ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR": "1", "ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY": "2",
			"ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY": "3", "ROSTER_LIMIT_COMMANDS_PER_ACCOUNT_SECOND": "4", "ROSTER_LIMIT_TOKEN_FAILURES_PER_IP_MINUTE": "5"},
			Limits{1, 2, 3, 4, 5}, ""},
		{"zero takes the default", map[string]string{"ROSTER_LIMIT_COMMANDS_PER_ACCOUNT_SECOND": "0"}, Limits{100, 1000, 500, 20, 10}, ""},
		{"a negative limit is refused", map[string]string{"ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR": "-1"}, Limits{},
			"ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR: -1 is not from 1 to 10000000"},
		{"a limit too large is refused", map[string]string{"ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY": "10000001"}, Limits{},
			"ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY: 10000001 is not from 1 to 10000000"},
		{"no number is refused", map[string]string{"ROSTER_LIMIT_TOKEN_FAILURES_PER_IP_MINUTE": "ten"}, Limits{},
			`ROSTER_LIMIT_TOKEN_FAILURES_PER_IP_MINUTE: "ten" is not a whole number`},
		{"a fraction is refused", map[string]string{"ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY": "1.5"}, Limits{},
			`ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY: "1.5" is not a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{"ROSTER_JWT_SECRET": devSecret}
			for k, v := range tt.env {
				e[k] = v
			}
			c, err := Load(env(e))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.Limits != tt.want {
				t.Fatalf("Load = %+v, %v; want %+v", c.Limits, err, tt.want)
			}
		})
	}
}
