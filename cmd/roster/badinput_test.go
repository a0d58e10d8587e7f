package main

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fixture is a property with an owner, an agent and a pending invitation,
// plus accounts that are no members, for requests that must write nothing.
type fixture struct {
	app                               *testApp
	owner, agent, invitee, outsider   user
	pid, pendingIID, pendingToken, at string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	app := startApp(t)
	f := &fixture{app: app, owner: app.user(t, "owner"), agent: app.user(t, "agent"),
		invitee: app.user(t, "invitee"), outsider: app.user(t, "outsider")}
	f.pid = app.createProperty(t, f.owner, "Fixture").PropertyID
	inv := app.invite(t, f.owner, f.pid, map[string]string{"email": f.agent.Email, "role": "agent"},
		map[string]string{"email": f.invitee.Email, "role": "agent"})
	f.pendingIID, f.pendingToken = inv.Invitations[1].ID, app.inviteToken(t, f.invitee.Email)
	f.at = app.accept(t, f.agent, f.pid, inv.Invitations[0].ID).Position
	return f
}

// state is everything a bad request could have changed.
type state struct {
	Events      int
	Property    map[string]any
	Members     map[string]any
	Invitations map[string]any
}

func (f *fixture) state(t *testing.T) state {
	t.Helper()
	var s state
	p := "/v1/properties/" + f.pid
	s.Property = f.app.read(t, p, f.owner.Token, f.at).want(t, http.StatusOK).Body
	s.Members = f.app.read(t, p+"/members", f.owner.Token, f.at).want(t, http.StatusOK).Body
	s.Invitations = f.app.read(t, p+"/invitations?status=all", f.owner.Token, f.at).want(t, http.StatusOK).Body
	// Counted after the reads above waited for f.at: the PostgreSQL feed
	// holds an event back while any older transaction on the server is
	// open, and by then everything up to f.at is readable.
	s.Events = len(f.app.storedEvents(t))
	return s
}

// badRequest is one request that must be refused with status and code, and
// whose detail, when given, must name the offending value.
type badRequest struct {
	name, method, path, token string
	body                      any
	header                    map[string]string
	status                    int
	code, detail              string
}

