package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
)

const (
	leadID  = domain.Role("role-lead")
	coachID = domain.Role("role-coach")
)

// Custom roles of the tests: lead may invite and manage members, coach
// only answers chats and edits the knowledge base.
var (
	leadPerms  = []domain.Permission{domain.PermRespondToChats, domain.PermViewMembers, domain.PermManageInvitations, domain.PermManageMembers}
	coachPerms = []domain.Permission{domain.PermRespondToChats, domain.PermEditKnowledgeBase}
)

func roleCreated(id domain.Role, name string, perms ...domain.Permission) domain.RoleCreated {
	return domain.RoleCreated{Schema: domain.SchemaV1, RoleID: id, Name: name, Permissions: perms}
}

func names(perms []domain.Permission) []string {
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = string(p)
	}
	return out
}

func createRole(a domain.Actor, id domain.Role, name string, perms ...string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.CreateRole(a, id, name, perms) }
}

func renameRole(a domain.Actor, id, name string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.RenameRole(a, id, name) }
}

func setRolePerms(a domain.Actor, id string, perms ...string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.SetRolePermissions(a, id, perms) }
}

func deleteRole(a domain.Actor, id string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.DeleteRole(a, id) }
}

// roled is team with the lead and coach roles defined and nobody holding them.
func roled() []domain.Event {
	return events(team(), roleCreated(leadID, "Lead", leadPerms...), roleCreated(coachID, "Coach", coachPerms...))
}

// Defining roles: who may, and what a name and a permission set must be.
func TestCustomRoles_Create(t *testing.T) {
	many := team()
	for i := range domain.MaxRolesPerProperty {
		many = append(many, roleCreated(domain.Role(fmt.Sprintf("role-%d", i)), fmt.Sprintf("R%d", i), domain.PermRespondToChats))
	}
	run(t, []spec{
		{name: "an admin defines a role; permissions come back once each in table order", given: team(),
			when: createRole(admin, leadID, "  Lead ", "manage_members", "respond_to_chats", "VIEW_MEMBERS", "manage_invitations", "respond_to_chats"),
			then: []domain.Event{roleCreated(leadID, "Lead", leadPerms...)}},
		{name: "the owner defines a role", given: team(), when: createRole(owner, coachID, "Coach", names(coachPerms)...),
			then: []domain.Event{roleCreated(coachID, "Coach", coachPerms...)}},
		{name: "an agent may not define roles", given: team(), when: createRole(agent, leadID, "Lead", "respond_to_chats"),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "manage_members"}},
		{name: "a disabled admin may not define roles", given: team(), when: createRole(offAdmin, leadID, "Lead", "respond_to_chats"),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeAccessDisabled}},
		{name: "an outsider is told the property does not exist", given: team(), when: createRole(outsider, leadID, "Lead", "respond_to_chats"),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
		{name: "a duplicate name is refused whatever its case", given: roled(), when: createRole(admin, "role-new", "lEAD", "respond_to_chats"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeRoleNameTaken, says: "Lead"}},
		{name: "a built-in role's name is refused", given: team(), when: createRole(admin, "role-new", "Admin", "respond_to_chats"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRoleName, says: "built-in"}},
		{name: "agent is refused as a name too", given: team(), when: createRole(admin, "role-new", "agent", "respond_to_chats"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRoleName}},
		{name: "a blank name is refused", given: team(), when: createRole(admin, "role-new", "  ", "respond_to_chats"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRoleName}},
		{name: "a name over 50 characters is refused", given: team(),
			when:  createRole(admin, "role-new", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "respond_to_chats"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRoleName, says: "longer than 50"}},
		{name: "a name with a control character is refused", given: team(), when: createRole(admin, "role-new", "Le\x07ad", "respond_to_chats"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRoleName, says: "control character"}},
		{name: "a name that looks like a role id is refused", given: team(), when: createRole(admin, "role-new", "Role-lead", "respond_to_chats"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRoleName, says: "role-"}},
		{name: "an unknown permission is named", given: team(), when: createRole(admin, "role-new", "Lead", "respond_to_chats", "fly_planes", "sing"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidPermission, says: `"fly_planes", "sing"`}},
		{name: "transfer_ownership stays the owner's", given: team(), when: createRole(owner, "role-new", "Heir", "transfer_ownership"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidPermission, says: "owner alone"}},
		{name: "a role without permissions is refused", given: team(), when: createRole(admin, "role-new", "Nobody"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeNoPermissions}},
		{name: "a property holds at most 50 custom roles", given: many, when: createRole(admin, "role-new", "One more", "respond_to_chats"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeTooManyRoles, says: "50"}},
		{name: "a reused role id is refused", given: roled(), when: createRole(admin, leadID, "Other", "respond_to_chats"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeInvalidID}},
		{name: "an id that is not a custom role id is refused", given: team(), when: createRole(admin, "admin", "Other", "respond_to_chats"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeInvalidID}},
	})
}

