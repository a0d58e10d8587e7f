package config

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	oidcIssuer = "https://id.example.com/"
	inviteKey  = "fedcba9876543210fedcba9876543210"
)

func TestSignInSettings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want func(*Config)
	}{
		{
			name: "development sign-in on loopback beside the secret",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_DEV_LOGIN": "true"},
			want: func(c *Config) { c.DevLogin = true },
		},
		{
			name: "development sign-in on localhost and on IPv6 loopback",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_DEV_LOGIN": "1", "ROSTER_HTTP_ADDR": "[::1]:8080"},
			want: func(c *Config) { c.DevLogin = true; c.HTTPAddr = "[::1]:8080" },
		},
		{
			name: "false turns development sign-in off",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_DEV_LOGIN": "false", "ROSTER_HTTP_ADDR": ":8080"},
			want: func(c *Config) { c.HTTPAddr = ":8080" },
		},
		{
			name: "the ID tokens' issuer and audience follow the OIDC settings",
			env:  map[string]string{"ROSTER_OIDC_ISSUER": oidcIssuer, "ROSTER_OIDC_CLIENT_ID": "dashboard", "ROSTER_INVITE_KEY": inviteKey},
			want: func(c *Config) {
				c.JWTSecret, c.InviteKey = "", inviteKey
				c.OIDCIssuer, c.OIDCClientID, c.JWTIssuer, c.JWTAudience = oidcIssuer, "dashboard", oidcIssuer, "dashboard"
			},
		},
		{
			name: "the same issuer and audience given explicitly are accepted",
			env: map[string]string{"ROSTER_OIDC_ISSUER": oidcIssuer, "ROSTER_OIDC_CLIENT_ID": "dashboard", "ROSTER_INVITE_KEY": inviteKey,
				"ROSTER_JWT_ISSUER": oidcIssuer, "ROSTER_JWT_AUDIENCE": "dashboard", "ROSTER_JWKS_URL": "https://id.example.com/keys"},
			want: func(c *Config) {
				c.JWTSecret, c.InviteKey, c.JWKSURL = "", inviteKey, "https://id.example.com/keys"
				c.OIDCIssuer, c.OIDCClientID, c.JWTIssuer, c.JWTAudience = oidcIssuer, "dashboard", oidcIssuer, "dashboard"
			},
		},
		{
			name: "plain http is accepted for a provider on loopback",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_OIDC_ISSUER": "http://localhost:9998/", "ROSTER_OIDC_CLIENT_ID": "native"},
			want: func(c *Config) {
				c.OIDCIssuer, c.OIDCClientID, c.JWTIssuer, c.JWTAudience = "http://localhost:9998/", "native", "http://localhost:9998/", "native"
			},
		},
		{
			name: "OIDC flags move the expected issuer and audience along",
			env:  map[string]string{"ROSTER_JWT_SECRET": devSecret},
			args: []string{"-oidc-issuer", oidcIssuer, "-oidc-client-id", "dashboard"},
			want: func(c *Config) {
				c.OIDCIssuer, c.OIDCClientID, c.JWTIssuer, c.JWTAudience = oidcIssuer, "dashboard", oidcIssuer, "dashboard"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			got, err := Parse(fs, tt.args, env(tt.env))
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

func TestSignInSettingsRefused(t *testing.T) {
	dev := func(kv ...string) map[string]string {
		m := map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_DEV_LOGIN": "true"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	oidc := func(kv ...string) map[string]string {
		m := map[string]string{"ROSTER_OIDC_ISSUER": oidcIssuer, "ROSTER_OIDC_CLIENT_ID": "dashboard", "ROSTER_INVITE_KEY": inviteKey}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string // each must appear, and nothing else
	}{
		{"development sign-in is refused beside a JWKS", dev("ROSTER_JWKS_URL", "https://id.example.com/keys"),
			[]string{"ROSTER_DEV_LOGIN: is refused with ROSTER_JWKS_URL"}},
		{"development sign-in is refused on every interface", dev("ROSTER_HTTP_ADDR", ":8080"),
			[]string{`ROSTER_DEV_LOGIN: is refused on ROSTER_HTTP_ADDR ":8080": development sign-in listens on loopback only`}},
		{"development sign-in is refused on 0.0.0.0", dev("ROSTER_HTTP_ADDR", "0.0.0.0:8080"),
			[]string{`ROSTER_DEV_LOGIN: is refused on ROSTER_HTTP_ADDR "0.0.0.0:8080"`}},
		{"development sign-in is refused on a public address", dev("ROSTER_HTTP_ADDR", "192.0.2.7:8080"),
			[]string{`ROSTER_DEV_LOGIN: is refused on ROSTER_HTTP_ADDR "192.0.2.7:8080"`}},
		{"development sign-in needs the secret that signs its tokens", dev("ROSTER_JWT_SECRET", "", "ROSTER_INVITE_KEY", inviteKey, "ROSTER_OIDC_ISSUER", oidcIssuer, "ROSTER_OIDC_CLIENT_ID", "dashboard"),
			[]string{"ROSTER_DEV_LOGIN: needs ROSTER_JWT_SECRET", "ROSTER_DEV_LOGIN: is refused with ROSTER_OIDC_ISSUER"}},
		{"development sign-in takes true or false only", dev("ROSTER_DEV_LOGIN", "yes please"),
			[]string{`ROSTER_DEV_LOGIN: "yes please" is not true or false`}},
		{"an OIDC issuer needs its client", oidc("ROSTER_OIDC_CLIENT_ID", ""),
			[]string{"ROSTER_OIDC_CLIENT_ID: is required with ROSTER_OIDC_ISSUER"}},
		{"an OIDC client needs its issuer", map[string]string{"ROSTER_JWT_SECRET": devSecret, "ROSTER_OIDC_CLIENT_ID": "dashboard"},
			[]string{"ROSTER_OIDC_ISSUER: is required with ROSTER_OIDC_CLIENT_ID"}},
		{"an OIDC issuer over plain http elsewhere is refused", oidc("ROSTER_OIDC_ISSUER", "http://id.example.com/"),
			[]string{"ROSTER_OIDC_ISSUER: http://id.example.com/ is plain http on another machine"}},
		{"an OIDC issuer that is no URL is refused", oidc("ROSTER_OIDC_ISSUER", "id.example.com"),
			[]string{`ROSTER_OIDC_ISSUER: URL scheme "" is not https or http`}},
		{"a token issuer other than the provider's is refused", oidc("ROSTER_JWT_ISSUER", "roster"),
			[]string{`ROSTER_JWT_ISSUER: is "roster" but the ID tokens of ROSTER_OIDC_ISSUER carry iss "https://id.example.com/"`}},
		{"a token audience other than the client is refused", oidc("ROSTER_JWT_AUDIENCE", "roster"),
			[]string{`ROSTER_JWT_AUDIENCE: is "roster" but the ID tokens of ROSTER_OIDC_CLIENT_ID carry aud "dashboard"`}},
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
			if n := strings.Count(msg, "\n") + 1; n != len(tt.want) {
				t.Errorf("error has %d problems, want %d:\n%s", n, len(tt.want), msg)
			}
		})
	}
}

func TestAcceptPage(t *testing.T) {
	tests := []struct {
		name, addr, acceptURL, want string
	}{
		{"the configured page wins", "127.0.0.1:8080", "https://app.example.com/join", "https://app.example.com/join"},
		{"the server's own /accept page by default", "127.0.0.1:8080", "", "http://127.0.0.1:8080/accept"},
		{"a host name is kept", "localhost:9000", "", "http://localhost:9000/accept"},
		{"every interface is reached through loopback", ":8080", "", "http://127.0.0.1:8080/accept"},
		{"an unspecified IPv6 address too", "[::]:8080", "", "http://127.0.0.1:8080/accept"},
		{"an IPv6 host is bracketed", "[::1]:8080", "", "http://[::1]:8080/accept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults()
			c.HTTPAddr, c.AcceptURL = tt.addr, tt.acceptURL
			if got := c.AcceptPage(); got != tt.want {
				t.Errorf("AcceptPage() = %q, want %q", got, tt.want)
			}
		})
	}
}
