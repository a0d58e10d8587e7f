package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rosterhq/roster/infra/auth"
)

// TestTokenCommandMintsTheDashboardsAccountByDefault: roster token without
// -sub gives the account the dashboard's development sign-in gives the
// email, so what make run's curl line creates shows on the page.
func TestTokenCommandMintsTheDashboardsAccountByDefault(t *testing.T) {
	env := func(k string) string {
		if k == "ROSTER_JWT_SECRET" {
			return testSecret
		}
		return ""
	}
	tests := []struct {
		name    string
		args    []string
		wantSub string
		wantErr string
	}{
		{"the email's development account", []string{"--email", " Owner@Example.com "}, auth.DevAccountID("owner@example.com"), ""},
		{"an account given with -sub", []string{"--sub", "acc-7", "--email", "owner@example.com"}, "acc-7", ""},
		{"no email", []string{"--sub", "acc-7"}, "", "-email is required"},
		{"an email that is no address", []string{"--email", "owner@@example"}, "", `email "owner@@example" is not valid`},
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"token"}, tt.args...), env, &out, &errOut)
			if tt.wantErr != "" {
				if code == 0 || !strings.Contains(errOut.String(), tt.wantErr) || out.Len() != 0 {
					t.Fatalf("exit %d, stderr %q, stdout %q; want a failure saying %q and no token", code, errOut.String(), out.String(), tt.wantErr)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			c, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
			if err != nil || c.Subject != tt.wantSub {
				t.Errorf("token for %q (%v), want sub %s", c.Subject, err, tt.wantSub)
			}
		})
	}
}

// TestServeRefusesDevelopmentSignInWhereOthersCouldUseIt: roster serve
// does not start with ROSTER_DEV_LOGIN beside a real identity provider or
// on an address other than loopback, and says why.
func TestServeRefusesDevelopmentSignInWhereOthersCouldUseIt(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"beside a JWKS", map[string]string{"ROSTER_JWKS_URL": "https://id.example.com/keys"}, "ROSTER_DEV_LOGIN: is refused with ROSTER_JWKS_URL"},
		{"on every interface", map[string]string{"ROSTER_HTTP_ADDR": ":18097"}, `ROSTER_DEV_LOGIN: is refused on ROSTER_HTTP_ADDR ":18097"`},
		{"on another machine's address", map[string]string{"ROSTER_HTTP_ADDR": "192.0.2.10:18097"}, "development sign-in listens on loopback only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"ROSTER_JWT_SECRET": testSecret, "ROSTER_DEV_LOGIN": "true", "ROSTER_PG_URL": "postgres://nobody@127.0.0.1:1/none"}
			for k, v := range tt.env {
				env[k] = v
			}
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &out, &errOut)
			if code == 0 || !strings.Contains(errOut.String(), tt.want) || strings.Contains(out.String(), "serving") {
				t.Errorf("exit %d, stderr %q, stdout %q; want a refusal saying %q before serving", code, errOut.String(), out.String(), tt.want)
			}
		})
	}
}
