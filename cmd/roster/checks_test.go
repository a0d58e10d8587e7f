package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/eventstore"
)

// checkAnswer is an answer of the access-check API.
type checkAnswer struct {
	Allowed  bool   `json:"allowed"`
	Role     string `json:"role"`
	Status   string `json:"status"`
	Owner    bool   `json:"owner"`
	Position string `json:"position"`
	FreshAt  string `json:"fresh_at"`
}

func mintServiceToken(t *testing.T, name, scope string) string {
	t.Helper()
	tok, err := auth.MintService([]byte(testSecret), "", "", name, scope, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// check asks the access-check API as the service token.
func (a *testApp) check(t *testing.T, token, pid, aid, perm, atLeast string) checkAnswer {
	t.Helper()
	var got checkAnswer
	body := map[string]string{"account_id": aid, "property_id": pid, "permission": perm}
	if atLeast != "" {
		body["at_least"] = atLeast
	}
	a.do(t, http.MethodPost, "/v1/access/check", token, body, nil).want(t, http.StatusOK).into(t, &got)
	return got
}

func TestAServiceChecksAccessRightAfterACommand(t *testing.T) {
	app := startApp(t, "ROSTER_CHECK_SERVICES", "chat-router,tickets")
	owner, agent := app.user(t, "owner"), app.user(t, "agent")
	pid := app.createProperty(t, owner, "Acme").PropertyID
	joined := app.join(t, owner, pid, "agent", agent)
	svc := mintServiceToken(t, "chat-router", "")

	got := app.check(t, svc, pid, agent.ID, "respond_to_chats", joined)
	if !got.Allowed || got.Role != "agent" || got.Status != "enabled" || got.Owner || !atOrAfter(got.Position, joined) {
		t.Errorf("an agent right after joining: %+v, want allowed at or after %s", got, joined)
	}
	if got := app.check(t, svc, pid, agent.ID, "manage_members", joined); got.Allowed {
		t.Errorf("an agent may manage members: %+v", got)
	}
	disabled := app.command(t, http.MethodPost, "/v1/properties/"+pid+"/members/"+agent.ID+"/disable", owner.Token, nil, nil, http.StatusOK).Position
	if got := app.check(t, svc, pid, agent.ID, "respond_to_chats", disabled); got.Allowed || got.Status != "disabled" || !atOrAfter(got.Position, disabled) {
		t.Errorf("an agent right after being disabled: %+v, want refused at or after %s", got, disabled)
	}
	if got := app.check(t, svc, pid, owner.ID, "transfer_ownership", ""); !got.Allowed || !got.Owner || got.FreshAt == "" {
		t.Errorf("the owner without at_least: %+v, want allowed and saying how fresh", got)
	}

	var bulk struct{ Results []checkAnswer }
	app.do(t, http.MethodPost, "/v1/access/check-bulk", svc, map[string]any{"at_least": disabled, "items": []map[string]string{
		{"account_id": owner.ID, "property_id": pid, "permission": "manage_members"},
		{"account_id": agent.ID, "property_id": pid, "permission": "view_members"},
		{"account_id": "acc-nobody", "property_id": pid, "permission": "view_members"},
	}}, nil).want(t, http.StatusOK).into(t, &bulk)
	var allowed, status []string
	for _, r := range bulk.Results {
		allowed, status = append(allowed, map[bool]string{true: "yes", false: "no"}[r.Allowed]), append(status, r.Status)
	}
	if diff := cmp.Diff([]string{"yes", "no", "no"}, allowed); diff != "" {
		t.Errorf("bulk answers in order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"enabled", "disabled", "not_member"}, status); diff != "" {
		t.Errorf("bulk statuses in order (-want +got):\n%s", diff)
	}

	_, metrics := app.plainGet(t, "/metrics")
	// One property, its owner and its agent.
	for _, m := range []string{"roster_access_index_entries 3\n", "roster_access_index_fresh_timestamp_seconds 1."} {
		if !strings.Contains(metrics, "\n"+m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}

	var page struct {
		PropertyIDs []string `json:"property_ids"`
	}
	app.do(t, http.MethodGet, "/v1/access/properties?account_id="+owner.ID+"&permission=manage_members&at_least="+disabled, svc, nil, nil).
		want(t, http.StatusOK).into(t, &page)
	if diff := cmp.Diff([]string{pid}, page.PropertyIDs); diff != "" {
		t.Errorf("lookup (-want +got):\n%s", diff)
	}
}

func TestOnlyAcceptedServicesMayCheck(t *testing.T) {
	app := startApp(t, "ROSTER_CHECK_SERVICES", "chat-router")
	person := app.user(t, "ada")
	body := map[string]string{"account_id": person.ID, "property_id": "p-1", "permission": "view_members"}
	items := map[string]any{"items": []map[string]string{body}}
	routes := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/v1/access/check", body},
		{http.MethodPost, "/v1/access/check-bulk", items},
		{http.MethodGet, "/v1/access/properties?account_id=" + person.ID + "&permission=view_members", nil},
	}
	tests := []struct {
		name, token string
		status      int
		code        string
	}{
		{"a person's token", person.Token, http.StatusForbidden, "service_only"},
		{"a service the operators do not list", mintServiceToken(t, "stranger", ""), http.StatusForbidden, "service_not_allowed"},
		{"a listed service without the scope", mintServiceToken(t, "chat-router", "openid"), http.StatusForbidden, "service_not_allowed"},
		{"no token", "", http.StatusUnauthorized, "unauthenticated"},
	}
	for _, rt := range routes {
		for _, tt := range tests {
			t.Run(rt.method+" "+rt.path+" with "+tt.name, func(t *testing.T) {
				app.do(t, rt.method, rt.path, tt.token, rt.body, nil).wantProblem(t, tt.status, tt.code)
			})
		}
	}
	t.Run("a service's token is refused on a person's route, saying where it belongs", func(t *testing.T) {
		r := app.do(t, http.MethodGet, "/v1/me/properties", mintServiceToken(t, "chat-router", ""), nil, nil)
		r.wantProblem(t, http.StatusUnauthorized, "unauthenticated")
		if !strings.Contains(r.str("detail"), "access-check API") {
			t.Errorf("detail %q does not say where a service's token belongs", r.str("detail"))
		}
	})
}

func TestACheckAtAPositionBeyondTheHeadWaitsThenSaysSo(t *testing.T) {
	app := startApp(t, "ROSTER_CHECK_SERVICES", "chat-router")
	owner := app.user(t, "owner")
	created := app.createProperty(t, owner, "Acme")
	pos, err := eventstore.ParsePosition(created.Position)
	if err != nil {
		t.Fatal(err)
	}
	beyond := eventstore.Position{Commit: pos.Commit + 1_000_000}.String()
	r := app.do(t, http.MethodPost, "/v1/access/check", mintServiceToken(t, "chat-router", ""), map[string]string{
		"account_id": owner.ID, "property_id": created.PropertyID, "permission": "view_members", "at_least": beyond}, nil)
	r.wantProblem(t, http.StatusServiceUnavailable, "position_not_reached")
	if r.Header.Get("Retry-After") == "" || !strings.Contains(r.str("detail"), beyond) {
		t.Errorf("answer %s with Retry-After %q: want it to name %s and say when to retry", r.Raw, r.Header.Get("Retry-After"), beyond)
	}
}

func TestTokenCommandMintsAServiceToken(t *testing.T) {
	env := map[string]string{"ROSTER_JWT_SECRET": testSecret}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"token", "-service", "tickets"}, func(k string) string { return env[k] }, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := v.VerifyService(context.Background(), strings.TrimSpace(stdout.String()), "")
	if err != nil || svc.Name != "tickets" {
		t.Errorf("the minted token verifies as %+v, %v; want service tickets", svc, err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"token", "-service", "tickets", "-email", "a@example.com"}, func(k string) string { return env[k] }, &stdout, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "carries no email") {
		t.Errorf("a service token with an email: exit %d, stderr %q", code, stderr.String())
	}
}
