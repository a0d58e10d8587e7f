package main

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOwnerBuildsATeamAndHandsItOver is the story the product exists for,
// told through the real App: every step needs the ones before it, and each
// command's change is read back with Roster-Min-Position.
func TestOwnerBuildsATeamAndHandsItOver(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner, admin, agent, ben := app.user(t, "owner"), app.user(t, "ada.admin"), app.user(t, "agent"), app.user(t, "ben")
	var pid, pos, adminIID, agentIID string
	var rev uint64
	props := func() string { return "/v1/properties/" + pid }
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	// cmd sends a command that must succeed and moves pos and rev on.
	cmd := func(t *testing.T, method, path string, u user, body any, headers map[string]string, status int) answer {
		t.Helper()
		ans := app.command(t, method, path, u.Token, body, headers, status)
		pos, rev = ans.Position, ans.Revision
		return ans
	}
	roles := func(t *testing.T, token string) map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, m := range app.members(t, pid, token, pos) {
			out[m.Email] = m.Role + "/" + m.Status
		}
		return out
	}

	step("the owner creates a property", func(t *testing.T) {
		r := app.do(t, http.MethodPost, "/v1/properties", owner.Token, map[string]string{"name": " Acme Support "}, nil).want(t, http.StatusCreated)
		var ans answer
		r.into(t, &ans)
		pid, pos, rev = ans.PropertyID, ans.Position, ans.Revision
		if r.Header.Get("Location") != props() || !ans.Changed || ans.Revision != 1 {
			t.Errorf("Location %q, answer %+v: want /v1/properties/{id}, changed, revision 1", r.Header.Get("Location"), ans)
		}
		got, _ := app.property(t, pid, owner.Token, pos)
		want := property{ID: pid, Name: "Acme Support", OwnerID: owner.ID, Revision: 1, MemberCount: 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("property (-want +got):\n%s", diff)
		}
	})
	step("the owner invites an admin and an agent in one request", func(t *testing.T) {
		ans := cmd(t, http.MethodPost, props()+"/invitations", owner, map[string]any{"invitations": []map[string]string{
			{"email": " Ada.Admin@Example.COM ", "role": "admin"}, {"email": agent.Email, "role": "Agent"}}}, nil, http.StatusCreated)
		if len(ans.Invitations) != 2 || ans.Revision != 3 {
			t.Fatalf("answer %+v: want two invitations, revision 3", ans)
		}
		adminIID, agentIID = ans.Invitations[0].ID, ans.Invitations[1].ID
		want := []invitation{{adminIID, admin.Email, "admin", "pending"}, {agentIID, agent.Email, "agent", "pending"}}
		if diff := cmp.Diff(want, ans.Invitations); diff != "" {
			t.Errorf("answered invitations (-want +got):\n%s", diff)
		}
		got := app.invitations(t, pid, "pending", owner.Token, pos)
		if diff := cmp.Diff(want, got, sortInvitations); diff != "" {
			t.Errorf("pending invitations (-want +got):\n%s", diff)
		}
	})
	step("the agent sees the invitation among its own", func(t *testing.T) {
		r := app.read(t, "/v1/me/invitations", agent.Token, pos).want(t, http.StatusOK)
		var got struct {
			Invitations   []myInvitation `json:"invitations"`
			EmailVerified bool           `json:"email_verified"`
		}
		r.into(t, &got)
		want := []myInvitation{{ID: agentIID, PropertyID: pid, PropertyName: "Acme Support", Role: "agent",
			InvitedBy: owner.ID, InvitedByEmail: owner.Email}}
		if diff := cmp.Diff(want, got.Invitations); diff != "" || !got.EmailVerified {
			t.Errorf("my invitations (-want +got), email_verified %v:\n%s", got.EmailVerified, diff)
		}
	})
	step("the agent accepts from the dashboard", func(t *testing.T) {
		ans := cmd(t, http.MethodPost, props()+"/invitations/"+agentIID+"/accept", agent, nil, nil, http.StatusOK)
		if ans.InvitationID != agentIID || ans.AccountID != agent.ID || ans.Role != "agent" {
			t.Errorf("answer %+v: want invitation %s, account %s, role agent", ans, agentIID, agent.ID)
		}
		var mine struct{ Invitations []myInvitation }
		app.read(t, "/v1/me/invitations", agent.Token, pos).want(t, http.StatusOK).into(t, &mine)
		if len(mine.Invitations) != 0 {
			t.Errorf("invitations left for the agent %+v, want none", mine.Invitations)
		}
	})
	step("the agent lists the members and sees the owner and itself", func(t *testing.T) {
		want := []member{{agent.ID, agent.Email, "agent", "enabled", false}, {owner.ID, owner.Email, "admin", "enabled", true}}
		if diff := cmp.Diff(want, app.members(t, pid, agent.Token, pos)); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
	})
	step("the agent may neither invite nor change a role", func(t *testing.T) {
		app.do(t, http.MethodPost, props()+"/invitations", agent.Token, map[string]string{"email": "x@example.com", "role": "agent"}, nil).
			wantProblem(t, http.StatusForbidden, "forbidden")
		app.do(t, http.MethodPut, props()+"/members/"+owner.ID+"/role", agent.Token, map[string]string{"role": "agent"}, nil).
			wantProblem(t, http.StatusForbidden, "forbidden")
	})
	step("the owner revokes the admin's invitation", func(t *testing.T) {
		cmd(t, http.MethodDelete, props()+"/invitations/"+adminIID, owner, nil, nil, http.StatusOK)
		if got := app.invitations(t, pid, "revoked", owner.Token, pos); len(got) != 1 || got[0].ID != adminIID {
			t.Errorf("revoked invitations %+v, want only %s", got, adminIID)
		}
		if got := app.invitations(t, pid, "", owner.Token, pos); len(got) != 0 {
			t.Errorf("pending invitations %+v, want none", got)
		}
	})
	step("the owner makes the agent an admin and an agent again", func(t *testing.T) {
		for _, role := range []string{"admin", "agent"} {
			cmd(t, http.MethodPut, props()+"/members/"+agent.ID+"/role", owner, map[string]string{"role": role}, nil, http.StatusOK)
			if got := roles(t, owner.Token)[agent.Email]; got != role+"/enabled" {
				t.Errorf("agent is %s, want %s/enabled", got, role)
			}
		}
	})
	step("a disabled agent reads nothing until enabled again", func(t *testing.T) {
		cmd(t, http.MethodPost, props()+"/members/"+agent.ID+"/disable", owner, nil, nil, http.StatusOK)
		if got := roles(t, owner.Token)[agent.Email]; got != "agent/disabled" {
			t.Errorf("agent is %s, want agent/disabled", got)
		}
		app.read(t, props()+"/members", agent.Token, pos).wantProblem(t, http.StatusNotFound, "property_not_found")
		cmd(t, http.MethodPost, props()+"/members/"+agent.ID+"/enable", owner, nil, nil, http.StatusOK)
		if got := roles(t, agent.Token)[agent.Email]; got != "agent/enabled" {
			t.Errorf("agent is %s, want agent/enabled", got)
		}
	})
	step("the last admin, the owner, can be neither demoted nor disabled", func(t *testing.T) {
		app.do(t, http.MethodPut, props()+"/members/"+owner.ID+"/role", owner.Token, map[string]string{"role": "agent"}, nil).
			wantProblem(t, http.StatusConflict, "last_admin")
		app.do(t, http.MethodPost, props()+"/members/"+owner.ID+"/disable", owner.Token, nil, nil).
			wantProblem(t, http.StatusConflict, "last_admin")
	})
	step("the property shows its counts and its revision as ETag", func(t *testing.T) {
		got, r := app.property(t, pid, agent.Token, pos)
		want := property{ID: pid, Name: "Acme Support", OwnerID: owner.ID, Revision: rev, MemberCount: 2}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("property (-want +got):\n%s", diff)
		}
		if r.Header.Get("ETag") != etag(rev) {
			t.Errorf("ETag %q, want %s", r.Header.Get("ETag"), etag(rev))
		}
	})
	step("If-Match with a stale revision is refused and with the current one goes through", func(t *testing.T) {
		_, r := app.property(t, pid, owner.Token, pos)
		current := r.Header.Get("ETag")
		path, body := props()+"/members/"+agent.ID+"/role", map[string]string{"role": "admin"}
		app.do(t, http.MethodPut, path, owner.Token, body, map[string]string{"If-Match": etag(rev - 1)}).
			wantProblem(t, http.StatusPreconditionFailed, "stale_revision")
		if got := roles(t, owner.Token)[agent.Email]; got != "agent/enabled" {
			t.Errorf("after the stale If-Match the agent is %s, want agent/enabled", got)
		}
		cmd(t, http.MethodPut, path, owner, body, map[string]string{"If-Match": current}, http.StatusOK)
		if got := roles(t, owner.Token)[agent.Email]; got != "admin/enabled" {
			t.Errorf("agent is %s, want admin/enabled", got)
		}
	})
	step("a repeated Idempotency-Key has one effect and the same answer", func(t *testing.T) {
		key := map[string]string{"Idempotency-Key": "invite-ben-1"}
		body := map[string]string{"email": ben.Email, "role": "agent"}
		first := cmd(t, http.MethodPost, props()+"/invitations", owner, body, key, http.StatusCreated)
		again := cmd(t, http.MethodPost, props()+"/invitations", owner, body, key, http.StatusCreated)
		if first.Repeated || !again.Repeated {
			t.Errorf("repeated = %v then %v, want false then true", first.Repeated, again.Repeated)
		}
		again.Repeated = false
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("the repeat answers differently (-first +again):\n%s", diff)
		}
		if got := app.invitations(t, pid, "all", owner.Token, pos); len(got) != 3 {
			t.Errorf("%d invitations in all, want 3 (admin, agent, ben once): %+v", len(got), got)
		}
		if n := len(app.inviteTokens(t, ben.Email)); n != 1 {
			t.Errorf("%d mails to ben, want 1", n)
		}
	})
	step("ben accepts with the emailed token", func(t *testing.T) {
		ans := cmd(t, http.MethodPost, "/v1/invitations/accept", ben, map[string]string{"token": app.inviteToken(t, ben.Email)}, nil, http.StatusOK)
		if ans.AccountID != ben.ID || ans.Role != "agent" {
			t.Errorf("answer %+v: want ben as agent", ans)
		}
	})
	step("the owner transfers ownership to an admin", func(t *testing.T) {
		cmd(t, http.MethodPost, props()+"/ownership", owner, map[string]string{"account_id": agent.ID}, nil, http.StatusOK)
		if got, _ := app.property(t, pid, owner.Token, pos); got.OwnerID != agent.ID {
			t.Errorf("owner_id %s, want the agent %s", got.OwnerID, agent.ID)
		}
		want := []member{{agent.ID, agent.Email, "admin", "enabled", true}, {ben.ID, ben.Email, "agent", "enabled", false},
			{owner.ID, owner.Email, "admin", "enabled", false}}
		if diff := cmp.Diff(want, app.members(t, pid, owner.Token, pos)); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
	})
	step("a member leaves", func(t *testing.T) {
		cmd(t, http.MethodPost, props()+"/leave", ben, nil, nil, http.StatusOK)
		if _, ok := roles(t, owner.Token)[ben.Email]; ok {
			t.Error("ben is still listed after leaving")
		}
		app.read(t, props()+"/members", ben.Token, pos).wantProblem(t, http.StatusNotFound, "property_not_found")
		if got, _ := app.property(t, pid, owner.Token, pos); got.MemberCount != 2 || got.Revision != rev {
			t.Errorf("property %+v, want 2 members at revision %d", got, rev)
		}
	})
}
