package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
)

// signInAPI is the API with sign-in configured as c; development tokens
// are minted by a stand-in that records the email it was asked for.
func signInAPI(c SignInConfig) http.Handler {
	return New(Config{Log: zerolog.Nop(), SignIn: c, Authenticate: func(context.Context, string) (domain.Actor, error) {
		return domain.Actor{AccountID: "a1", Email: "Ann@Example.com", EmailVerified: true}, nil
	}})
}

func call(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer x")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestSignInConfigTellsThePageHowToSignIn(t *testing.T) {
	oidc := &OIDCSignIn{Issuer: "https://id.example.com/", ClientID: "dashboard", AuthorizationEndpoint: "https://id.example.com/authorize",
		TokenEndpoint: "https://id.example.com/token", Scope: "openid email"}
	mint := func(string, time.Time) (DevToken, error) { return DevToken{}, nil }
	tests := []struct {
		name string
		c    SignInConfig
		want string
	}{
		{"neither", SignInConfig{}, `{"dev_login":false,"oidc":null}`},
		{"development sign-in", SignInConfig{DevLogin: mint}, `{"dev_login":true,"oidc":null}`},
		{"an OpenID provider", SignInConfig{OIDC: oidc}, `{"dev_login":false,"oidc":{"issuer":"https://id.example.com/","client_id":"dashboard",` +
			`"authorization_endpoint":"https://id.example.com/authorize","token_endpoint":"https://id.example.com/token","end_session_endpoint":"","scope":"openid email"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/v1/auth/config", nil) // no token: it is how to get one
			w := httptest.NewRecorder()
			signInAPI(tt.c).ServeHTTP(w, req)
			if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != tt.want {
				t.Errorf("got %d %s, want 200 %s", w.Code, w.Body, tt.want)
			}
		})
	}
}

func TestDevLoginMintsForTheNormalisedEmail(t *testing.T) {
	var asked []string
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	api := New(Config{Log: zerolog.Nop(), Now: func() time.Time { return now }, SignIn: SignInConfig{
		DevLogin: func(email string, at time.Time) (DevToken, error) {
			asked = append(asked, email)
			return DevToken{Token: "t0k", AccountID: "acc-" + email, Email: email, ExpiresAt: at.Add(time.Hour)}, nil
		}}})
	w := call(api, http.MethodPost, "/v1/auth/dev-login", `{"email":"  Ann@Example.COM "}`)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var got DevToken
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := DevToken{Token: "t0k", TokenType: "Bearer", AccountID: "acc-ann@example.com", Email: "ann@example.com", ExpiresAt: now.Add(time.Hour)}
	if diff := cmp.Diff(want, got); diff != "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("token (-want +got):\n%s\nCache-Control %q", diff, w.Header().Get("Cache-Control"))
	}
	if diff := cmp.Diff([]string{"ann@example.com"}, asked); diff != "" {
		t.Errorf("minted for (-want +got):\n%s", diff)
	}
}

func TestDevLoginRefusesBadRequestsAndMintsNothing(t *testing.T) {
	minted := 0
	on := SignInConfig{DevLogin: func(string, time.Time) (DevToken, error) { minted++; return DevToken{}, nil }}
	tests := []struct {
		name   string
		c      SignInConfig
		body   string
		status int
		code   string
	}{
		{"development sign-in that is off", SignInConfig{}, `{"email":"ann@example.com"}`, 404, domain.CodeDevLoginOff},
		{"no email", on, `{}`, 422, domain.CodeInvalidRequest},
		{"an email that is no address", on, `{"email":"ann@@example"}`, 422, domain.CodeInvalidEmail},
		{"a display name with the address", on, `{"email":"Ann <ann@example.com>"}`, 422, domain.CodeInvalidEmail},
		{"another field", on, `{"email":"ann@example.com","admin":true}`, 400, domain.CodeUnknownField},
		{"no JSON", on, `email=ann@example.com`, 400, domain.CodeMalformedJSON},
		{"an empty body", on, ``, 400, domain.CodeMalformedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(signInAPI(tt.c), http.MethodPost, "/v1/auth/dev-login", tt.body)
			var p problem
			_ = json.Unmarshal(w.Body.Bytes(), &p)
			if w.Code != tt.status || p.Code != tt.code {
				t.Errorf("got %d %q, want %d %q: %s", w.Code, p.Code, tt.status, tt.code, w.Body)
			}
		})
	}
	if minted != 0 {
		t.Errorf("%d tokens minted for refused requests", minted)
	}
}

func TestMeAnswersTheTokensAccount(t *testing.T) {
	w := call(signInAPI(SignInConfig{}), http.MethodGet, "/v1/me", "")
	want := `{"account_id":"a1","email":"Ann@Example.com","email_verified":true}`
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != want {
		t.Errorf("got %d %s, want 200 %s", w.Code, w.Body, want)
	}
}

// onePage is a page with one file, at "/".
type onePage struct{}

func (onePage) Serves(path string) bool { return path == "/" }
func (onePage) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	_, _ = w.Write([]byte("<!doctype html>"))
}

func TestPageRoutesServeThePagesFilesAndNothingElse(t *testing.T) {
	with := New(Config{Log: zerolog.Nop(), Dashboard: onePage{}})
	without := New(Config{Log: zerolog.Nop()})
	tests := []struct {
		name   string
		api    http.Handler
		path   string
		status int
	}{
		{"the page's file", with, "/", 200},
		{"a file the page lacks is the API's 404", with, "/assets/nothing.js", 404},
		{"a path the page does not claim", with, "/accept", 404},
		{"no page at all", without, "/", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tt.api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 404 && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("a 404 of %s is %q, want a problem document", tt.path, w.Header().Get("Content-Type"))
			}
		})
	}
}
