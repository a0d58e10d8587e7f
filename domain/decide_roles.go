package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxRolesPerProperty bounds a property's custom roles: a picker of more
// than this is no longer a choice anyone reads.
const MaxRolesPerProperty = 50

// maxRoleNameLength bounds a custom role's name.
const maxRoleNameLength = 50

// maxHoldersNamed bounds the holders a refused deletion names.
const maxHoldersNamed = 10

// reservedRoleNames are names a custom role cannot take: the built-in
// roles, and the owner, which error messages name as if it were a role.
var reservedRoleNames = []string{string(RoleAdmin), string(RoleAgent), "owner"}

// RoleDef is one custom role of a property.
type RoleDef struct {
	ID          Role
	Name        string
	Permissions []Permission
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RoleSet returns what the property's custom roles grant, for
// Roles.Permissions and Roles.Allowed. It is a fresh map.
func (p *Property) RoleSet() Roles {
	rs := make(Roles, len(p.CustomRoles))
	for id, d := range p.CustomRoles {
		rs[id] = d.Permissions
	}
	return rs
}

// RolesInOrder returns the custom roles in the order they were created.
func (p *Property) RolesInOrder() []*RoleDef {
	out := make([]*RoleDef, 0, len(p.roleOrder))
	for _, id := range p.roleOrder {
		out = append(out, p.CustomRoles[id])
	}
	return out
}

// RoleName is how people read role r in this property: a custom role's
// name, or the role itself (admin, agent).
func (p *Property) RoleName(r Role) string {
	if d := p.CustomRoles[r]; d != nil {
		return d.Name
	}
	return string(r)
}

func (p *Property) applyRole(e Event, at time.Time) {
	switch e := e.(type) {
	case RoleCreated:
		if p.CustomRoles == nil {
			p.CustomRoles = map[Role]*RoleDef{}
		}
		if p.CustomRoles[e.RoleID] == nil {
			p.roleOrder = append(p.roleOrder, e.RoleID)
		}
		p.CustomRoles[e.RoleID] = &RoleDef{ID: e.RoleID, Name: e.Name, Permissions: slices.Clone(e.Permissions),
			CreatedAt: at, UpdatedAt: at}
	case RoleRenamed:
		if d := p.CustomRoles[e.RoleID]; d != nil {
			d.Name, d.UpdatedAt = e.To, at
		}
	case RolePermissionsChanged:
		if d := p.CustomRoles[e.RoleID]; d != nil {
			d.Permissions, d.UpdatedAt = slices.Clone(e.To), at
		}
	case RoleDeleted:
		if p.CustomRoles[e.RoleID] != nil {
			delete(p.CustomRoles, e.RoleID)
			p.roleOrder = slices.DeleteFunc(p.roleOrder, func(r Role) bool { return r == e.RoleID })
		}
	}
}

// CreateRole defines a custom role with id (CustomRoleID of a fresh unique
// id), name and permissions. Defining roles takes manage_members: whoever
// may give a member any role may as well shape one, and no one else may
// (docs/ARCHITECTURE.md section 13). Errors: CodeInvalidRoleName,
// CodeRoleNameTaken, CodeNoPermissions, CodeInvalidPermission,
// CodeTooManyRoles, CodeInvalidID.
func (p *Property) CreateRole(actor Actor, id Role, name string, perms []string) ([]Event, error) {
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return nil, err
	}
	if !IsCustomRole(id) || p.CustomRoles[id] != nil {
		// IDs are chosen by the caller; a reused one would merge two roles on replay.
		return nil, Errorf(KindConflict, CodeInvalidID, "role id %q is not a fresh custom role id", id)
	}
	clean, err := p.checkRoleName(name, "")
	if err != nil {
		return nil, err
	}
	set, err := ParsePermissions(perms)
	if err != nil {
		return nil, err
	}
	if err := p.mayGrant(actor, "role "+clean, set); err != nil {
		return nil, err
	}
	if len(p.CustomRoles) >= MaxRolesPerProperty {
		return nil, Errorf(KindConflict, CodeTooManyRoles,
			"property %s has %d custom roles already, the most it may have; delete one first", p.ID, len(p.CustomRoles))
	}
	return []Event{RoleCreated{Schema: SchemaV1, RoleID: id, Name: clean, Permissions: set}}, nil
}

// RenameRole gives a custom role a new name; its holders keep it. Errors:
// CodeBuiltinRole, CodeRoleNotFound, CodeInvalidRoleName, CodeRoleNameTaken.
func (p *Property) RenameRole(actor Actor, id, name string) ([]Event, error) {
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return nil, err
	}
	d, err := p.customRole(id)
	if err != nil {
		return nil, err
	}
	clean, err := p.checkRoleName(name, d.ID)
	if err != nil {
		return nil, err
	}
	if clean == d.Name {
		return nil, nil
	}
	return []Event{RoleRenamed{Schema: SchemaV1, RoleID: d.ID, From: d.Name, To: clean}}, nil
}

