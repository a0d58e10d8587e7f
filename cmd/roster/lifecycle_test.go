package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestMembershipLifecycleBeyondTheStory covers the commands the main story
// does not need: removal and coming back, revoking a selection, commands
// that change nothing, and who counts as the invitee.
func TestMembershipLifecycleBeyondTheStory(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner, agent := app.user(t, "owner"), app.user(t, "agent")
	pid := app.createProperty(t, owner, "Acme").PropertyID
	p := "/v1/properties/" + pid
	pos := app.join(t, owner, pid, "agent", agent)

	t.Run("a removed member reads nothing and can be invited back", func(t *testing.T) {
		pos = app.command(t, http.MethodDelete, p+"/members/"+agent.ID, owner.Token, nil, nil, http.StatusOK).Position
		app.read(t, p+"/members", agent.Token, pos).wantProblem(t, http.StatusNotFound, "property_not_found")
		if got, _ := app.property(t, pid, owner.Token, pos); got.MemberCount != 1 {
			t.Errorf("member_count %d after the removal, want 1", got.MemberCount)
		}
		pos = app.join(t, owner, pid, "admin", agent)
		want := []member{{agent.ID, agent.Email, "admin", "enabled", false}, {owner.ID, owner.Email, "admin", "enabled", true}}
		if diff := cmp.Diff(want, app.members(t, pid, agent.Token, pos)); diff != "" {
			t.Errorf("members after coming back (-want +got):\n%s", diff)
		}
	})
	t.Run("revoking a selection revokes each listed invitation once", func(t *testing.T) {
		inv := app.invite(t, owner, pid, map[string]string{"email": "r1@example.com", "role": "agent"},
			map[string]string{"email": "r2@example.com", "role": "agent"}, map[string]string{"email": "keep@example.com", "role": "agent"})
		ids := []string{inv.Invitations[0].ID, inv.Invitations[1].ID, inv.Invitations[0].ID}
		ans := app.command(t, http.MethodPost, p+"/invitations/revoke", owner.Token, map[string]any{"ids": ids}, nil, http.StatusOK)
		if ans.Revision != inv.Revision+2 {
			t.Errorf("revision %d, want %d: two revocations", ans.Revision, inv.Revision+2)
		}
		pos = ans.Position
		if got := app.invitations(t, pid, "", owner.Token, pos); len(got) != 1 || got[0].Email != "keep@example.com" {
			t.Errorf("pending %+v, want only keep@example.com", got)
		}
		if got, _ := app.property(t, pid, owner.Token, pos); got.PendingInvitationCount != 1 {
			t.Errorf("pending_invitation_count %d, want 1", got.PendingInvitationCount)
		}
	})
	t.Run("a command that changes nothing says so and appends nothing", func(t *testing.T) {
		before, _ := app.property(t, pid, owner.Token, pos)
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, p + "/members/" + agent.ID + "/enable", nil},
			{http.MethodPut, p + "/members/" + agent.ID + "/role", map[string]string{"role": "ADMIN"}},
		} {
			ans := app.command(t, c.method, c.path, owner.Token, c.body, nil, http.StatusOK)
			if ans.Changed || ans.Revision != before.Revision || ans.Position != pos {
				t.Errorf("%s %s answered %+v, want unchanged at revision %d, position %s", c.method, c.path, ans, before.Revision, pos)
			}
			app.read(t, p, owner.Token, ans.Position).want(t, http.StatusOK)
		}
	})
	t.Run("the invitee's email matches whatever its case", func(t *testing.T) {
		cara := app.user(t, "cara")
		iid := app.invite(t, owner, pid, map[string]string{"email": "Cara@Example.com", "role": "agent"}).Invitations[0].ID
		shouting := mint(t, testSecret, "roster", "roster", cara.ID, strings.ToUpper(cara.Email), true, time.Hour, time.Now())
		ans := app.command(t, http.MethodPost, p+"/invitations/"+iid+"/accept", shouting, nil, nil, http.StatusOK)
		if ans.AccountID != cara.ID {
			t.Errorf("answer %+v, want cara's account", ans)
		}
		pos = ans.Position
	})
	t.Run("a member's account cannot accept an invitation to a second address", func(t *testing.T) {
		iid := app.invite(t, owner, pid, map[string]string{"email": "agent.alt@example.com", "role": "agent"}).Invitations[0].ID
		alt := mint(t, testSecret, "roster", "roster", agent.ID, "agent.alt@example.com", true, time.Hour, time.Now())
		app.do(t, http.MethodPost, p+"/invitations/"+iid+"/accept", alt, nil, nil).wantProblem(t, http.StatusConflict, "already_member")
	})
	t.Run("a disabled admin may do nothing until enabled", func(t *testing.T) {
		app.command(t, http.MethodPost, p+"/members/"+agent.ID+"/disable", owner.Token, nil, nil, http.StatusOK)
		app.do(t, http.MethodPost, p+"/invitations", agent.Token, map[string]string{"email": "z@example.com", "role": "agent"}, nil).
			wantProblem(t, http.StatusForbidden, "access_disabled")
		app.command(t, http.MethodPost, p+"/members/"+agent.ID+"/enable", owner.Token, nil, nil, http.StatusOK)
	})
	t.Run("fifty invitations in one request are allowed", func(t *testing.T) {
		rows := make([]map[string]string, 50)
		for i := range rows {
			rows[i] = map[string]string{"email": "bulk" + strconv.Itoa(i) + "@example.com", "role": "agent"}
		}
		if ans := app.invite(t, owner, pid, rows...); len(ans.Invitations) != 50 {
			t.Errorf("%d invitations answered, want 50", len(ans.Invitations))
		}
	})
	t.Run("the new owner may demote the former one, who may then leave", func(t *testing.T) {
		app.command(t, http.MethodPost, p+"/ownership", owner.Token, map[string]string{"account_id": agent.ID}, nil, http.StatusOK)
		app.do(t, http.MethodPost, p+"/leave", agent.Token, nil, nil).wantProblem(t, http.StatusConflict, "owner_cannot_leave")
		app.command(t, http.MethodPut, p+"/members/"+owner.ID+"/role", agent.Token, map[string]string{"role": "agent"}, nil, http.StatusOK)
		pos = app.command(t, http.MethodPost, p+"/leave", owner.Token, nil, nil, http.StatusOK).Position
		if got, _ := app.property(t, pid, agent.Token, pos); got.OwnerID != agent.ID || got.MemberCount != 2 {
			t.Errorf("property %+v, want owned by the agent with 2 members (agent, cara)", got)
		}
	})
}

