package domain

import "time"

// A decision that would change nothing returns no events and no error, so a
// repeated request (disable a disabled member) is harmless.

// ChangeRole sets a member's role: a built-in one, or a custom role by ID
// or name (Property.resolveRole). Errors: CodeMemberNotFound, CodeInvalidRole,
// CodeLastAdmin, CodeOwnerProtected.
func (p *Property) ChangeRole(actor Actor, accountID, role string) ([]Event, error) {
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return nil, err
	}
	target, err := p.member(accountID)
	if err != nil {
		return nil, err
	}
	to, err := p.resolveRole(role)
	if err != nil {
		return nil, err
	}
	if to == target.Role {
		return nil, nil
	}
	if err := p.mayGrant(actor, "role "+p.RoleName(to), p.grantsOf(to)); err != nil {
		return nil, err
	}
	if to != RoleAdmin {
		if err := p.protectAdmins(target, "demote", change{member: target.AccountID, memberTo: to}); err != nil {
			return nil, err
		}
	}
	return []Event{MemberRoleChanged{Schema: SchemaV1, AccountID: accountID, From: target.Role, To: to}}, nil
}

// DisableAccess takes every permission from a member until enabled again.
// Errors: CodeMemberNotFound, CodeLastAdmin, CodeOwnerProtected.
func (p *Property) DisableAccess(actor Actor, accountID string) ([]Event, error) {
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return nil, err
	}
	target, err := p.member(accountID)
	if err != nil {
		return nil, err
	}
	if target.Status == StatusDisabled {
		return nil, nil
	}
	if err := p.protectAdmins(target, "disable", change{gone: target.AccountID}); err != nil {
		return nil, err
	}
	return []Event{MemberAccessDisabled{Schema: SchemaV1, AccountID: accountID}}, nil
}

// EnableAccess gives a disabled member their role's permissions back.
// Errors: CodeMemberNotFound.
func (p *Property) EnableAccess(actor Actor, accountID string) ([]Event, error) {
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return nil, err
	}
	target, err := p.member(accountID)
	if err != nil {
		return nil, err
	}
	if target.Status == StatusEnabled {
		return nil, nil
	}
	return []Event{MemberAccessEnabled{Schema: SchemaV1, AccountID: accountID}}, nil
}

// Remove takes a member off the property. Errors: CodeMemberNotFound,
// CodeLastAdmin, CodeOwnerProtected.
func (p *Property) Remove(actor Actor, accountID string) ([]Event, error) {
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return nil, err
	}
	target, err := p.member(accountID)
	if err != nil {
		return nil, err
	}
	if err := p.protectAdmins(target, "remove", change{gone: target.AccountID}); err != nil {
		return nil, err
	}
	return []Event{MemberRemoved{Schema: SchemaV1, AccountID: accountID}}, nil
}

// Leave lets a member, enabled or not, leave by themselves: invariant 9 in
// docs/ARCHITECTURE.md. Errors: CodePropertyNotFound for a non-member, as
// for a property that does not exist; CodeOwnerCannotLeave, CodeLastAdmin.
func (p *Property) Leave(actor Actor) ([]Event, error) {
	me, err := p.visibleTo(actor)
	if err != nil {
		return nil, err
	}
	if me.AccountID == p.OwnerID {
		return nil, Errorf(KindConflict, CodeOwnerCannotLeave,
			"the owner cannot leave property %s; transfer ownership first", p.ID)
	}
	if err := p.protectAdmins(me, "remove", change{gone: me.AccountID}); err != nil {
		return nil, err
	}
	return []Event{MemberLeft{Schema: SchemaV1, AccountID: actor.AccountID}}, nil
}

// TransferOwnership hands the property to another enabled admin; the former
// owner stays an admin. Errors: CodePropertyNotFound for an outsider,
// CodeForbidden for a member who does not own the property, CodeMemberNotFound, CodeAlreadyOwner, CodeNewOwnerNotAdmin.
func (p *Property) TransferOwnership(actor Actor, accountID string) ([]Event, error) {
	if err := p.authorize(actor, PermTransferOwnership); err != nil {
		return nil, err
	}
	target, err := p.member(accountID)
	if err != nil {
		return nil, err
	}
	if target.AccountID == p.OwnerID {
		return nil, Errorf(KindConflict, CodeAlreadyOwner, "%s already owns property %s", target.Email, p.ID)
	}
	if target.Role != RoleAdmin || target.Status != StatusEnabled {
		return nil, Errorf(KindConflict, CodeNewOwnerNotAdmin,
			"ownership can only go to an enabled admin; %s is a %s %s", target.Email, target.Status, target.Role)
	}
	if target.AccessUntil != nil {
		// The owner's access cannot end (section 12 of docs/ARCHITECTURE.md).
		return nil, Errorf(KindConflict, CodeNewOwnerAccessEnds,
			"ownership cannot go to %s: their access ends at %s; clear that first", target.Email, target.AccessUntil.Format(time.RFC3339))
	}
	return []Event{OwnershipTransferred{Schema: SchemaV1, From: p.OwnerID, To: accountID}}, nil
}
