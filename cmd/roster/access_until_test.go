package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/config"
)

// accessUntilPath is the route of a member's end of access.
func accessUntilPath(pid, aid string) string {
	return "/v1/properties/" + pid + "/members/" + aid + "/access-until"
}

func TestAccessUntilBadInput(t *testing.T) {
	app := startApp(t)
	owner, admin, agent, outsider := app.user(t, "owner"), app.user(t, "admin"), app.user(t, "agent"), app.user(t, "outsider")
	pid := app.createProperty(t, owner, "Acme").PropertyID
	app.join(t, owner, pid, "admin", admin)
	app.join(t, owner, pid, "agent", agent)
	soon := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	body := func(v string) map[string]string { return map[string]string{"access_until": v} }
	for _, tt := range []struct {
		name   string
		method string
		target user
		token  string
		body   any
		status int
		code   string
	}{
		{"a time that is none", http.MethodPut, agent, admin.Token, body("tomorrow"), 422, domain.CodeInvalidAccessUntil},
		{"a date without a time", http.MethodPut, agent, admin.Token, body("2030-01-01"), 422, domain.CodeInvalidAccessUntil},
		{"no access_until", http.MethodPut, agent, admin.Token, map[string]string{}, 422, domain.CodeInvalidAccessUntil},
		{"a number", http.MethodPut, agent, admin.Token, `{"access_until": 1767225600}`, 400, ""},
		{"an unknown field", http.MethodPut, agent, admin.Token, `{"access_until": "` + soon + `", "until": 1}`, 400, domain.CodeUnknownField},
		{"an end in the past", http.MethodPut, agent, admin.Token, body(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)), 422, domain.CodeAccessUntilInPast},
		{"an end more than 5 years ahead", http.MethodPut, agent, admin.Token, body(time.Now().AddDate(5, 1, 0).UTC().Format(time.RFC3339)), 422, domain.CodeAccessUntilTooFar},
		{"the owner's access", http.MethodPut, owner, admin.Token, body(soon), 409, domain.CodeOwnerProtected},
		{"an agent setting one", http.MethodPut, admin, agent.Token, body(soon), 403, domain.CodeForbidden},
		{"an agent clearing one", http.MethodDelete, admin, agent.Token, nil, 403, domain.CodeForbidden},
		{"an outsider setting one", http.MethodPut, agent, outsider.Token, body(soon), 404, domain.CodePropertyNotFound},
		{"an outsider clearing one", http.MethodDelete, agent, outsider.Token, nil, 404, domain.CodePropertyNotFound},
		{"no member", http.MethodPut, outsider, admin.Token, body(soon), 404, domain.CodeMemberNotFound},
		{"no token", http.MethodPut, agent, "", body(soon), 401, domain.CodeUnauthenticated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := app.do(t, tt.method, accessUntilPath(pid, tt.target.ID), tt.token, tt.body, nil)
			if tt.code == "" {
				r.want(t, tt.status)
				return
			}
			r.wantProblem(t, tt.status, tt.code)
		})
	}
	t.Run("an invitation row's bad end names the row", func(t *testing.T) {
		r := app.do(t, http.MethodPost, "/v1/properties/"+pid+"/invitations", owner.Token, map[string]any{"invitations": []map[string]string{
			{"email": "ok@example.com", "role": "agent"},
			{"email": "late@example.com", "role": "agent", "access_until": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
		}}, nil)
		r.wantProblem(t, 422, domain.CodeAccessUntilInPast)
		if p, _ := r.Body["errors"].([]any); len(p) != 1 || p[0].(map[string]any)["index"] != float64(1) {
			t.Errorf("errors %v, want row 1 named", r.Body["errors"])
		}
	})
}

