package main

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestIdempotencyKeys: the same command sent twice with the same key has one
// effect and one answer; a key reused for another request is refused, and is
// never answered with another request's result or an internal error
// (docs/ARCHITECTURE.md, invariant 10).
func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner, other := app.user(t, "owner"), app.user(t, "other")
	key := func(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }
	create := func(u user, name, k string) reply {
		return app.do(t, http.MethodPost, "/v1/properties", u.Token, map[string]string{"name": name}, key(k))
	}
	inviteBody := func(email string) map[string]string { return map[string]string{"email": email, "role": "agent"} }

	var a, b answer
	t.Run("creating a property twice with one key creates it once", func(t *testing.T) {
		create(owner, "A", "create-a").want(t, http.StatusCreated).into(t, &a)
		var again answer
		create(owner, "A", "create-a").want(t, http.StatusCreated).into(t, &again)
		if again.PropertyID != a.PropertyID || !again.Repeated || again.Position != a.Position {
			t.Errorf("repeat %+v, first %+v: want the same property and position, repeated", again, a)
		}
	})
	t.Run("another account's key is its own", func(t *testing.T) {
		var theirs answer
		create(other, "A", "create-a").want(t, http.StatusCreated).into(t, &theirs)
		if theirs.PropertyID == a.PropertyID || theirs.Repeated {
			t.Errorf("the other account got %+v: want a property of its own", theirs)
		}
	})
	t.Run("a key reused with another body is refused", func(t *testing.T) {
		create(owner, "B", "create-a").wantProblem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
	})
	t.Run("a key reused on one property for another invitation is refused", func(t *testing.T) {
		path := "/v1/properties/" + a.PropertyID + "/invitations"
		first := app.command(t, http.MethodPost, path, owner.Token, inviteBody("x@example.com"), key("invite-x"), http.StatusCreated)
		app.do(t, http.MethodPost, path, owner.Token, inviteBody("z@example.com"), key("invite-x")).
			wantProblem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
		again := app.command(t, http.MethodPost, path, owner.Token, inviteBody("x@example.com"), key("invite-x"), http.StatusCreated)
		if !again.Repeated || again.Position != first.Position {
			t.Errorf("the repeat answered %+v, want the first answer %+v, repeated", again, first)
		}
	})
	b = app.createProperty(t, owner, "B")
	var wantInB []string
	t.Run("a key reused on another property is a new command or refused, never a fault", func(t *testing.T) {
		r := app.do(t, http.MethodPost, "/v1/properties/"+b.PropertyID+"/invitations", owner.Token, inviteBody("y@example.com"), key("invite-x"))
		switch r.Status {
		case http.StatusCreated:
			var ans answer
			r.into(t, &ans)
			if ans.Repeated || ans.PropertyID != b.PropertyID || len(ans.Invitations) != 1 || ans.Invitations[0].Email != "y@example.com" {
				t.Errorf("answer %s: want y@example.com invited to B, not repeated", r.Raw)
			}
			wantInB, b.Position = []string{"y@example.com"}, ans.Position
		default:
			r.wantProblem(t, http.StatusUnprocessableEntity, "idempotency_key_reused")
		}
	})
	t.Run("property B holds only what its own answer said", func(t *testing.T) {
		got := []string{}
		for _, inv := range app.invitations(t, b.PropertyID, "all", owner.Token, b.Position) {
			got = append(got, inv.Email)
		}
		if !slices.Equal(got, wantInB) {
			t.Errorf("property B has invitations for %v, want %v", got, wantInB)
		}
	})
}

// TestConcurrentRepeatsOfOneKeyHaveOneEffect sends one keyed invitation eight
// times at once: every copy gets the same invitation, it is stored and
// mailed once, and exactly one answer is the original (not repeated).
func TestConcurrentRepeatsOfOneKeyHaveOneEffect(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner := app.user(t, "owner")
	pid := app.createProperty(t, owner, "Race").PropertyID
	const n = 8
	replies := make([]reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			replies[i], errs[i] = app.send(http.MethodPost, "/v1/properties/"+pid+"/invitations", owner.Token,
				map[string]string{"email": "x@example.com", "role": "agent"}, map[string]string{"Idempotency-Key": "race-1"})
		})
	}
	wg.Wait()
	originals, pos := 0, ""
	var first answer
	for i, r := range replies {
		if errs[i] != nil {
			t.Fatalf("copy %d: %v", i, errs[i])
		}
		var ans answer
		r.want(t, http.StatusCreated).into(t, &ans)
		if !ans.Repeated {
			originals++
		}
		ans.Repeated = false
		if i == 0 {
			first, pos = ans, ans.Position
		} else if diff := cmp.Diff(first, ans); diff != "" {
			t.Errorf("copy %d answers differently (-copy 0 +copy %d):\n%s", i, i, diff)
		}
	}
	if originals != 1 {
		t.Errorf("%d answers say repeated=false, want exactly 1", originals)
	}
	if got := app.invitations(t, pid, "all", owner.Token, pos); len(got) != 1 {
		t.Errorf("%d invitations stored, want 1: %+v", len(got), got)
	}
	if got := len(app.inviteTokens(t, "x@example.com")); got != 1 {
		t.Errorf("%d mails sent, want 1", got)
	}
}
