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

// Permissions returns, in table order, what a member with this role may do.
// A disabled member may do nothing. The result is a fresh slice.
func Permissions(role Role, owner bool, status MemberStatus) []Permission {
	if status != StatusEnabled {
		return []Permission{}
	}
	perms := make([]Permission, 0, len(permissionTable))
	for _, g := range permissionTable {
		if g.allows(role, owner) {
			perms = append(perms, g.perm)
		}
	}
	return perms
}

// Allowed reports whether a member with this role, ownership and status holds perm.
func Allowed(role Role, owner bool, status MemberStatus, perm Permission) bool {
	if status != StatusEnabled {
		return false
	}
	for _, g := range permissionTable {
		if g.perm == perm {
			return g.allows(role, owner)
		}
	}
	return false
}

func (g grant) allows(role Role, owner bool) bool {
	switch {
	case owner:
		return g.owner
	case role == RoleAdmin:
		return g.admin
	case role == RoleAgent:
		return g.agent
	}
	return false
}
