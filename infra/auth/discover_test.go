package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// provider serves a discovery document that edit may change; its issuer
// is the server's own URL with a trailing slash, as many providers have.
func provider(t *testing.T, edit func(doc map[string]any)) string {
	t.Helper()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		doc := map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "authorize", "token_endpoint": issuer + "oauth/token",
			"jwks_uri": issuer + "keys", "end_session_endpoint": issuer + "end_session",
			"code_challenge_methods_supported": []string{"S256"},
		}
		if edit != nil {
			edit(doc)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL + "/"
	return issuer
}

func TestDiscoverReadsTheEndpoints(t *testing.T) {
	issuer := provider(t, nil)
	got, err := Discover(context.Background(), issuer, nil)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	want := Provider{Issuer: issuer, AuthorizationEndpoint: issuer + "authorize", TokenEndpoint: issuer + "oauth/token",
		JWKSURL: issuer + "keys", EndSessionEndpoint: issuer + "end_session"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("provider (-want +got):\n%s", diff)
	}
}

func TestDiscoverRefusesAProviderTheDashboardCannotUse(t *testing.T) {
	tests := []struct {
		name string
		edit func(doc map[string]any)
		want string
	}{
		{"a document naming another issuer", func(d map[string]any) { d["issuer"] = "https://elsewhere.example.com/" }, "issuer"},
		{"no token endpoint", func(d map[string]any) { delete(d, "token_endpoint") }, "has no token_endpoint"},
		{"no keys", func(d map[string]any) { delete(d, "jwks_uri") }, "has no jwks_uri"},
		{"PKCE without S256", func(d map[string]any) { d["code_challenge_methods_supported"] = []string{"plain"} }, "not S256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Discover(context.Background(), provider(t, tt.edit), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Discover error = %v, want one saying %q", err, tt.want)
			}
		})
	}
	t.Run("a provider that does not answer", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		if _, err := Discover(context.Background(), srv.URL, nil); err == nil || !strings.Contains(err.Error(), "discover") {
			t.Fatalf("Discover error = %v, want one saying discovery failed", err)
		}
	})
}
