package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/pgtest"
)

// limitVars are the limits on writes, which startApp raises out of the
// way of the other tests.
var limitVars = []string{
	"ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR", "ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY", "ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY",
	"ROSTER_LIMIT_COMMANDS_PER_ACCOUNT_SECOND", "ROSTER_LIMIT_TOKEN_FAILURES_PER_IP_MINUTE",
}

// inviteRows are n agent invitations to prefix0@example.com and on.
func inviteRows(prefix string, n int) []map[string]string {
	rows := make([]map[string]string, n)
	for i := range rows {
		rows[i] = map[string]string{"email": fmt.Sprintf("%s%d@example.com", prefix, i), "role": "agent"}
	}
	return rows
}

// refusals is the app's count of refusals by limit in /metrics.
func refusals(t *testing.T, a *testApp, limit string) string {
	t.Helper()
	resp, err := http.Get(a.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	series := `roster_limit_refusals_total{limit="` + limit + `"} `
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), series); ok {
			return v
		}
	}
	return "missing"
}

// wantLimit checks a refusal of limit: 429, its code, Retry-After and the
// RateLimit headers with quota q.
func wantLimit(t *testing.T, r reply, limit, code string, q, window int) {
	t.Helper()
	r.wantProblem(t, http.StatusTooManyRequests, code)
	policy := fmt.Sprintf(`"%s";q=%d;w=%d`, limit, q, window)
	if r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit-Policy") != policy ||
		!strings.HasPrefix(r.Header.Get("RateLimit"), fmt.Sprintf(`"%s";r=`, limit)) {
		t.Errorf("headers %v, want Retry-After, RateLimit-Policy %s and its RateLimit", r.Header, policy)
	}
}

