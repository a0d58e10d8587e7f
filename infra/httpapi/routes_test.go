package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
)

// testAPI is the API with no command handlers or read models behind it: the
// requests sent to it are answered before any would be used.
func testAPI() http.Handler {
	return New(Config{Log: zerolog.Nop(), Authenticate: func(context.Context, string) (domain.Actor, error) {
		return domain.Actor{AccountID: "a1", Email: "a@example.com", EmailVerified: true}, nil
	}})
}

// TestWrongMethodOnAKnownPathIsNotAllowed: every path of the API (openapi.yaml)
// answers a method it does not serve with 405 and an Allow header (RFC 9110
// section 15.5.6), not with 404 as if the path did not exist.
func TestWrongMethodOnAKnownPathIsNotAllowed(t *testing.T) {
	const p, i, m = "/v1/properties/p1", "/v1/properties/p1/invitations/i1", "/v1/properties/p1/members/a1"
	tests := []struct {
		path, method, allow string
	}{
		{"/v1/properties", http.MethodGet, "POST"},
		{p, http.MethodDelete, "GET"},
		{p + "/ownership", http.MethodPut, "POST"},
		{p + "/leave", http.MethodGet, "POST"},
		{p + "/invitations", http.MethodDelete, "POST"},
		{p + "/invitations/revoke", http.MethodPut, "POST"},
		{i, http.MethodGet, "DELETE"},
		{i + "/resend", http.MethodGet, "POST"},
		{i + "/accept", http.MethodGet, "POST"},
		{i + "/decline", http.MethodPut, "POST"},
		{"/v1/invitations/accept", http.MethodGet, "POST"},
		{p + "/members", http.MethodPost, "GET"},
		{m + "/role", http.MethodPost, "PUT"},
		{m + "/disable", http.MethodGet, "POST"},
		{m + "/enable", http.MethodDelete, "POST"},
		{m, http.MethodGet, "DELETE"},
		{"/v1/me/invitations", http.MethodPost, "GET"},
		{"/healthz", http.MethodPost, "GET"},
		{"/readyz", http.MethodDelete, "GET"},
	}
	api := testAPI()
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(tt.method, tt.path, nil)
			r.Header.Set("Authorization", "Bearer any")
			api.ServeHTTP(w, r)
			if w.Code != http.StatusMethodNotAllowed || !strings.Contains(w.Body.String(), `"code":"method_not_allowed"`) {
				t.Errorf("answer %d %s, want 405 method_not_allowed", w.Code, strings.TrimSpace(w.Body.String()))
			}
			if allow := w.Header().Get("Allow"); !strings.Contains(allow, tt.allow) {
				t.Errorf("Allow %q, want it to list %s", allow, tt.allow)
			}
		})
	}
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	api := testAPI()
	for _, path := range []string{"/", "/v1", "/v1/", "/v1/properties/p1/nothing", "/v2/properties", "/metricz"} {
		w := httptest.NewRecorder()
		api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"code":"route_not_found"`) {
			t.Errorf("GET %s = %d %s, want 404 route_not_found", path, w.Code, strings.TrimSpace(w.Body.String()))
		}
	}
}

func TestAuthenticateNeedsABearerToken(t *testing.T) {
	check := func(_ context.Context, raw string) (domain.Actor, error) {
		if raw != "good" {
			return domain.Actor{}, errors.New("signature is invalid")
		}
		return domain.Actor{AccountID: "a1"}, nil
	}
	tests := []struct {
		name, header string
		status       int
	}{
		{"a good bearer token passes", "Bearer good", http.StatusOK},
		{"the scheme is case-insensitive", "bearer good", http.StatusOK},
		{"spaces around the token do not matter", "Bearer  good ", http.StatusOK},
		{"no header is refused", "", http.StatusUnauthorized},
		{"a scheme alone is refused", "Bearer", http.StatusUnauthorized},
		{"a scheme with a blank token is refused", "Bearer   ", http.StatusUnauthorized},
		{"basic credentials are refused", "Basic Z29vZA==", http.StatusUnauthorized},
		{"a token without a scheme is refused", "good", http.StatusUnauthorized},
		{"a token the authenticator refuses is refused", "Bearer bad", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var actor domain.Actor
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { actor = actorOf(r.Context()) })
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/v1/me/invitations", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			authenticate(check, nil)(next).ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == http.StatusOK && actor.AccountID != "a1" {
				t.Errorf("actor %+v in the context, want a1", actor)
			}
			if tt.status == http.StatusUnauthorized && (!strings.Contains(w.Body.String(), `"code":"unauthenticated"`) || w.Header().Get("WWW-Authenticate") == "") {
				t.Errorf("refusal %q with WWW-Authenticate %q, want unauthenticated and a challenge", w.Body, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}
