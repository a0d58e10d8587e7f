package main

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMyInvitationsNeedAVerifiedEmail: anyone can claim an address, so an
// unverified one sees no invitations (docs/ARCHITECTURE.md, invariant 5).
func TestMyInvitationsNeedAVerifiedEmail(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner, pat := app.user(t, "owner"), app.user(t, "pat")
	pid := app.createProperty(t, owner, "Acme").PropertyID
	pos := app.invite(t, owner, pid, map[string]string{"email": pat.Email, "role": "agent"}).Position
	tests := []struct {
		name     string
		token    string
		verified bool
		count    int
	}{
		{"a verified invitee sees the invitation", pat.Token, true, 1},
		{"an unverified invitee sees none", pat.unverified(t), false, 0},
		{"another account sees none", owner.Token, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				Invitations   []myInvitation `json:"invitations"`
				EmailVerified bool           `json:"email_verified"`
			}
			app.read(t, "/v1/me/invitations", tt.token, pos).want(t, http.StatusOK).into(t, &got)
			if len(got.Invitations) != tt.count || got.EmailVerified != tt.verified || got.Invitations == nil {
				t.Errorf("got %+v: want %d invitations (a list, not null), email_verified %v", got, tt.count, tt.verified)
			}
		})
	}
}

// TestRoutesAnswerInProblemsAndProbes covers what is not a property: unknown
// routes and methods, health probes, and the consistency header.
func TestRoutesAnswerInProblemsAndProbes(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner := app.user(t, "owner")
	created := app.createProperty(t, owner, "Acme")
	p := "/v1/properties/" + created.PropertyID

	problems := []struct {
		name, method, path, token string
		header                    map[string]string
		status                    int
		code                      string
	}{
		{"an unknown route is not found", "GET", "/v1/nothing-here", owner.Token, nil, 404, "route_not_found"},
		{"an unknown route outside v1 is not found", "GET", "/nothing-here", "", nil, 404, "route_not_found"},
		{"an unknown method on a property is not allowed", "PATCH", p, owner.Token, nil, 405, "method_not_allowed"},
		{"a wrong method on the properties collection is not allowed", "DELETE", "/v1/properties", owner.Token, nil, 405, "method_not_allowed"},
		{"a query without a token is refused", "GET", p + "/members", "", nil, 401, "unauthenticated"},
		{"a malformed Roster-Min-Position is refused", "GET", p, owner.Token, map[string]string{"Roster-Min-Position": "soon"}, 400, "invalid_header"},
		{"a query refuses a bad Roster-Min-Position on my invitations too", "GET", "/v1/me/invitations", owner.Token, map[string]string{"Roster-Min-Position": "1"}, 400, "invalid_header"},
	}
	for _, tt := range problems {
		t.Run(tt.name, func(t *testing.T) {
			app.do(t, tt.method, tt.path, tt.token, nil, tt.header).wantProblem(t, tt.status, tt.code)
		})
	}

	probes := []struct{ path, want string }{{"/healthz", "ok"}, {"/readyz", "ready"}}
	for _, tt := range probes {
		t.Run(tt.path+" answers without a token", func(t *testing.T) {
			r := app.do(t, http.MethodGet, tt.path, "", nil, nil).want(t, http.StatusOK)
			if diff := cmp.Diff(map[string]any{"status": tt.want}, r.Body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a query answers the position it reached", func(t *testing.T) {
		r := app.read(t, p, owner.Token, created.Position).want(t, http.StatusOK)
		if r.Header.Get("Roster-Position") == "" {
			t.Error("no Roster-Position on a query answer")
		}
	})
	t.Run("a position the read side never reaches is answered as stale after the bounded wait", func(t *testing.T) {
		r := app.do(t, http.MethodGet, p, owner.Token, nil, map[string]string{"Roster-Min-Position": "18446744073709551615.0"}).want(t, http.StatusOK)
		if r.Header.Get("Roster-Consistency") != "stale" {
			t.Errorf("Roster-Consistency %q, want stale", r.Header.Get("Roster-Consistency"))
		}
	})
	t.Run("a JSON content type with parameters is JSON", func(t *testing.T) {
		h := map[string]string{"Content-Type": "application/json; charset=utf-8"}
		app.do(t, http.MethodPost, "/v1/properties", owner.Token, `{"name":"Charset"}`, h).want(t, http.StatusCreated)
	})
	t.Run("the caller's request ID is echoed in problems", func(t *testing.T) {
		r := app.do(t, http.MethodGet, "/v1/nothing-here", owner.Token, nil, map[string]string{"X-Request-ID": "trace-42"})
		if r.str("request_id") != "trace-42" || r.Header.Get("X-Request-ID") != "trace-42" {
			t.Errorf("request id %q, header %q: want trace-42", r.str("request_id"), r.Header.Get("X-Request-ID"))
		}
	})
}