func TestTheInvitationLimitsHoldAcrossTwoInstances(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skipf("the limits' counters are in PostgreSQL whatever the event store; this pass is %s", e2eStore)
	}
	t.Parallel()
	pgURL := pgtest.NewDatabase(t)
	shared := []string{"ROSTER_PG_URL", withPoolSize(pgURL, 8), "ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY", "4",
		"ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY", "5", "ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR", "6"}
	one := startApp(t, slices.Concat(shared, []string{"ROSTER_INSTANCE_ID", "limits-one"})...)
	two := startApp(t, slices.Concat(shared, []string{"ROSTER_INSTANCE_ID", "limits-two"})...)
	owner := one.user(t, "owner")
	created := one.createProperty(t, owner, "Acme")
	pid := created.PropertyID
	path := "/v1/properties/" + pid + "/invitations"

	// A bulk refused for a bad row gives its quota back.
	one.do(t, http.MethodPost, path, owner.Token, map[string]any{"invitations": []map[string]string{
		{"email": "x0@example.com", "role": "agent"}, {"email": "not-an-email", "role": "agent"}}}, nil).
		wantProblem(t, http.StatusUnprocessableEntity, domain.CodeInvalidEmail)
	// Two rows on each instance: the property's four for the day.
	one.invite(t, owner, pid, inviteRows("a", 2)...)
	key := map[string]string{"Idempotency-Key": "second-pair"}
	two.command(t, http.MethodPost, path, owner.Token, map[string]any{"invitations": inviteRows("b", 2)}, key, http.StatusCreated)
	events := len(one.storedEvents(t))

	for _, a := range []*testApp{one, two} {
		r := a.do(t, http.MethodPost, path, owner.Token, map[string]any{"invitations": inviteRows("c", 1)}, nil)
		wantLimit(t, r, "invitations_per_property", "property_invitation_limit", 4, 86400)
		if got := r.Header.Get("RateLimit"); !strings.HasPrefix(got, `"invitations_per_property";r=0;t=`) {
			t.Errorf("RateLimit %q, want none left", got)
		}
		if n := refusals(t, a, "invitations_per_property"); n != "1" {
			t.Errorf("/metrics counts %s refusals of the property's invitations, want 1", n)
		}
	}
	// A retry of a command already counted still gets its first answer.
	again := one.command(t, http.MethodPost, path, owner.Token, map[string]any{"invitations": inviteRows("b", 2)}, key, http.StatusCreated)
	if !again.Repeated {
		t.Error("the retry at the limit was not answered as a repeat")
	}
	if got := len(one.storedEvents(t)); got != events {
		t.Errorf("%d events after the refusals, want %d: nothing written", got, events)
	}

	// An operator raises the property's invitations; every instance applies it.
	one.read(t, "/v1/properties/"+pid, owner.Token, created.Position).want(t, http.StatusOK)
	res := roster(one.env, "limits", "set", pid, "--invitations-per-day", "10", "--reason", "launch week, OPS-9", "-operator", "ops-ana")
	if res.code != 0 || !strings.Contains(res.stdout, "10 invitations and invite 5 (the default) new addresses") {
		t.Fatalf("limits set: %d %s %s", res.code, res.stdout, res.stderr)
	}
	two.invite(t, owner, pid, inviteRows("c", 1)...)
	// Five distinct addresses are the property's new emails for the day.
	wantLimit(t, one.do(t, http.MethodPost, path, owner.Token, map[string]any{"invitations": inviteRows("d", 1)}, nil),
		"new_emails_per_property", "new_email_limit", 5, 86400)
	if res := roster(one.env, "limits", "set", pid, "--new-emails-per-day", "50", "--reason", "launch week, OPS-9", "-operator", "ops-ana"); res.code != 0 {
		t.Fatalf("limits set: %d %s %s", res.code, res.stdout, res.stderr)
	}
	// The owner sent five of their six this hour: a bulk of two is refused whole.
	before := len(two.storedEvents(t))
	wantLimit(t, two.do(t, http.MethodPost, path, owner.Token, map[string]any{"invitations": inviteRows("e", 2)}, nil),
		"invitations_per_actor", "invitation_rate_limited", 6, 3600)
	if got := len(two.storedEvents(t)); got != before {
		t.Errorf("a refused bulk wrote %d events", got-before)
	}
	two.invite(t, owner, pid, inviteRows("e", 1)...)

	res = roster(two.env, "limits", "show", "-json")
	var shown struct {
		Defaults   map[string]int `json:"defaults"`
		Properties []struct {
			PropertyID        string `json:"property_id"`
			InvitationsPerDay *int   `json:"invitations_per_day"`
			NewEmailsPerDay   *int   `json:"new_emails_per_day"`
			SetBy             string `json:"set_by"`
			Reason            string `json:"reason"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &shown); err != nil {
		t.Fatalf("limits show -json: %v: %s %s", err, res.stdout, res.stderr)
	}
	if p := shown.Properties; len(p) != 1 || p[0].PropertyID != pid || p[0].InvitationsPerDay == nil || *p[0].InvitationsPerDay != 10 ||
		p[0].NewEmailsPerDay == nil || *p[0].NewEmailsPerDay != 50 || p[0].SetBy != "ops-ana" || shown.Defaults["invitations_per_property_day"] != 4 {
		t.Errorf("limits show -json = %s", res.stdout)
	}
	if res := roster(two.env, "limits", "show", pid); res.code != 0 || !regexp.MustCompile(`(?m)^`+pid+` +10 +50 +ops-ana `).MatchString(res.stdout) {
		t.Errorf("limits show: %d %s %s", res.code, res.stdout, res.stderr)
	}
}

func TestBadLimitOverridesAreRefused(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skipf("the overrides are in PostgreSQL whatever the event store; this pass is %s", e2eStore)
	}
	t.Parallel()
	app := startApp(t)
	owner := app.user(t, "owner")
	created := app.createProperty(t, owner, "Acme")
	pid := created.PropertyID
	app.read(t, "/v1/properties/"+pid, owner.Token, created.Position).want(t, http.StatusOK)
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no property", []string{"set", "--invitations-per-day", "5", "--reason", "r"}, 2, "usage: roster limits set"},
		{"no reason", []string{"set", pid, "--invitations-per-day", "5"}, 1, "reason is blank"},
		{"nothing to set", []string{"set", pid, "--reason", "r"}, 1, "nothing to set"},
		{"a negative limit", []string{"set", pid, "--invitations-per-day", "-5", "--reason", "r"}, 1, "invitations per day -5 is not from 0"},
		{"no number", []string{"set", pid, "--new-emails-per-day", "many", "--reason", "r"}, 2, "invalid value"},
		{"an unknown property", []string{"set", "no-such-property", "--invitations-per-day", "5", "--reason", "r"}, 1, `no property "no-such-property"`},
		{"a reason with a line break", []string{"set", pid, "--invitations-per-day", "5", "--reason", "a\nb"}, 1, "reason holds a control"},
		{"an unknown subcommand", []string{"raise", pid}, 2, `unknown command "raise"`},
		{"show with two properties", []string{"show", pid, pid}, 2, "unexpected arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := roster(app.env, append([]string{"limits"}, tt.args...)...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", res.code, res.stderr, tt.code, tt.want)
			}
		})
	}
	var rows int
	if err := app.app.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM limit_overrides) + (SELECT count(*) FROM ops_audit)`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d rows stored (%v), want none", rows, err)
	}
}