// Renaming, changing permissions and deleting; the built-ins stay as they are.
func TestCustomRoles_ChangeAndDelete(t *testing.T) {
	held := events(roled(), joined(pat, leadID), invited("inv-zoe", "zoe@example.com", coachID, later))
	run(t, []spec{
		{name: "rename keeps the id", given: roled(), when: renameRole(admin, string(leadID), "Team lead"),
			then: []domain.Event{domain.RoleRenamed{Schema: domain.SchemaV1, RoleID: leadID, From: "Lead", To: "Team lead"}}},
		{name: "rename to the same name changes nothing", given: roled(), when: renameRole(admin, string(leadID), "Lead")},
		{name: "rename to another case of its own name is allowed", given: roled(), when: renameRole(admin, string(leadID), "LEAD"),
			then: []domain.Event{domain.RoleRenamed{Schema: domain.SchemaV1, RoleID: leadID, From: "Lead", To: "LEAD"}}},
		{name: "rename to another role's name is refused", given: roled(), when: renameRole(admin, string(leadID), "coach"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeRoleNameTaken, says: "Coach"}},
		{name: "rename of an unknown role is a 404", given: roled(), when: renameRole(admin, "role-nope", "X"),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeRoleNotFound, says: "role-nope"}},
		{name: "admin cannot be renamed", given: roled(), when: renameRole(owner, "admin", "Boss"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeBuiltinRole, says: "built in"}},
		{name: "agent's permissions cannot be changed", given: roled(), when: setRolePerms(owner, "Agent", "respond_to_chats"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeBuiltinRole}},
		{name: "agent cannot be deleted", given: roled(), when: deleteRole(owner, "agent"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeBuiltinRole}},
		{name: "an agent may not rename roles", given: roled(), when: renameRole(agent, string(leadID), "X"),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden}},
		{name: "permissions change, with those before", given: roled(), when: setRolePerms(admin, string(coachID), "edit_shortcuts", "respond_to_chats"),
			then: []domain.Event{domain.RolePermissionsChanged{Schema: domain.SchemaV1, RoleID: coachID, From: coachPerms,
				To: []domain.Permission{domain.PermRespondToChats, domain.PermEditShortcuts}}}},
		{name: "the same permissions change nothing", given: roled(), when: setRolePerms(admin, string(coachID), "edit_knowledge_base", "respond_to_chats")},
		{name: "an unknown permission is named on change", given: roled(), when: setRolePerms(admin, string(coachID), "respond_to_chats", "teleport"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidPermission, says: `"teleport"`}},
		{name: "no permissions on change is refused", given: roled(), when: setRolePerms(admin, string(coachID)),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeNoPermissions}},
		{name: "an unused role is deleted", given: roled(), when: deleteRole(admin, string(coachID)),
			then: []domain.Event{domain.RoleDeleted{Schema: domain.SchemaV1, RoleID: coachID, Name: "Coach"}}},
		{name: "a role a member holds is not deleted; the member is named", given: held, when: deleteRole(admin, string(leadID)),
			fails: failure{kind: domain.KindConflict, code: domain.CodeRoleInUse, says: "in use by 1 member (" + pat.AccountID + ")"}},
		{name: "a role a pending invitation holds is not deleted; the email is named", given: held, when: deleteRole(admin, string(coachID)),
			fails: failure{kind: domain.KindConflict, code: domain.CodeRoleInUse, says: "1 pending invitation (zoe@example.com)"}},
		{name: "a role held only by a revoked invitation is deleted", given: events(held, domain.InvitationRevoked{Schema: 1, InvitationID: "inv-zoe"}),
			when: deleteRole(admin, string(coachID)),
			then: []domain.Event{domain.RoleDeleted{Schema: domain.SchemaV1, RoleID: coachID, Name: "Coach"}}},
		{name: "a deleted role is gone", given: events(roled(), domain.RoleDeleted{Schema: 1, RoleID: coachID, Name: "Coach"}),
			when:  deleteRole(admin, string(coachID)),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeRoleNotFound}},
	})
}

