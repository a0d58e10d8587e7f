package domain

import (
	"strings"
	"time"
	"unicode"
)

// DefaultInviteTTL is how long an invitation stays valid unless configured.
const DefaultInviteTTL = 7 * 24 * time.Hour

// MaxInvitesPerRequest bounds a bulk invite: DESIGN invariant 4.
const MaxInvitesPerRequest = 50

// MaxRevokesPerRequest bounds a selection of invitations revoked at once.
const MaxRevokesPerRequest = 100

// maxNameLength bounds a property's name.
const maxNameLength = 100

// requireExists fails when the property has no events yet.
func (p *Property) requireExists() error {
	if !p.Exists() {
		return Errorf(KindNotFound, CodePropertyNotFound, "property %s does not exist", p.ID)
	}
	return nil
}

// authorize checks that actor is an enabled member holding perm: DESIGN
// invariant 1. Outsiders and agents get a 403 that names what is missing.
func (p *Property) authorize(actor Actor, perm Permission) error {
	if err := p.requireExists(); err != nil {
		return err
	}
	m := p.Members[actor.AccountID]
	if m == nil {
		return Errorf(KindForbidden, CodeForbidden, "you are not a member of property %s", p.ID)
	}
	if m.Status != StatusEnabled {
		return Errorf(KindForbidden, CodeAccessDisabled, "your access to property %s is disabled", p.ID)
	}
	if !Allowed(m.Role, p.OwnerID == m.AccountID, m.Status, perm) {
		return Errorf(KindForbidden, CodeForbidden, "your role %s does not have the permission %s", p.roleName(m), perm)
	}
	return nil
}

func (p *Property) roleName(m *Member) string {
	if p.OwnerID == m.AccountID {
		return "owner"
	}
	return string(m.Role)
}

// member returns the member with accountID, or a 404.
func (p *Property) member(accountID string) (*Member, error) {
	m := p.Members[accountID]
	if m == nil {
		return nil, Errorf(KindNotFound, CodeMemberNotFound, "account %s is not a member of property %s", accountID, p.ID)
	}
	return m, nil
}

// invitation returns the invitation with id, or a 404.
func (p *Property) invitation(id string) (*Invitation, error) {
	inv := p.Invitations[id]
	if inv == nil {
		return nil, Errorf(KindNotFound, CodeInvitationNotFound, "invitation %s does not exist in property %s", id, p.ID)
	}
	return inv, nil
}

// protectAdmins refuses a change that would take target's admin rights away
// when they are the owner or the last enabled admin: DESIGN invariant 8.
func (p *Property) protectAdmins(target *Member, action string) error {
	if target.Role == RoleAdmin && target.Status == StatusEnabled && p.enabledAdmins() == 1 {
		return Errorf(KindConflict, CodeLastAdmin,
			"cannot %s %s: the property must keep at least one enabled admin", action, target.Email)
	}
	if target.AccountID == p.OwnerID {
		return Errorf(KindConflict, CodeOwnerProtected,
			"cannot %s %s: they own the property; transfer ownership first", action, target.Email)
	}
	return nil
}

func (p *Property) enabledAdmins() int {
	n := 0
	for _, m := range p.Members {
		if m.Role == RoleAdmin && m.Status == StatusEnabled {
			n++
		}
	}
	return n
}

// memberByEmail returns the member whose email is email, if any.
func (p *Property) memberByEmail(email string) *Member {
	if id, ok := p.memberOf[email]; ok {
		return p.Members[id]
	}
	return nil
}

// pendingInvitation returns the unexpired pending invitation for email, if any.
func (p *Property) pendingInvitation(email string, now time.Time) *Invitation {
	for _, id := range p.invitedAs[email] {
		if inv := p.Invitations[id]; inv.StatusAt(now) == InvitePending {
			return inv
		}
	}
	return nil
}

// normalizeName trims a property name and checks its length and characters.
func normalizeName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	switch {
	case name == "":
		return "", Errorf(KindInvalid, CodeInvalidName, "name must not be empty")
	case len([]rune(name)) > maxNameLength:
		return "", Errorf(KindInvalid, CodeInvalidName, "name %s is longer than %d characters", quote(raw), maxNameLength)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", Errorf(KindInvalid, CodeInvalidName, "name %s contains control characters", quote(raw))
	}
	return name, nil
}