// TestExpiredInvitations runs with invitations valid for a microsecond, so
// every invitation has expired by the next request.
func TestExpiredInvitations(t *testing.T) {
	t.Parallel()
	app := startApp(t, "ROSTER_INVITE_TTL", "1us")
	owner, pat := app.user(t, "owner"), app.user(t, "pat")
	pid := app.createProperty(t, owner, "Acme").PropertyID
	p := "/v1/properties/" + pid
	inv := app.invite(t, owner, pid, map[string]string{"email": pat.Email, "role": "agent"})
	iid, pos := inv.Invitations[0].ID, inv.Position

	t.Run("an expired invitation is listed as expired, not pending", func(t *testing.T) {
		if got := app.invitations(t, pid, "expired", owner.Token, pos); len(got) != 1 || got[0].Status != "expired" {
			t.Errorf("expired %+v, want the one invitation", got)
		}
		if got := app.invitations(t, pid, "", owner.Token, pos); len(got) != 0 {
			t.Errorf("pending %+v, want none", got)
		}
	})
	t.Run("the invitee no longer sees it", func(t *testing.T) {
		var got struct{ Invitations []myInvitation }
		app.read(t, "/v1/me/invitations", pat.Token, pos).want(t, http.StatusOK).into(t, &got)
		if len(got.Invitations) != 0 {
			t.Errorf("my invitations %+v, want none", got.Invitations)
		}
	})
	t.Run("it cannot be accepted, by either route", func(t *testing.T) {
		app.do(t, http.MethodPost, p+"/invitations/"+iid+"/accept", pat.Token, nil, nil).wantProblem(t, http.StatusConflict, "invitation_expired")
		app.do(t, http.MethodPost, "/v1/invitations/accept", pat.Token, map[string]string{"token": app.inviteToken(t, pat.Email)}, nil).
			wantProblem(t, http.StatusConflict, "invitation_expired")
	})
	t.Run("the email can be invited again, and the old one can still be revoked", func(t *testing.T) {
		app.invite(t, owner, pid, map[string]string{"email": pat.Email, "role": "admin"})
		pos = app.command(t, http.MethodDelete, p+"/invitations/"+iid, owner.Token, nil, nil, http.StatusOK).Position
		if got := app.invitations(t, pid, "revoked", owner.Token, pos); len(got) != 1 || got[0].ID != iid {
			t.Errorf("revoked %+v, want %s", got, iid)
		}
	})
}
