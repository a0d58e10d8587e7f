package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
)

// TestInviteeAcceptsWithTheEmailedToken follows the admin's invitation
// through the emailed-token route: only the current token of a pending
// invitation, presented by its verified invitee, makes a member
// (docs/ARCHITECTURE.md, invariants 5, 6 and 7).
func TestInviteeAcceptsWithTheEmailedToken(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner, admin, other := app.user(t, "owner"), app.user(t, "ada.admin"), app.user(t, "mallory")
	pid := app.createProperty(t, owner, "Acme Support").PropertyID
	iid := app.invite(t, owner, pid, map[string]string{"email": admin.Email, "role": "admin"}).Invitations[0].ID
	accept := func(token, inviteToken string) reply {
		return app.do(t, http.MethodPost, "/v1/invitations/accept", token, map[string]string{"token": inviteToken}, nil)
	}
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	first := app.inviteToken(t, admin.Email)
	var current string
	step("a resend mails a new token and the previous one stops working", func(t *testing.T) {
		app.command(t, http.MethodPost, "/v1/properties/"+pid+"/invitations/"+iid+"/resend", owner.Token, nil, nil, http.StatusOK)
		current = app.inviteToken(t, admin.Email)
		if current == first {
			t.Fatal("the resend mailed the same token")
		}
		accept(admin.Token, first).wantProblem(t, http.StatusNotFound, "invalid_token")
	})
	step("another account cannot use the invitee's token", func(t *testing.T) {
		accept(other.Token, current).wantProblem(t, http.StatusForbidden, "not_invitee")
	})
	step("an unverified email never accepts", func(t *testing.T) {
		accept(admin.unverified(t), current).wantProblem(t, http.StatusForbidden, "email_unverified")
	})
	var pos string
	step("the invitee accepts with the current token", func(t *testing.T) {
		r := accept(admin.Token, current).want(t, http.StatusOK)
		var ans answer
		r.into(t, &ans)
		if ans.InvitationID != iid || ans.AccountID != admin.ID || ans.Role != "admin" || !ans.Changed {
			t.Errorf("answer %s: want invitation %s, account %s, role admin, changed", r.Raw, iid, admin.ID)
		}
		pos = ans.Position
		want := []member{{admin.ID, admin.Email, "admin", "enabled", false}, {owner.ID, owner.Email, "admin", "enabled", true}}
		if diff := cmp.Diff(want, app.members(t, pid, admin.Token, pos)); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
		if got := app.invitations(t, pid, "accepted", owner.Token, pos); len(got) != 1 || got[0].ID != iid {
			t.Errorf("accepted invitations %+v, want only %s", got, iid)
		}
	})
	step("no token is kept where events, read models or logs could give it away", func(t *testing.T) {
		mac := current[strings.LastIndexByte(current, '.')+1:]
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, app.pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, e := range app.storedEvents(t) {
			if strings.Contains(string(e.Data)+string(e.Metadata), mac) {
				t.Errorf("event %s %s holds the invitation token's MAC", e.Type, e.ID)
			}
		}
		var n int
		err = conn.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM rm_invitations i WHERE row_to_json(i)::text LIKE '%' || $1 || '%') +
			(SELECT count(*) FROM rm_my_invitations m WHERE row_to_json(m)::text LIKE '%' || $1 || '%')`, mac).Scan(&n)
		if err != nil || n != 0 {
			t.Errorf("%d read-model rows hold the invitation token's MAC (err %v), want none", n, err)
		}
		if logs := app.logs.String(); strings.Contains(logs, owner.Token) || strings.Contains(logs, admin.Token) {
			t.Error("the log holds a bearer token")
		}
	})
	step("the token does not work twice", func(t *testing.T) {
		accept(admin.Token, current).wantProblem(t, http.StatusConflict, "invitation_accepted")
	})
	step("a declined invitation cannot be accepted", func(t *testing.T) {
		bob := app.user(t, "bob")
		bid := app.invite(t, owner, pid, map[string]string{"email": bob.Email, "role": "agent"}).Invitations[0].ID
		app.command(t, http.MethodPost, "/v1/properties/"+pid+"/invitations/"+bid+"/decline", bob.Token, nil, nil, http.StatusOK)
		accept(bob.Token, app.inviteToken(t, bob.Email)).wantProblem(t, http.StatusConflict, "invitation_declined")
	})
}