// SetRolePermissions replaces a custom role's permissions; every holder has
// the new ones at once. Taking manage_members from the role is refused when
// no other enabled member could manage members then: invariant 8 in
// docs/ARCHITECTURE.md. Errors: CodeBuiltinRole, CodeRoleNotFound,
// CodeNoPermissions, CodeInvalidPermission, CodeLastAdmin.
func (p *Property) SetRolePermissions(actor Actor, id string, perms []string) ([]Event, error) {
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return nil, err
	}
	d, err := p.customRole(id)
	if err != nil {
		return nil, err
	}
	set, err := ParsePermissions(perms)
	if err != nil {
		return nil, err
	}
	if slices.Equal(set, d.Permissions) {
		return nil, nil
	}
	if err := p.mayGrant(actor, "role "+d.Name, set); err != nil {
		return nil, err
	}
	if !p.keepsManager(change{role: d.ID, perms: set}) {
		return nil, Errorf(KindConflict, CodeLastAdmin,
			"cannot take %s from role %s: %s", PermManageMembers, d.Name, lastManagerRule)
	}
	return []Event{RolePermissionsChanged{Schema: SchemaV1, RoleID: d.ID, From: slices.Clone(d.Permissions), To: set}}, nil
}

// DeleteRole removes a custom role nobody holds: no member, and no pending
// invitation (which would make a member of it on acceptance, expired ones
// included, as a resend revives them). Errors: CodeBuiltinRole,
// CodeRoleNotFound, CodeRoleInUse naming the holders (at most
// maxHoldersNamed, and how many more).
func (p *Property) DeleteRole(actor Actor, id string) ([]Event, error) {
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return nil, err
	}
	d, err := p.customRole(id)
	if err != nil {
		return nil, err
	}
	var members, invited []string
	for _, m := range p.Members {
		if m.Role == d.ID {
			members = append(members, m.AccountID)
		}
	}
	for _, inv := range p.InvitationsInOrder() {
		if inv.Role == d.ID && inv.Status == InvitePending {
			invited = append(invited, inv.Email)
		}
	}
	if len(members)+len(invited) > 0 {
		slices.Sort(members)
		return nil, Errorf(KindConflict, CodeRoleInUse, "role %s is in use by %s; give them another role first",
			d.Name, holders(members, invited))
	}
	return []Event{RoleDeleted{Schema: SchemaV1, RoleID: d.ID, Name: d.Name}}, nil
}

// holders says who holds a role, at most maxHoldersNamed of them by name.
func holders(members, invited []string) string {
	var parts []string
	named := 0
	add := func(what string, names []string) {
		if len(names) == 0 {
			return
		}
		take := min(len(names), maxHoldersNamed-named)
		named += take
		s := fmt.Sprintf("%d %s", len(names), what)
		if take > 0 {
			s += " (" + strings.Join(names[:take], ", ")
			if take < len(names) {
				s += fmt.Sprintf(" and %d more", len(names)-take)
			}
			s += ")"
		}
		parts = append(parts, s)
	}
	add(plural(len(members), "member", "members"), members)
	add(plural(len(invited), "pending invitation", "pending invitations"), invited)
	return strings.Join(parts, " and ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

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
		if m.AccountID == ch.gone || m.Status != StatusEnabled {
			continue
		}
		role, owner := m.Role, m.AccountID == p.OwnerID
		if m.AccountID == ch.member {
			// A member demoted is judged by the new role alone: the owner
			// flag would hide that the owner is the last admin.
			role, owner = ch.memberTo, false
		}
		if rs.Allowed(role, owner, m.Status, PermManageMembers) {
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
		return p.RoleSet().Allowed(m.Role, m.AccountID == p.OwnerID, m.Status, perm)
	}
	return Allowed(m.Role, m.AccountID == p.OwnerID, m.Status, perm)
}

// EditRole renames a custom role and/or replaces its permissions in one
// decision: a nil name or perms leaves that part as it is, and nothing to
// change at all is refused (CodeInvalidRequest). Errors as RenameRole and
// SetRolePermissions; either part refused refuses both.
func (p *Property) EditRole(actor Actor, id string, name *string, perms *[]string) ([]Event, error) {
	if name == nil && perms == nil {
		return nil, Errorf(KindInvalid, CodeInvalidRequest, "say what to change: name, permissions or both")
	}
	var out []Event
	if name != nil {
		evs, err := p.RenameRole(actor, id, *name)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	if perms != nil {
		evs, err := p.SetRolePermissions(actor, id, *perms)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
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
