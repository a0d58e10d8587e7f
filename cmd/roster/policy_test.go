package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

// policyAnswer is GET .../invitation-policy.
type policyAnswer struct {
	DefaultLifetime int64  `json:"default_lifetime"`
	MaximumLifetime int64  `json:"maximum_lifetime"`
	Source          string `json:"source"`
	MinLifetime     int64  `json:"min_lifetime"`
	MaxLifetime     int64  `json:"max_lifetime"`
}

// timedInvitation is an invitation with its expiry, as an invite answers
// it and GET .../invitations lists it.
type timedInvitation struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	ExpiresAt time.Time `json:"expires_at"`
}

type timedInvitations struct {
	Invitations []timedInvitation `json:"invitations"`
}

// pendingExpiries lists the property's pending invitations once the read
// side has reached pos.
func (a *testApp) pendingExpiries(t *testing.T, pid, token, pos string) []timedInvitation {
	t.Helper()
	var list timedInvitations
	a.read(t, "/v1/properties/"+pid+"/invitations", token, pos).want(t, http.StatusOK).into(t, &list)
	return list.Invitations
}

// TestInvitationPolicyAndLifetimes: admins read and set the property's
// invitation policy; an invitation lasts the lifetime its row chose within
// the maximum, or the default; a resend renews the chosen lifetime.
func TestInvitationPolicyAndLifetimes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, o := f.app, f.owner.Token
	path := "/v1/properties/" + f.pid + "/invitation-policy"

	var got policyAnswer
	a.read(t, path, o, f.at).want(t, http.StatusOK).into(t, &got)
	if want := (policyAnswer{DefaultLifetime: 168 * 3600, MaximumLifetime: 30 * 86400, Source: "service",
		MinLifetime: 3600, MaxLifetime: 30 * 86400}); got != want {
		t.Errorf("policy before any is set = %+v, want %+v", got, want)
	}
	set := a.command(t, http.MethodPut, path, o, map[string]int64{"default_lifetime": 2 * 86400, "maximum_lifetime": 5 * 86400}, nil, http.StatusOK)
	if !set.Changed {
		t.Error("setting the policy answered changed false")
	}
	a.read(t, path, o, set.Position).want(t, http.StatusOK).into(t, &got)
	if want := (policyAnswer{DefaultLifetime: 2 * 86400, MaximumLifetime: 5 * 86400, Source: "property",
		MinLifetime: 3600, MaxLifetime: 30 * 86400}); got != want {
		t.Errorf("policy after it is set = %+v, want %+v", got, want)
	}

	// Expiries are checked against the wall clock around each request: the
	// server's clock is the real one.
	expires := func(body any) (time.Time, time.Time, string) {
		t.Helper()
		before := time.Now().Truncate(time.Second)
		r := a.do(t, http.MethodPost, "/v1/properties/"+f.pid+"/invitations", o, body, nil).want(t, http.StatusCreated)
		after := time.Now().Add(time.Second)
		var sent timedInvitations
		r.into(t, &sent)
		return sent.Invitations[0].ExpiresAt.Add(-(after.Sub(before))), sent.Invitations[0].ExpiresAt, sent.Invitations[0].ID
	}
	within := func(name string, expiry time.Time, lifetime time.Duration, before, after time.Time) {
		t.Helper()
		if expiry.Before(before.Add(lifetime)) || expiry.After(after.Add(lifetime)) {
			t.Errorf("%s expires at %v, want %v after the request (between %v and %v)", name, expiry, lifetime, before, after)
		}
	}
	before := time.Now().Add(-time.Second)
	_, defaulted, _ := expires(map[string]string{"email": "defaulted@example.com", "role": "agent"})
	_, chosen, chosenID := expires(map[string]any{"email": "chosen@example.com", "role": "agent", "lifetime": 3 * 3600})
	_, listed, _ := expires(map[string]any{"invitations": []map[string]any{{"email": "listed@example.com", "role": "admin", "lifetime": 5 * 86400}}})
	after := time.Now().Add(time.Second)
	within("a row without a lifetime", defaulted, 48*time.Hour, before, after)
	within("a row that chose 3 hours", chosen, 3*time.Hour, before, after)
	within("a listed row that chose the maximum", listed, 5*24*time.Hour, before, after)

	before = time.Now().Add(-time.Second)
	res := a.command(t, http.MethodPost, "/v1/properties/"+f.pid+"/invitations/"+chosenID+"/resend", o, nil, nil, http.StatusOK)
	after = time.Now().Add(time.Second)
	for _, inv := range a.pendingExpiries(t, f.pid, o, res.Position) {
		if inv.ID == chosenID {
			within("a resent invitation that chose 3 hours", inv.ExpiresAt, 3*time.Hour, before, after)
		}
	}

	// The audit names the change.
	var audit struct {
		Entries []map[string]any `json:"entries"`
	}
	a.read(t, "/v1/properties/"+f.pid+"/audit?type=InvitationPolicyChanged", o, res.Position).want(t, http.StatusOK).into(t, &audit)
	if len(audit.Entries) != 1 {
		t.Fatalf("audit of InvitationPolicyChanged has %d entries, want 1: %v", len(audit.Entries), audit.Entries)
	}
}

