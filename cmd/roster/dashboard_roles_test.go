package main

import (
	"slices"
	"strings"
	"testing"
)

// TestDashboardCustomRoles: the owner creates a role under Roles (Admin
// and Agent listed read-only), gives it to a member from the Members
// list, is told in the server's words that a held role cannot be
// deleted, renames it, and finds it in the Invite Member dialog; an
// agent sees the roles with no control.
func TestDashboardCustomRoles(t *testing.T) {
	s := startSettingsStory(t, "Roles shop")
	owner, agentAPI := s.owner, s.agentAPI
	owner.click("tab", "Roles")
	rows := owner.rows("roles")
	if len(rows) != 2 || !strings.HasPrefix(rows[0][0], "Admin") || !strings.Contains(rows[1][0], "Built in") || rows[1][2] != "Cannot be changed" {
		t.Errorf("the built-in roles are listed as %q", rows)
	}

	// A role with no permission is refused in words; then one is created.
	owner.click("button", "New Role")
	owner.waitFor("dialog", "New Role")
	owner.fill("Role name", "Support lead")
	owner.click("button", "Create Role")
	owner.until("the dialog says nothing was saved, and why", `document.querySelector('dialog').innerText.includes('Nothing was saved. A role must hold at least one permission.')`)
	owner.click("checkbox", "Respond to chats")
	owner.click("checkbox", "Manage invitations")
	owner.click("button", "Create Role")
	owner.until("the dialog closes", `document.querySelector('dialog') === null`)
	owner.statusSays("The role Support lead was created")
	rows = owner.rows("roles")
	if len(rows) != 3 || rows[2][0] != "Support lead" || rows[2][1] != "Respond to chats, Manage invitations" {
		t.Errorf("after creating, the roles are %q", rows)
	}

	// The Members list offers it, and the agent takes it.
	owner.click("tab", "Members")
	owner.rows("members")
	owner.choose("Role of agent@example.com", "Support lead")
	owner.statusSays("agent@example.com is now Support lead")

	// A role held is not deleted: the server says who holds it.
	owner.click("tab", "Roles")
	owner.rows("roles")
	owner.click("button", "Delete Support lead")
	owner.click("button", "Delete role")
	owner.viewSays("Support lead was not deleted")
	owner.viewSays("in use by 1 member (" + agentAPI.ID + ")")

	// Renamed, the role keeps its holder.
	owner.click("button", "Edit Support lead")
	owner.waitFor("dialog", "Edit Support lead")
	owner.fill("Role name", "Lead")
	owner.click("button", "Save Role")
	owner.until("the dialog closes", `document.querySelector('dialog') === null`)
	owner.statusSays("The role Lead was saved")
	owner.click("tab", "Members")
	owner.rows("members")
	owner.until("the agent's role reads Lead", `(() => { const s = document.querySelector('#tab-panel table[aria-busy="false"] select[aria-label="Role of agent@example.com"]');
		return s !== null && s.selectedOptions[0].textContent === 'Lead'; })()`)

	// The Invite Member dialog offers it.
	owner.click("button", "Invite Member")
	owner.waitFor("dialog", "Invite Member")
	var options []string
	owner.eval(`Array.from(document.querySelector('dialog select[name="role"]').options).map((o) => o.textContent)`, &options)
	if !slices.Equal(options, []string{"Admin", "Agent", "Lead"}) {
		t.Errorf("the invite dialog offers roles %q", options)
	}
	owner.click("button", "Cancel")
	owner.until("the dialog closes", `document.querySelector('dialog') === null`)

	// The audit tells the role's story, by its name.
	owner.click("tab", "Audit")
	owner.rows("audit")
	owner.viewSays("Role created")
	owner.viewSays("Role renamed")
	owner.viewSays("Role Lead")
	owner.viewSays("Role: Agent → Lead")

	// The agent, now a lead, sees the roles and no control.
	agent := s.agent(t)
	agent.click("tab", "Roles")
	agent.rows("roles")
	if n := agent.count("button", "New Role"); n != 0 {
		t.Errorf("a lead without manage_members sees %d New Role buttons", n)
	}
	for _, p := range []*person{owner, agent} {
		if got := p.problems(); len(got) != 0 {
			t.Errorf("%s's page saw %q", p.name, got)
		}
	}
}
