package main

import (
	"context"
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
	s := startSettingsStory(t, "Policy shop")
	app, pid, owner, ownerAPI := s.app, s.pid, s.owner, s.ownerAPI
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
	agent := s.agent(t)
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

// settingsStory is where the dashboard's stories of a property's settings
// begin: a property, its owner signed in on its page, and an agent who
// joined it. The page lists the owner's properties from the read models, so
// they have reached the join before it asks, as a person's own commands
// would have.
type settingsStory struct {
	app                *testApp
	base, pid          string
	owner              *person
	ownerAPI, agentAPI user
	browser            context.Context
	artifacts          string
}

func startSettingsStory(t *testing.T, property string) settingsStory {
	t.Helper()
	browserPass(t)
	s := settingsStory{browser: startBrowser(t), artifacts: artifactDir(t)}
	s.app, s.base, _ = dashboardApp(t)
	s.owner = newPerson(t, s.browser, "owner", s.artifacts)
	s.ownerAPI = devToken(t, "owner@example.com")
	s.pid = s.app.createProperty(t, s.ownerAPI, property).PropertyID
	s.agentAPI = devToken(t, "agent@example.com")
	joined := s.app.join(t, s.ownerAPI, s.pid, "agent", s.agentAPI)
	s.app.read(t, "/v1/me/properties", s.ownerAPI.Token, joined).want(t, http.StatusOK)
	s.owner.open(s.base + "/?property=" + s.pid)
	s.owner.signIn(s.base, "owner@example.com")
	return s
}

// agent opens the property's page signed in as the agent.
func (s settingsStory) agent(t *testing.T) *person {
	t.Helper()
	agent := newPerson(t, s.browser, "agent", s.artifacts)
	agent.open(s.base + "/?property=" + s.pid)
	agent.signIn(s.base, "agent@example.com")
	return agent
}