// A refused deletion names at most ten holders and counts the rest.
func TestCustomRoles_InUseListIsBounded(t *testing.T) {
	given := roled()
	for i := range 12 {
		given = append(given, joined(domain.Actor{AccountID: fmt.Sprintf("acc-%02d", i), Email: fmt.Sprintf("m%02d@example.com", i)}, leadID))
	}
	given = append(given, invited("inv-zoe", "zoe@example.com", leadID, later))
	run(t, []spec{{name: "twelve members and an invitation", given: given, when: deleteRole(admin, string(leadID)),
		fails: failure{kind: domain.KindConflict, code: domain.CodeRoleInUse,
			says: "12 members (acc-00, acc-01, acc-02, acc-03, acc-04, acc-05, acc-06, acc-07, acc-08, acc-09 and 2 more) and 1 pending invitation"}}})
}

// Inviting and changing a role take a custom role by ID or by name; the
// events hold the ID.
func TestCustomRoles_InviteAndChangeRole(t *testing.T) {
	run(t, []spec{
		{name: "invite with a custom role's id", given: roled(), when: invite(admin, row("inv-1", "new@example.com", string(leadID))),
			then: []domain.Event{newInvite(admin, "inv-1", "new@example.com", leadID)}},
		{name: "invite with a custom role's name, any case", given: roled(), when: invite(admin, row("inv-1", "new@example.com", "COACH")),
			then: []domain.Event{newInvite(admin, "inv-1", "new@example.com", coachID)}},
		{name: "invite with an unknown role names it", given: roled(), when: invite(admin, row("inv-1", "new@example.com", "role-gone")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRole, says: "role-gone"}},
		{name: "change a member to a custom role", given: roled(), when: changeRole(admin, ted, "Lead"),
			then: []domain.Event{roleChanged(ted, domain.RoleAgent, leadID)}},
		{name: "change to an unknown role", given: roled(), when: changeRole(admin, ted, "Boss"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRole, says: "Boss"}},
		{name: "a custom role with manage_invitations invites", given: events(roled(), joined(pat, leadID)),
			when: invite(pat, row("inv-1", "new@example.com", "agent")),
			then: []domain.Event{newInvite(pat, "inv-1", "new@example.com", domain.RoleAgent)}},
		{name: "a custom role without manage_invitations does not; the error names the role", given: events(roled(), joined(pat, coachID)),
			when:  invite(pat, row("inv-1", "new@example.com", "agent")),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "your role Coach"}},
		{name: "a holder loses a permission the role loses", given: events(roled(), joined(pat, leadID),
			domain.RolePermissionsChanged{Schema: 1, RoleID: leadID, From: leadPerms, To: coachPerms}),
			when:  invite(pat, row("inv-1", "new@example.com", "agent")),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden}},
		{name: "ownership never goes to a custom role", given: events(roled(), joined(pat, leadID)), when: transfer(owner, pat),
			fails: failure{kind: domain.KindConflict, code: domain.CodeNewOwnerNotAdmin}},
	})
}

