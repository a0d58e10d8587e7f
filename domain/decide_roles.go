package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
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
