package domain

import "strings"

// Role is what a member is to a property. The owner is an Admin with one
// extra right, so it is not a role of its own but a flag on the property.
type Role string

// The roles an invitation or a role change may name.
const (
	RoleAdmin Role = "admin"
	RoleAgent Role = "agent"
)

// ParseRole reads a role as a client sends it (case-insensitive).
// It returns an *Error with CodeInvalidRole for anything else.
func ParseRole(s string) (Role, error) {
	switch Role(strings.ToLower(strings.TrimSpace(s))) {
	case RoleAdmin:
		return RoleAdmin, nil
	case RoleAgent:
		return RoleAgent, nil
	}
	return "", Errorf(KindInvalid, CodeInvalidRole, "role %q is not one of admin, agent", s)
}

// Permission is one thing a member may do on a property.
type Permission string

// The permissions a member may hold; permissionTable says which role holds each.
const (
	PermRespondToChats       Permission = "respond_to_chats"
	PermRespondToTickets     Permission = "respond_to_tickets"
	PermAccessReporting      Permission = "access_reporting"
	PermAccessMessaging      Permission = "access_messaging"
	PermEditKnowledgeBase    Permission = "edit_knowledge_base"
	PermEditShortcuts        Permission = "edit_shortcuts"
	PermViewMembers          Permission = "view_members"
	PermManageInvitations    Permission = "manage_invitations"
	PermManageMembers        Permission = "manage_members"
	PermAdministrateSettings Permission = "administrate_settings"
	PermTransferOwnership    Permission = "transfer_ownership"
)

// grant is one row of the permission table.
type grant struct {
	perm                Permission
	owner, admin, agent bool
}

// permissionTable is the whole permission model as data: a new permission or
// role is a row or a column here, not a new code path.
var permissionTable = []grant{
	{PermRespondToChats, true, true, true},
	{PermRespondToTickets, true, true, true},
	{PermAccessReporting, true, true, true},
	{PermAccessMessaging, true, true, true},
	{PermEditKnowledgeBase, true, true, true},
	{PermEditShortcuts, true, true, true},
	{PermViewMembers, true, true, true},
	{PermManageInvitations, true, true, false},
	{PermManageMembers, true, true, false},
	{PermAdministrateSettings, true, true, false},
	{PermTransferOwnership, true, false, false},
}

// Permissions returns, in table order, what a member with this built-in
// role may do; a custom role gives nothing here (Roles.Permissions knows
// them). A disabled member may do nothing. The result is a fresh slice.
func Permissions(role Role, owner bool, status MemberStatus) []Permission {
	return Roles(nil).Permissions(role, owner, status)
}

// Allowed reports whether a member with this built-in role, ownership and
// status holds perm; see Roles.Allowed for a property's custom roles.
func Allowed(role Role, owner bool, status MemberStatus, perm Permission) bool {
	return Roles(nil).Allowed(role, owner, status, perm)
}

// Roles is what a property's custom roles grant: each custom role's ID and
// its permissions. The built-in roles and the owner are always evaluated
// from the permission table, so a nil Roles is a property without custom
// roles (docs/ARCHITECTURE.md section 13). It is read-only once built and
// then safe for concurrent use.
type Roles map[Role][]Permission

// Permissions returns, in table order, what a member with this role,
// ownership and status may do in the property these roles belong to. The
// owner holds every permission whatever its role; a disabled member none.
// The result is a fresh slice.
func (rs Roles) Permissions(role Role, owner bool, status MemberStatus) []Permission {
	if status != StatusEnabled {
		return []Permission{}
	}
	perms := make([]Permission, 0, len(permissionTable))
	for _, g := range permissionTable {
		if rs.grants(g, role, owner) {
			perms = append(perms, g.perm)
		}
	}
	return perms
}

// Allowed reports whether a member with this role, ownership and status
// holds perm in the property these roles belong to.
func (rs Roles) Allowed(role Role, owner bool, status MemberStatus, perm Permission) bool {
	if status != StatusEnabled {
		return false
	}
	for _, g := range permissionTable {
		if g.perm == perm {
			return rs.grants(g, role, owner)
		}
	}
	return false
}

func (rs Roles) grants(g grant, role Role, owner bool) bool {
	switch {
	case owner:
		return g.owner
	case role == RoleAdmin:
		return g.admin
	case role == RoleAgent:
		return g.agent
	}
	for _, p := range rs[role] {
		if p == g.perm {
			return g.perm != PermTransferOwnership
		}
	}
	return false
}

// BuiltinRoles lists the roles every property has, in the order a client
// shows them; their permissions are the table's and never change.
func BuiltinRoles() []Role { return []Role{RoleAdmin, RoleAgent} }

// AllPermissions lists every permission of the table, in table order.
func AllPermissions() []Permission {
	out := make([]Permission, len(permissionTable))
	for i, g := range permissionTable {
		out[i] = g.perm
	}
	return out
}

// customRolePrefix starts every custom role's ID, so an ID is never taken
// for a built-in role's name or a role's name, and a reader can tell a
// custom role from a built-in one without the property's definitions.
const customRolePrefix = "role-"

// IsCustomRole reports whether r names a custom role (by its ID).
func IsCustomRole(r Role) bool { return strings.HasPrefix(string(r), customRolePrefix) }

// CustomRoleID is the role ID a custom role gets from a fresh unique id
// (a UUID the command layer chooses).
func CustomRoleID(unique string) Role { return Role(customRolePrefix + unique) }

// ParseRoleRef reads a role as a filter names it: a built-in role
// (case-insensitive) or a custom role's ID. Unlike Property.resolveRole it
// knows no property, so it cannot tell whether a custom role exists, and it
// does not take names. Errors: CodeInvalidRole.
func ParseRoleRef(s string) (Role, error) {
	t := strings.TrimSpace(s)
	if r := Role(t); IsCustomRole(r) && len(t) <= maxRoleIDLength && !strings.ContainsFunc(t, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
		return r, nil
	}
	r, err := ParseRole(s)
	if err != nil {
		return "", Errorf(KindInvalid, CodeInvalidRole, "role %q is not one of admin, agent or a custom role's id (role-...)", s)
	}
	return r, nil
}

// maxRoleIDLength bounds a custom role's ID as a filter may name it.
const maxRoleIDLength = 64