// TestInvitationPolicyBadInputWritesNothing: every refusal of the policy's
// routes and of a row's lifetime names its code, and nothing is stored.
func TestInvitationPolicyBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o, ag, out := f.owner.Token, f.agent.Token, f.outsider.Token
	p := "/v1/properties/" + f.pid
	policy := p + "/invitation-policy"
	unknown := "/v1/properties/" + uuid.NewString() + "/invitation-policy"
	type body = map[string]any
	good := body{"default_lifetime": 86400, "maximum_lifetime": 2 * 86400}
	f.at = f.app.command(t, http.MethodPut, policy, o, body{"default_lifetime": 86400, "maximum_lifetime": 10 * 86400}, nil, http.StatusOK).Position
	f.refuseAll(t, []badRequest{
		{name: "invite: a lifetime under an hour is refused by value", method: "POST", path: p + "/invitations", token: o,
			body: body{"email": "new@example.com", "role": "agent", "lifetime": 3599}, status: 422, code: "invalid_lifetime", detail: "3599 seconds"},
		{name: "invite: a negative lifetime is refused", method: "POST", path: p + "/invitations", token: o,
			body: body{"email": "new@example.com", "role": "agent", "lifetime": -3600}, status: 422, code: "invalid_lifetime"},
		{name: "invite: a lifetime over 30 days is refused", method: "POST", path: p + "/invitations", token: o,
			body: body{"email": "new@example.com", "role": "agent", "lifetime": 30*86400 + 1}, status: 422, code: "invalid_lifetime", detail: "2592001 seconds"},
		{name: "invite: a lifetime that is no whole number is malformed", method: "POST", path: p + "/invitations", token: o,
			body: `{"email":"new@example.com","role":"agent","lifetime":3600.5}`, status: 400, code: "malformed_json", detail: "lifetime"},
		{name: "invite: a lifetime as a string is malformed", method: "POST", path: p + "/invitations", token: o,
			body: `{"email":"new@example.com","role":"agent","lifetime":"24h"}`, status: 400, code: "malformed_json", detail: "lifetime"},
		{name: "invite: a lifetime beyond any number of seconds is malformed", method: "POST", path: p + "/invitations", token: o,
			body: `{"email":"new@example.com","role":"agent","lifetime":99999999999999999999}`, status: 400, code: "malformed_json", detail: "lifetime"},
		{name: "invite: bad lifetimes and a bad email are reported at once", method: "POST", path: p + "/invitations", token: o,
			body:   body{"invitations": []body{{"email": "a@example.com", "role": "agent", "lifetime": 60}, {"email": "b@", "role": "agent"}}},
			status: 422, code: "invalid_invitations", detail: "2 invitations"},
		{name: "invite: a lifetime within bounds but above the maximum is refused", method: "POST", path: p + "/invitations", token: o,
			body: body{"email": "new@example.com", "role": "agent", "lifetime": 10*86400 + 1}, status: 422, code: "lifetime_above_maximum", detail: "maximum of 10 days"},

		{name: "policy: a default above the maximum is refused", method: "PUT", path: policy, token: o,
			body: body{"default_lifetime": 3 * 86400, "maximum_lifetime": 86400}, status: 422, code: "default_above_maximum", detail: "3 days"},
		{name: "policy: a default under an hour is refused", method: "PUT", path: policy, token: o,
			body: body{"default_lifetime": 60, "maximum_lifetime": 86400}, status: 422, code: "invalid_lifetime", detail: "1 minute"},
		{name: "policy: a maximum over 30 days is refused", method: "PUT", path: policy, token: o,
			body: body{"default_lifetime": 3600, "maximum_lifetime": 31 * 86400}, status: 422, code: "invalid_lifetime", detail: "31 days"},
		{name: "policy: both lifetimes out of bounds are reported together", method: "PUT", path: policy, token: o,
			body: body{"default_lifetime": 0, "maximum_lifetime": -1}, status: 422, code: "invalid_policy", detail: "2 problems"},
		{name: "policy: a missing maximum is refused", method: "PUT", path: policy, token: o,
			body: body{"default_lifetime": 3600}, status: 422, code: "invalid_request", detail: "maximum_lifetime"},
		{name: "policy: an empty object is refused", method: "PUT", path: policy, token: o,
			body: `{}`, status: 422, code: "invalid_request", detail: "default_lifetime"},
		{name: "policy: a lifetime as a duration string is malformed", method: "PUT", path: policy, token: o,
			body: `{"default_lifetime":"24h","maximum_lifetime":86400}`, status: 400, code: "malformed_json", detail: "default_lifetime"},
		{name: "policy: an agent is forbidden", method: "PUT", path: policy, token: ag, body: good, status: 403, code: "forbidden"},
		{name: "policy: an outsider is told the property does not exist", method: "PUT", path: policy, token: out, body: good, status: 404, code: "property_not_found"},
		{name: "policy: an unknown property is not found", method: "PUT", path: unknown, token: o, body: good, status: 404, code: "property_not_found"},

		{name: "read policy: an agent is forbidden", method: "GET", path: policy, token: ag, status: 403, code: "forbidden", detail: "administrate_settings"},
		{name: "read policy: an outsider is told the property does not exist", method: "GET", path: policy, token: out, status: 404, code: "property_not_found"},
		{name: "read policy: an unknown property is not found", method: "GET", path: unknown, token: o, status: 404, code: "property_not_found"},
	})
}