// A membership that ends: invited with an end, it shows in the lists; the
// end moves and is cleared and set again; from the moment the member is
// disabled in every answer; the scheduler appends one MemberAccessExpired;
// an enable gives access back for good.
func TestAccessUntilEndsAMembership(t *testing.T) {
	app := startApp(t, "ROSTER_EXPIRY_POLL", "50ms")
	owner, ada := app.user(t, "owner"), app.user(t, "ada")
	pid := app.createProperty(t, owner, "Acme").PropertyID
	later := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	inv := app.command(t, http.MethodPost, "/v1/properties/"+pid+"/invitations", owner.Token,
		map[string]string{"email": ada.Email, "role": "agent", "access_until": later.Format(time.RFC3339)}, nil, http.StatusCreated)
	var invs struct {
		Invitations []struct {
			AccessUntil *time.Time `json:"access_until"`
		} `json:"invitations"`
	}
	app.read(t, "/v1/properties/"+pid+"/invitations", owner.Token, inv.Position).want(t, http.StatusOK).into(t, &invs)
	if len(invs.Invitations) != 1 || invs.Invitations[0].AccessUntil == nil || !invs.Invitations[0].AccessUntil.Equal(later) {
		t.Fatalf("invitations %+v, want one ending at %s", invs, later)
	}
	pos := app.accept(t, ada, pid, inv.Invitations[0].ID).Position

	type row struct {
		AccountID   string     `json:"account_id"`
		Status      string     `json:"status"`
		AccessUntil *time.Time `json:"access_until"`
	}
	memberOf := func(pos string) row {
		var page struct{ Members []row }
		if pos == "" {
			app.do(t, http.MethodGet, "/v1/properties/"+pid+"/members", owner.Token, nil, nil).want(t, http.StatusOK).into(t, &page)
		} else {
			app.read(t, "/v1/properties/"+pid+"/members", owner.Token, pos).want(t, http.StatusOK).into(t, &page)
		}
		for _, m := range page.Members {
			if m.AccountID == ada.ID {
				return m
			}
			if m.AccessUntil != nil {
				t.Errorf("the owner shows an end of access: %+v", m)
			}
		}
		t.Fatalf("ada is not among the members: %+v", page.Members)
		return row{}
	}
	if m := memberOf(pos); m.Status != "enabled" || m.AccessUntil == nil || !m.AccessUntil.Equal(later) {
		t.Fatalf("ada joined as %+v, want enabled until %s (inherited)", m, later)
	}
	pos = app.command(t, http.MethodDelete, accessUntilPath(pid, ada.ID), owner.Token, nil, nil, http.StatusOK).Position
	if m := memberOf(pos); m.AccessUntil != nil {
		t.Fatalf("cleared, ada shows %+v", m)
	}
	if again := app.command(t, http.MethodDelete, accessUntilPath(pid, ada.ID), owner.Token, nil, nil, http.StatusOK); again.Changed {
		t.Errorf("clearing twice changed something")
	}

	end := time.Now().Add(1500 * time.Millisecond).UTC()
	pos = app.command(t, http.MethodPut, accessUntilPath(pid, ada.ID), owner.Token,
		map[string]string{"access_until": end.Format(time.RFC3339Nano)}, nil, http.StatusOK).Position
	if m := memberOf(pos); m.AccessUntil == nil || !m.AccessUntil.Equal(end.Truncate(time.Microsecond)) {
		t.Fatalf("set, ada shows %+v, want until %s", m, end)
	}

	// From the moment on, every answer counts ada disabled, whether or not
	// the expiry is in the stream yet.
	sleepPast(t, end)
	if m := memberOf(""); m.Status != "disabled" {
		t.Errorf("after the end, ada is %s", m.Status)
	}
	var perms struct {
		Status      string   `json:"status"`
		Permissions []string `json:"permissions"`
	}
	app.do(t, http.MethodGet, "/v1/properties/"+pid+"/members/"+ada.ID+"/permissions", owner.Token, nil, nil).want(t, http.StatusOK).into(t, &perms)
	if perms.Status != "disabled" || len(perms.Permissions) != 0 {
		t.Errorf("after the end, ada's permissions are %+v", perms)
	}
	app.do(t, http.MethodGet, "/v1/properties/"+pid+"/members", ada.Token, nil, nil).wantProblem(t, 404, domain.CodePropertyNotFound)

	waitForEvents(t, app, pid, domain.TypeMemberAccessExpired, 1)
	time.Sleep(300 * time.Millisecond) // a few more looks of the scheduler
	if n := countEvents(t, app, pid, domain.TypeMemberAccessExpired); n != 1 {
		t.Errorf("%d MemberAccessExpired, want 1", n)
	}
	// Ada was told in the app: a day ahead of the last end (set within the
	// day), then that it ended; the first end, three days off when she
	// joined, may have had its week's reminder before it was cleared.
	var notes struct {
		Notifications []struct {
			Kind    string `json:"kind"`
			Details struct {
				AccessUntil *time.Time `json:"access_until"`
			} `json:"details"`
		} `json:"notifications"`
	}
	evs := app.streamEvents(t, pid)
	app.read(t, "/v1/me/notifications", ada.Token, evs[len(evs)-1].Position.String()).want(t, http.StatusOK).into(t, &notes)
	told := map[string]int{}
	for _, n := range notes.Notifications {
		if n.Details.AccessUntil != nil {
			told[n.Kind+" "+n.Details.AccessUntil.UTC().Format(time.RFC3339Nano)]++
		}
	}
	want := map[string]int{
		"access_ending " + end.Truncate(time.Microsecond).Format(time.RFC3339Nano):  1,
		"access_expired " + end.Truncate(time.Microsecond).Format(time.RFC3339Nano): 1,
	}
	if n := told["access_ending "+later.Format(time.RFC3339Nano)]; len(told)-n != len(want) || n > 1 {
		t.Errorf("ada was told %v, want %v and at most one reminder of %s", told, want, later)
	}
	for k, n := range want {
		if told[k] != n {
			t.Errorf("ada was told %v, want %v", told, want)
			break
		}
	}
	pos = app.command(t, http.MethodPost, "/v1/properties/"+pid+"/members/"+ada.ID+"/enable", owner.Token, nil, nil, http.StatusOK).Position
	if m := memberOf(pos); m.Status != "enabled" || m.AccessUntil != nil {
		t.Errorf("enabled again, ada is %+v, want enabled with no end", m)
	}
}