// Invariant 8 in terms of manage_members: some enabled member can always
// manage members. legacy is a history where the owner is disabled (written
// before the owner was protected) and pat, a lead, is the only enabled
// member who can manage members.
func TestInvariant8_LastManagerWithACustomRole(t *testing.T) {
	legacy := events(created(), roleCreated(leadID, "Lead", leadPerms...), roleCreated(coachID, "Coach", coachPerms...),
		joined(pat, leadID), joined(agent, domain.RoleAgent), disabled(owner))
	withAdmin := events(legacy, joined(admin, domain.RoleAdmin))
	run(t, []spec{
		{name: "the last manager's role cannot lose manage_members", given: legacy,
			when:  setRolePerms(pat, string(leadID), "respond_to_chats", "manage_invitations"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin, says: "can manage members"}},
		{name: "the role may keep manage_members and lose the rest", given: legacy,
			when: setRolePerms(pat, string(leadID), "manage_members"),
			then: []domain.Event{domain.RolePermissionsChanged{Schema: 1, RoleID: leadID, From: leadPerms, To: []domain.Permission{domain.PermManageMembers}}}},
		{name: "the role may lose manage_members while an admin remains", given: withAdmin,
			when: setRolePerms(pat, string(leadID), "respond_to_chats"),
			then: []domain.Event{domain.RolePermissionsChanged{Schema: 1, RoleID: leadID, From: leadPerms, To: []domain.Permission{domain.PermRespondToChats}}}},
		{name: "the last manager cannot take a role without manage_members", given: legacy, when: changeRole(pat, pat, "Coach"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "the last manager cannot become an agent", given: legacy, when: changeRole(pat, pat, "agent"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "the last manager may take another role that can manage members", given: events(legacy,
			roleCreated("role-boss", "Boss", domain.PermManageMembers)), when: changeRole(pat, pat, "Boss"),
			then: []domain.Event{roleChanged(pat, leadID, "role-boss")}},
		{name: "the last manager cannot be disabled", given: legacy, when: disable(pat, pat),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "the last manager cannot be removed", given: legacy, when: remove(pat, pat),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "the last manager cannot leave", given: legacy, when: leave(pat),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "an admin may demote the last lead", given: withAdmin, when: changeRole(admin, pat, "agent"),
			then: []domain.Event{roleChanged(pat, leadID, domain.RoleAgent)}},
		{name: "a lead may demote the last admin", given: withAdmin, when: changeRole(pat, admin, "agent"),
			then: []domain.Event{roleChanged(admin, domain.RoleAdmin, domain.RoleAgent)}},
	})
}

// A manager whose access has come to its end counts as disabled from that
// moment, before MemberAccessExpired is appended: it cannot be the manager
// that keeps invariant 8.
func TestInvariant8_AManagerWhoseAccessEndedDoesNotCount(t *testing.T) {
	twoLeads := events(created(), roleCreated(leadID, "Lead", leadPerms...),
		joined(pat, leadID), joined(ted, leadID), untilChanged(pat, ted, ptr(until)), disabled(owner))
	run(t, []spec{
		{name: "before the end, the other lead keeps the property managed", given: twoLeads,
			when: decideAt(until.Add(-time.Second), changeRole(pat, pat, "agent")),
			then: []domain.Event{roleChanged(pat, leadID, domain.RoleAgent)}},
		{name: "from the end on, the last lead cannot step down", given: twoLeads,
			when:  decideAt(until, changeRole(pat, pat, "agent")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "from the end on, the role cannot lose manage_members", given: twoLeads,
			when:  decideAt(until, setRolePerms(pat, string(leadID), "respond_to_chats")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
	})
}

// What a property's roles grant, role by role: the owner everything, the
// built-ins the table, a custom role its set (never transfer_ownership).
func TestRolesPermissions(t *testing.T) {
	rs := domain.Roles{leadID: leadPerms, "role-greedy": {domain.PermTransferOwnership, domain.PermViewMembers}}
	tests := []struct {
		name   string
		role   domain.Role
		owner  bool
		status domain.MemberStatus
		want   []domain.Permission
	}{
		{"a custom role holds its set", leadID, false, domain.StatusEnabled, leadPerms},
		{"a disabled holder holds nothing", leadID, false, domain.StatusDisabled, []domain.Permission{}},
		{"the owner holds everything whatever the role", leadID, true, domain.StatusEnabled, domain.AllPermissions()},
		{"a built-in keeps the table", domain.RoleAgent, false, domain.StatusEnabled, everyone},
		{"a role not defined holds nothing", coachID, false, domain.StatusEnabled, []domain.Permission{}},
		{"transfer_ownership is never a role's", "role-greedy", false, domain.StatusEnabled, []domain.Permission{domain.PermViewMembers}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rs.Permissions(tt.role, tt.owner, tt.status)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Permissions mismatch (-want +got):\n%s", diff)
			}
			for _, perm := range domain.AllPermissions() {
				want := false
				for _, g := range tt.want {
					want = want || g == perm
				}
				if got := rs.Allowed(tt.role, tt.owner, tt.status, perm); got != want {
					t.Errorf("Allowed(%s) = %v, want %v", perm, got, want)
				}
			}
		})
	}
	if got := domain.Permissions(leadID, false, domain.StatusEnabled); len(got) != 0 {
		t.Errorf("without the property's roles a custom role holds %v, want nothing", got)
	}
}

// Replaying role events rebuilds the definitions in creation order.
func TestCustomRoles_Replay(t *testing.T) {
	p := given(events(roled(),
		domain.RoleRenamed{Schema: 1, RoleID: leadID, From: "Lead", To: "Team lead"},
		domain.RolePermissionsChanged{Schema: 1, RoleID: coachID, From: coachPerms, To: []domain.Permission{domain.PermEditShortcuts}},
		roleCreated("role-3", "Third", domain.PermViewMembers),
		domain.RoleDeleted{Schema: 1, RoleID: leadID, Name: "Team lead"})...)
	var got []string
	for _, d := range p.RolesInOrder() {
		got = append(got, fmt.Sprintf("%s=%s%v", d.ID, d.Name, d.Permissions))
	}
	want := []string{"role-coach=Coach[edit_shortcuts]", "role-3=Third[view_members]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("roles after replay (-want +got):\n%s", diff)
	}
}

// Nobody hands out a permission the table keeps from agents (managing
// invitations or members, administering settings) that they do not hold
// themselves: by inviting, changing a role, or defining one.
func TestCustomRoles_NoOneGivesWhatTheyLack(t *testing.T) {
	// pat is a lead: manage_invitations and manage_members, no administrate_settings.
	given := events(roled(), joined(pat, leadID))
	run(t, []spec{
		{name: "a lead cannot invite an admin", given: given, when: invite(pat, row("inv-1", "new@example.com", "admin")),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "administrate_settings"}},
		{name: "a lead invites another lead", given: given, when: invite(pat, row("inv-1", "new@example.com", "Lead")),
			then: []domain.Event{newInvite(pat, "inv-1", "new@example.com", leadID)}},
		{name: "a lead cannot make an agent an admin", given: given, when: changeRole(pat, ted, "admin"),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "your role Lead"}},
		{name: "a lead makes an agent a coach", given: given, when: changeRole(pat, ted, "coach"),
			then: []domain.Event{roleChanged(ted, domain.RoleAgent, coachID)}},
		{name: "a lead cannot define a role with administrate_settings", given: given,
			when:  createRole(pat, "role-new", "Settings", "administrate_settings"),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "administrate_settings"}},
		{name: "a lead cannot give a role administrate_settings", given: given,
			when:  setRolePerms(pat, string(coachID), "respond_to_chats", "administrate_settings"),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden}},
		{name: "an admin gives any role anything", given: given, when: setRolePerms(admin, string(coachID), "administrate_settings"),
			then: []domain.Event{domain.RolePermissionsChanged{Schema: 1, RoleID: coachID, From: coachPerms,
				To: []domain.Permission{domain.PermAdministrateSettings}}}},
	})
}
