package domain

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The rules a role decision checks: which role a client names, what a
// role's name and permissions may be, that a manager remains (invariant 8
// in docs/ARCHITECTURE.md), and that nobody gives what they lack.

// customRole returns the custom role with id. A built-in role is refused
// with CodeBuiltinRole: it exists, but it is not the property's to change.
func (p *Property) customRole(id string) (*RoleDef, error) {
	if r, err := ParseRole(id); err == nil {
		return nil, Errorf(KindConflict, CodeBuiltinRole, "role %s is built in: it cannot be renamed, changed or deleted", r)
	}
	d := p.CustomRoles[Role(strings.TrimSpace(id))]
	if d == nil {
		return nil, Errorf(KindNotFound, CodeRoleNotFound, "role %q does not exist in property %s", id, p.ID)
	}
	return d, nil
}

// checkRoleName normalises a role's name as a property's name is, and
// checks its length and that no other role (self excepted) is called so,
// whatever the case.
func (p *Property) checkRoleName(raw string, self Role) (string, error) {
	clean, err := normalizeName(raw)
	if err != nil {
		return "", Errorf(KindInvalid, CodeInvalidRoleName, "role %s", err.Error())
	}
	if utf8.RuneCountInString(clean) > maxRoleNameLength {
		return "", Errorf(KindInvalid, CodeInvalidRoleName, "role name %q is longer than %d characters", clean, maxRoleNameLength)
	}
	for _, r := range reservedRoleNames {
		if strings.EqualFold(clean, r) {
			return "", Errorf(KindInvalid, CodeInvalidRoleName, "role name %q is taken by a built-in role", clean)
		}
	}
	if IsCustomRole(Role(strings.ToLower(clean))) {
		return "", Errorf(KindInvalid, CodeInvalidRoleName, "role name %q may not start with %q, which role ids do", clean, customRolePrefix)
	}
	for _, d := range p.CustomRoles {
		if d.ID != self && strings.EqualFold(d.Name, clean) {
			return "", Errorf(KindConflict, CodeRoleNameTaken, "property %s has a role called %s already", p.ID, d.Name)
		}
	}
	return clean, nil
}

// ParsePermissions reads a custom role's permissions: at least one, each
// one of the table but transfer_ownership (the owner's alone). It returns
// them once each, in table order. Errors: CodeNoPermissions,
// CodeInvalidPermission naming every unknown one.
func ParsePermissions(names []string) ([]Permission, error) {
	if len(names) == 0 {
		return nil, Errorf(KindInvalid, CodeNoPermissions, "a role must hold at least one permission")
	}
	want := map[Permission]bool{}
	var unknown []string
	for _, n := range names {
		perm := Permission(strings.ToLower(strings.TrimSpace(n)))
		switch {
		case perm == PermTransferOwnership:
			return nil, Errorf(KindInvalid, CodeInvalidPermission,
				"permission %s belongs to the owner alone; a role cannot hold it", PermTransferOwnership)
		case !slices.Contains(AllPermissions(), perm):
			unknown = append(unknown, fmt.Sprintf("%q", n))
		default:
			want[perm] = true
		}
	}
	if len(unknown) > 0 {
		return nil, Errorf(KindInvalid, CodeInvalidPermission, "unknown permission %s; a role may hold %s",
			strings.Join(unknown, ", "), strings.Join(grantable(), ", "))
	}
	var out []Permission
	for _, perm := range AllPermissions() {
		if want[perm] {
			out = append(out, perm)
		}
	}
	return out, nil
}

// grantable lists the permissions a custom role may hold.
func grantable() []string {
	var out []string
	for _, perm := range AllPermissions() {
		if perm != PermTransferOwnership {
			out = append(out, string(perm))
		}
	}
	return out
}

// resolveRole reads a role as an invitation or a role change names it: a
// built-in role (case-insensitive), a custom role's ID, or a custom role's
// name (case-insensitive). Events always hold the ID. Errors:
// CodeInvalidRole.
func (p *Property) resolveRole(s string) (Role, error) {
	if r, err := ParseRole(s); err == nil {
		return r, nil
	}
	t := strings.TrimSpace(s)
	if d := p.CustomRoles[Role(t)]; d != nil {
		return d.ID, nil
	}
	for _, d := range p.RolesInOrder() {
		if strings.EqualFold(d.Name, t) {
			return d.ID, nil
		}
	}
	if len(p.CustomRoles) == 0 {
		return "", Errorf(KindInvalid, CodeInvalidRole, "role %q is not one of admin, agent", s)
	}
	return "", Errorf(KindInvalid, CodeInvalidRole, "role %q is not admin, agent or a role of property %s", s, p.ID)
}

// lastManagerRule is invariant 8 as an error message says it.
const lastManagerRule = "the property must keep at least one enabled admin (an enabled member who can manage members)"

// change is a decision the manager check tries before it is taken: a
// member who goes (removed, left or disabled), takes another role, or a
// role's new permissions. Zero fields change nothing.
type change struct {
	gone     string
	member   string
	memberTo Role
	role     Role
	perms    []Permission
}

// keepsManager reports whether, after ch, some enabled member could still
// manage members: invariant 8 in docs/ARCHITECTURE.md.
func (p *Property) keepsManager(ch change) bool {
	rs := p.RoleSet()
	if ch.role != "" {
		rs[ch.role] = ch.perms
	}
	for _, m := range p.Members {
		if m.AccountID == ch.gone || m.StatusAt(p.now) != StatusEnabled {
			continue
		}
		role, owner := m.Role, m.AccountID == p.OwnerID
		if m.AccountID == ch.member {
			// A member demoted is judged by the new role alone: the owner
			// flag would hide that the owner is the last admin.
			role, owner = ch.memberTo, false
		}
		if rs.Allowed(role, owner, m.StatusAt(p.now), PermManageMembers) {
			return true
		}
	}
	return false
}

// canManage reports whether m may manage members now.
func (p *Property) canManage(m *Member) bool {
	return p.allowed(m, PermManageMembers)
}

// allowed reports whether member m holds perm in this property.
func (p *Property) allowed(m *Member, perm Permission) bool {
	if IsCustomRole(m.Role) {
		return p.RoleSet().Allowed(m.Role, m.AccountID == p.OwnerID, m.StatusAt(p.now), perm)
	}
	return Allowed(m.Role, m.AccountID == p.OwnerID, m.StatusAt(p.now), perm)
}

// mayGrant refuses to let actor hand out a role (perms: what it grants)
// holding a permission the table keeps from agents (managing invitations
// or members, administering settings) that actor does not hold: a member
// whose custom role may invite but not manage members cannot invite an
// admin, nor define a role above their own. Admins and the owner hold
// them all, so nothing changes for them. Errors: CodeForbidden.
func (p *Property) mayGrant(actor Actor, what string, perms []Permission) error {
	m := p.Members[actor.AccountID]
	if m == nil {
		return p.notFound()
	}
	for _, g := range permissionTable {
		if !g.admin || g.agent || g.perm == PermTransferOwnership || !slices.Contains(perms, g.perm) {
			continue
		}
		if !p.allowed(m, g.perm) {
			return Errorf(KindForbidden, CodeForbidden,
				"%s holds the permission %s, which your role %s does not; only a member who holds it may give it", what, g.perm, p.roleName(m))
		}
	}
	return nil
}

// grantsOf is what role r grants in this property, the owner flag aside.
func (p *Property) grantsOf(r Role) []Permission {
	return p.RoleSet().Permissions(r, false, StatusEnabled)
}