// Two instances over one database: the one that leads the scheduler ends
// the access, and the stream holds exactly one MemberAccessExpired.
func TestAccessUntilTwoInstancesExpireOnce(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skip("two instances share their events through PostgreSQL")
	}
	first := startApp(t, "ROSTER_EXPIRY_POLL", "50ms", "ROSTER_INSTANCE_ID", "first")
	second := startApp(t, "ROSTER_EXPIRY_POLL", "50ms", "ROSTER_INSTANCE_ID", "second", "ROSTER_PG_URL", first.env["ROSTER_PG_URL"])
	owner, ada := first.user(t, "owner"), first.user(t, "ada")
	pid := first.createProperty(t, owner, "Acme").PropertyID
	first.join(t, owner, pid, "agent", ada)
	end := time.Now().Add(time.Second).UTC()
	second.command(t, http.MethodPut, accessUntilPath(pid, ada.ID), owner.Token,
		map[string]string{"access_until": end.Format(time.RFC3339Nano)}, nil, http.StatusOK)
	sleepPast(t, end)
	waitForEvents(t, first, pid, domain.TypeMemberAccessExpired, 1)
	time.Sleep(500 * time.Millisecond)
	if n := countEvents(t, second, pid, domain.TypeMemberAccessExpired); n != 1 {
		t.Errorf("%d MemberAccessExpired across two instances, want exactly 1", n)
	}
}

// sleepPast sleeps until the wall clock has passed t.
func sleepPast(t *testing.T, at time.Time) {
	t.Helper()
	time.Sleep(time.Until(at) + 10*time.Millisecond)
}

func countEvents(t *testing.T, app *testApp, pid, typ string) int {
	t.Helper()
	n := 0
	for _, e := range app.streamEvents(t, pid) {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// waitForEvents waits until pid's stream holds n events of typ; a minute
// guards against a hang, it measures nothing.
func waitForEvents(t *testing.T, app *testApp, pid, typ string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for countEvents(t, app, pid, typ) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %d %s in a minute", n, typ)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