// refuseAll sends every request, checks each refusal, and checks that the
// stream and the read models are as they were before.
func (f *fixture) refuseAll(t *testing.T, reqs []badRequest) {
	before := f.state(t)
	for _, rq := range reqs {
		t.Run(rq.name, func(t *testing.T) {
			r := f.app.do(t, rq.method, rq.path, rq.token, rq.body, rq.header)
			r.wantProblem(t, rq.status, rq.code)
			if !strings.Contains(r.str("detail"), rq.detail) {
				t.Errorf("detail %q does not name %q", r.str("detail"), rq.detail)
			}
			if rq.status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if diff := cmp.Diff(before, f.state(t)); diff != "" {
		t.Errorf("refused requests changed the property (-before +after):\n%s", diff)
	}
}

// commandRoute is a command route with a body it would accept from caller.
type commandRoute struct {
	name, method, path string
	caller             user
	body               string // "" for routes that take no body
}

func (f *fixture) routes() []commandRoute {
	p, inv, agent := "/v1/properties/"+f.pid, "/v1/properties/"+f.pid+"/invitations/"+f.pendingIID, "/members/"+f.agent.ID
	const wh = "/webhooks/7c1de0a4-56f8-4c8b-9a0e-0d3f5b2a9e61"
	return []commandRoute{
		{"create property", http.MethodPost, "/v1/properties", f.outsider, `{"name":"Another"}`},
		{"invite", http.MethodPost, p + "/invitations", f.owner, `{"email":"new@example.com","role":"agent"}`},
		{"import members", http.MethodPost, p + "/members/import", f.owner, `{"members":[{"account_id":"acc-new","email":"new@example.com","role":"agent"}]}`},
		{"resend", http.MethodPost, inv + "/resend", f.owner, ""},
		{"revoke one", http.MethodDelete, inv, f.owner, ""},
		{"revoke selection", http.MethodPost, p + "/invitations/revoke", f.owner, `{"ids":["` + f.pendingIID + `"]}`},
		{"accept by token", http.MethodPost, "/v1/invitations/accept", f.invitee, `{"token":"` + f.pendingToken + `"}`},
		{"accept from dashboard", http.MethodPost, inv + "/accept", f.invitee, ""},
		{"decline", http.MethodPost, inv + "/decline", f.invitee, ""},
		{"change role", http.MethodPut, p + agent + "/role", f.owner, `{"role":"admin"}`},
		{"disable", http.MethodPost, p + agent + "/disable", f.owner, ""},
		{"enable", http.MethodPost, p + agent + "/enable", f.owner, ""},
		{"remove", http.MethodDelete, p + agent, f.owner, ""},
		{"leave", http.MethodPost, p + "/leave", f.agent, ""},
		{"transfer ownership", http.MethodPost, p + "/ownership", f.owner, `{"account_id":"` + f.agent.ID + `"}`},
		{"set invitation policy", http.MethodPut, p + "/invitation-policy", f.owner, `{"default_lifetime":86400,"maximum_lifetime":604800}`},
		// Every request below is refused before the endpoint is looked up.
		{"create webhook", http.MethodPost, p + "/webhooks", f.owner, `{"url":"https://hooks.example.com/"}`},
		{"update webhook", http.MethodPatch, p + wh, f.owner, `{"description":"CRM"}`},
		{"disable webhook", http.MethodPost, p + wh + "/disable", f.owner, ""},
		{"enable webhook", http.MethodPost, p + wh + "/enable", f.owner, ""},
		{"rotate webhook secret", http.MethodPost, p + wh + "/rotate-secret", f.owner, ""},
		{"delete webhook", http.MethodDelete, p + wh, f.owner, ""},
		{"redeliver", http.MethodPost, p + wh + "/deliveries/1/redeliver", f.owner, ""},
		{"replay", http.MethodPost, p + wh + "/replay", f.owner, `{"since":"2026-01-01T00:00:00Z"}`},
		{"create role", http.MethodPost, p + "/roles", f.owner, `{"name":"Lead","permissions":["respond_to_chats"]}`},
		{"edit role", http.MethodPatch, p + "/roles/role-7c1de0a4-56f8-4c8b-9a0e-0d3f5b2a9e61", f.owner, `{"name":"Lead"}`},
		{"delete role", http.MethodDelete, p + "/roles/role-7c1de0a4-56f8-4c8b-9a0e-0d3f5b2a9e61", f.owner, ""},
	}
}

// TestBadRequestsOnEveryCommandRouteWriteNothing sends every command route
// the bad credentials, headers and bodies that must be refused before the
// command runs.
func TestBadRequestsOnEveryCommandRouteWriteNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	o := f.owner
	tokens := []struct{ name, token string }{
		{"an expired token", mint(t, testSecret, "roster", "roster", o.ID, o.Email, true, time.Hour, now.Add(-2*time.Hour))},
		{"a token signed with another secret", mint(t, strings.Repeat("x", 40), "roster", "roster", o.ID, o.Email, true, time.Hour, now)},
		{"an alg none token", algNone(o)},
		{"a token from another issuer", mint(t, testSecret, "someone-else", "roster", o.ID, o.Email, true, time.Hour, now)},
		{"a token for another audience", mint(t, testSecret, "roster", "another-api", o.ID, o.Email, true, time.Hour, now)},
		{"a token that is not a JWT", "not-a-jwt"},
	}
	huge := `{"name":"` + strings.Repeat("a", 65<<10) + `"}`
	var reqs []badRequest
	for _, rt := range f.routes() {
		add := func(rule string, token string, body any, header map[string]string, status int, code string) {
			reqs = append(reqs, badRequest{name: rt.name + ": " + rule, method: rt.method, path: rt.path, token: token,
				body: body, header: header, status: status, code: code})
		}
		var valid any // nil sends no body
		if rt.body != "" {
			valid = rt.body
		}
		add("no token is refused", "", valid, nil, http.StatusUnauthorized, "unauthenticated")
		add("basic credentials are refused", "", valid, map[string]string{"Authorization": "Basic b3duZXI6cHc="}, http.StatusUnauthorized, "unauthenticated")
		for _, tk := range tokens {
			add(tk.name+" is refused", tk.token, valid, nil, http.StatusUnauthorized, "unauthenticated")
		}
		if rt.name == "import members" {
			// An import of a thousand rows takes a body of its own size.
			add("a body over 640 KiB is too large", rt.caller.Token, `{"name":"`+strings.Repeat("a", 641<<10)+`"}`, nil, http.StatusRequestEntityTooLarge, "body_too_large")
		} else {
			add("a body over 64 KiB is too large", rt.caller.Token, huge, nil, http.StatusRequestEntityTooLarge, "body_too_large")
		}
		add("a body that is not JSON is refused", rt.caller.Token, valid, map[string]string{"Content-Type": "text/plain"}, http.StatusBadRequest, "invalid_header")
		add("malformed JSON is refused", rt.caller.Token, `{"name":`, nil, http.StatusBadRequest, "malformed_json")
		add("a bad If-Match is refused", rt.caller.Token, valid, map[string]string{"If-Match": "yesterday"}, http.StatusBadRequest, "invalid_header")
		add("a bad Idempotency-Key is refused", rt.caller.Token, valid, map[string]string{"Idempotency-Key": "two words"}, http.StatusBadRequest, "invalid_header")
		if rt.body == "" {
			add("a body is refused where none is taken", rt.caller.Token, `{"role":"admin"}`, nil, http.StatusBadRequest, "unknown_field")
			continue
		}
		add("an empty body is refused", rt.caller.Token, "", nil, http.StatusBadRequest, "malformed_json")
		add("an unknown field is refused", rt.caller.Token, `{"surprise":true}`, nil, http.StatusBadRequest, "unknown_field")
		add("data after the JSON value is refused", rt.caller.Token, rt.body+` {}`, nil, http.StatusBadRequest, "malformed_json")
		add("a JSON array is refused where an object is due", rt.caller.Token, `[{"x":1}]`, nil, http.StatusBadRequest, wantArrayCode(rt.name))
	}
	f.refuseAll(t, reqs)
}

// wantArrayCode: invite takes a bare array of rows, so an array of rows with
// an unknown field is refused for that field.
func wantArrayCode(route string) string {
	if route == "invite" {
		return "unknown_field"
	}
	return "malformed_json"
}

// algNone is an unsigned token (alg "none") carrying u's claims.
func algNone(u user) string {
	enc := base64.RawURLEncoding.EncodeToString
	now := time.Now().Unix()
	claims := `{"iss":"roster","aud":["roster"],"sub":"` + u.ID + `","email":"` + u.Email +
		`","email_verified":true,"iat":` + strconv.FormatInt(now, 10) + `,"exp":` + strconv.FormatInt(now+3600, 10) + `}`
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "."
}
