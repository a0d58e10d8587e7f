package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDashboardInvitationPolicy: the owner sets the property's invitation
// policy under Settings; the Invite Member dialog then offers lifetimes up
// to the maximum in each row's Lifetime, a row that chooses none lasts the
// default, and the audit shows the change; an agent has no Settings tab.
func TestDashboardInvitationPolicy(t *testing.T) {
	browserPass(t)
	b := startBrowser(t)
	app, base, _ := dashboardApp(t)
	artifacts := artifactDir(t)
	owner := newPerson(t, b, "owner", artifacts)
	ownerAPI := devToken(t, "owner@example.com")
	pid := app.createProperty(t, ownerAPI, "Policy shop").PropertyID
	agentAPI := devToken(t, "agent@example.com")
	joined := app.join(t, ownerAPI, pid, "agent", agentAPI)
	// The page lists the owner's properties from the read models: let them
	// reach the join before it asks, as a person's own commands would.
	app.read(t, "/v1/me/properties", ownerAPI.Token, joined).want(t, http.StatusOK)

	owner.open(base + "/?property=" + pid)
	owner.signIn(base, "owner@example.com")
	owner.click("tab", "Settings")
	owner.waitFor("combobox", "Default lifetime")
	owner.viewSays("follows the service's default")
	var shown struct{ Default, Maximum string }
	owner.eval(`({default: document.getElementById(document.querySelector('label[for^="policy-default"]').htmlFor).selectedOptions[0].textContent,
		maximum: document.getElementById(document.querySelector('label[for^="policy-maximum"]').htmlFor).selectedOptions[0].textContent})`, &shown)
	if shown.Default != "7 days" || shown.Maximum != "30 days" {
		t.Errorf("before any policy the form shows %+v, want the service's 7 days and 30 days", shown)
	}

	// A default above the maximum is refused in words, and nothing is saved.
	owner.choose("Default lifetime", "14 days")
	owner.choose("Maximum lifetime", "3 days")
	owner.click("button", "Save policy")
	owner.viewSays("Nothing was saved")
	owner.viewSays("longer than the maximum")
	var invalid bool
	owner.eval(`document.querySelector('select[name="default_lifetime"]').getAttribute('aria-invalid') === 'true'`, &invalid)
	if !invalid {
		t.Error("the refused default is not marked invalid")
	}
	owner.choose("Default lifetime", "1 day")
	owner.click("button", "Save policy")
	owner.statusSays("Invitations now last 1 day unless chosen, at most 3 days")
	owner.viewSays("This property's admins set this policy")

	// The dialog offers lifetimes up to the maximum; one row chooses 6
	// hours, the other takes the default.
	owner.click("tab", "Members")
	owner.click("button", "Invite Member")
	owner.waitFor("dialog", "Invite Member")
	owner.waitFor("combobox", "Lifetime")
	var options []string
	owner.eval(`Array.from(document.querySelector('dialog select[name="lifetime"]').options).map((o) => o.textContent)`, &options)
	if got, want := strings.Join(options, ", "), "Default (1 day), 1 hour, 6 hours, 1 day, 3 days"; got != want {
		t.Errorf("Lifetime offers %s, want %s", got, want)
	}
	owner.fillNth("Email", 0, "short@example.com")
	owner.chooseNth("Lifetime", 0, "6 hours")
	owner.click("button", "+ Add Another")
	owner.fillNth("Email", 1, "default@example.com")
	before := time.Now().Add(-time.Second)
	owner.click("button", "Send Invitation")
	owner.until("the dialog closes", `document.querySelector('dialog') === null`)
	owner.statusSays("2 invitations sent")
	after := time.Now().Add(time.Second)

	var pos string // the position of the page's last command
	owner.eval(`sessionStorage.getItem('roster.position')`, &pos)
	want := map[string]time.Duration{"short@example.com": 6 * time.Hour, "default@example.com": 24 * time.Hour}
	for _, inv := range app.pendingExpiries(t, pid, ownerAPI.Token, pos) {
		if d, ok := want[inv.Email]; ok {
			delete(want, inv.Email)
			if inv.ExpiresAt.Before(before.Add(d)) || inv.ExpiresAt.After(after.Add(d)) {
				t.Errorf("%s expires at %v, want %v after it was sent", inv.Email, inv.ExpiresAt, d)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("no invitation to %v", want)
	}

	// The audit names the change.
	owner.click("tab", "Audit")
	owner.rows("audit")
	owner.viewSays("Invitation policy changed")
	owner.viewSays("default 1 day; maximum 3 days")

	// An agent has no Settings.
	agent := newPerson(t, b, "agent", artifacts)
	agent.open(base + "/?property=" + pid)
	agent.signIn(base, "agent@example.com")
	agent.waitFor("tab", "Members")
	if n := agent.count("tab", "Settings"); n != 0 {
		t.Errorf("the agent sees %d Settings tabs, want none", n)
	}
	for _, p := range []*person{owner, agent} {
		if got := p.problems(); len(got) != 0 {
			t.Errorf("%s's page saw %q", p.name, got)
		}
	}
}
