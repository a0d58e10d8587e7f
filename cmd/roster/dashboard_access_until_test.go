package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// setLocal sets the datetime-local input named name (in the open dialog,
// the i-th) to t in the browser's zone, as a person picking it would.
func (p *person) setLocal(name string, i int, t time.Time) {
	p.t.Helper()
	var ok bool
	p.eval(fmt.Sprintf(`(() => {
		const el = document.querySelectorAll('dialog input[name=%q]')[%d];
		if (!el) return false;
		const d = new Date(%q);
		const pad = (n) => String(n).padStart(2, '0');
		el.value = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
		el.dispatchEvent(new Event('input', { bubbles: true }));
		return true;
	})()`, name, i, t.UTC().Format(time.RFC3339)), &ok)
	if !ok {
		p.t.Fatalf("no input %s #%d in the dialog", name, i+1)
	}
}

// TestDashboardAccessUntil: the owner sees when each member's access ends
// in the Members tab, sets an end (a past one is refused in words), changes
// and clears it, and invites a member whose membership ends; an agent sees
// the ends with no control.
func TestDashboardAccessUntil(t *testing.T) {
	s := startSettingsStory(t, "Ending shop")
	app, pid, owner, ownerAPI, agentAPI := s.app, s.pid, s.owner, s.ownerAPI, s.agentAPI
	owner.rows("members")
	owner.until("the column shows", accessColumn)
	owner.viewSays("No end")
	if n := owner.count("button", "Set when the access of owner@example.com ends"); n != 0 {
		t.Errorf("the owner's row offers %d access ends, want none: the owner's access cannot end", n)
	}

	// A moment in the past is refused, in words, and nothing changes.
	owner.click("button", "Set when the access of agent@example.com ends")
	owner.waitFor("dialog", "Access of agent@example.com")
	owner.setLocal("access_until", 0, time.Now().Add(-2*time.Hour))
	owner.click("button", "Save end")
	owner.until("the refusal shows", `(document.querySelector('dialog .form-error') || {}).textContent?.includes('not in the future')`)

	// A moment ahead is saved and shown beside the member.
	end := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Minute)
	owner.setLocal("access_until", 0, end)
	owner.click("button", "Save end")
	owner.until("the dialog closes", `document.querySelector('dialog') === null`)
	owner.statusSays("The access of agent@example.com ends on")
	var pos string
	owner.eval(`sessionStorage.getItem('roster.position')`, &pos)
	if got := app.accessUntilOf(t, pid, agentAPI.ID, ownerAPI.Token, pos); got == nil || !got.Equal(end) {
		t.Errorf("after saving, the agent's access ends at %v, want %s", got, end)
	}
	owner.rows("members")
	owner.until("the end shows in the row", `document.querySelectorAll('#tab-panel td.access-until time').length === 1`)

	// Cleared, the row says so again.
	owner.click("button", "Set when the access of agent@example.com ends")
	owner.waitFor("dialog", "Access of agent@example.com")
	owner.click("button", "Clear end")
	owner.until("the dialog closes", `document.querySelector('dialog') === null`)
	owner.statusSays("no longer ends")
	owner.eval(`sessionStorage.getItem('roster.position')`, &pos)
	if got := app.accessUntilOf(t, pid, agentAPI.ID, ownerAPI.Token, pos); got != nil {
		t.Errorf("after clearing, the agent's access ends at %v", got)
	}

	// Invite Member: a row may say when the membership ends.
	owner.click("button", "Invite Member")
	owner.waitFor("dialog", "Invite Member")
	owner.fillNth("Email", 0, "temp@example.com")
	invEnd := time.Now().Add(60 * 24 * time.Hour).Truncate(time.Minute)
	owner.setLocal("access_until", 0, invEnd)
	owner.click("button", "Send Invitation")
	owner.until("the dialog closes", `document.querySelector('dialog') === null`)
	owner.statusSays("Invitation sent to temp@example.com")
	owner.eval(`sessionStorage.getItem('roster.position')`, &pos)
	var list struct {
		Invitations []struct {
			Email       string     `json:"email"`
			AccessUntil *time.Time `json:"access_until"`
		} `json:"invitations"`
	}
	app.read(t, "/v1/properties/"+pid+"/invitations", ownerAPI.Token, pos).want(t, http.StatusOK).into(t, &list)
	found := false
	for _, inv := range list.Invitations {
		if inv.Email == "temp@example.com" {
			found = inv.AccessUntil != nil && inv.AccessUntil.Equal(invEnd)
		}
	}
	if !found {
		t.Errorf("the invitation to temp@example.com does not end at %s: %+v", invEnd, list.Invitations)
	}

	// The agent sees the column, and no control.
	agent := s.agent(t)
	agent.rows("members")
	agent.until("the column shows", accessColumn)
	if n := agent.count("button", "Set when the access of owner@example.com ends"); n != 0 {
		t.Errorf("the agent has %d access-end controls", n)
	}
	for _, p := range []*person{owner, agent} {
		if got := p.problems(); len(got) != 0 {
			t.Errorf("%s's page saw %q", p.name, got)
		}
	}
}

// accessColumn is true when the members list has its Access until column.
const accessColumn = `Array.from(document.querySelectorAll('#tab-panel th')).some((th) => th.textContent === 'Access until')`

// accessUntilOf is when accountID's access to pid ends, as the members
// list shows it at pos; nil when it does not.
func (a *testApp) accessUntilOf(t *testing.T, pid, accountID, token, pos string) *time.Time {
	t.Helper()
	var page struct {
		Members []struct {
			AccountID   string     `json:"account_id"`
			AccessUntil *time.Time `json:"access_until"`
		} `json:"members"`
	}
	a.read(t, "/v1/properties/"+pid+"/members", token, pos).want(t, http.StatusOK).into(t, &page)
	for _, m := range page.Members {
		if m.AccountID == accountID {
			return m.AccessUntil
		}
	}
	t.Fatalf("%s is not a member of %s", accountID, pid)
	return nil
}
