package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultInviteTTL is how long an invitation stays valid unless configured.
const DefaultInviteTTL = 7 * 24 * time.Hour

// MaxInvitesPerRequest bounds a bulk invite: invariant 4 in docs/ARCHITECTURE.md.
const MaxInvitesPerRequest = 50

// MaxRevokesPerRequest bounds a selection of invitations revoked at once.
const MaxRevokesPerRequest = 100

// maxNameLength bounds a property's name.
const maxNameLength = 100

// requireExists fails when the property has no events yet.
func (p *Property) requireExists() error {
	if !p.Exists() {
		return p.notFound()
	}
	return nil
}

// authorize checks that actor is an enabled member holding perm: invariant
// 1 in docs/ARCHITECTURE.md. An outsider gets the same 404 as for a property
// that does not exist, so a command never tells them it does; a member
// without the right gets a 403 that names what is missing, and a disabled
// member one that says so (they know the property exists).
func (p *Property) authorize(actor Actor, perm Permission) error {
	m, err := p.visibleTo(actor)
	if err != nil {
		return err
	}
	if m.StatusAt(p.now) != StatusEnabled {
		return Errorf(KindForbidden, CodeAccessDisabled, "your access to property %s is disabled", p.ID)
	}
	if !p.allowed(m, perm) {
		return Errorf(KindForbidden, CodeForbidden, "your role %s does not have the permission %s", p.roleName(m), perm)
	}
	return nil
}

// visibleTo returns actor's membership, enabled or not; for anyone else the
// property does not exist.
func (p *Property) visibleTo(actor Actor) (*Member, error) {
	if err := p.requireExists(); err != nil {
		return nil, err
	}
	m := p.Members[actor.AccountID]
	if m == nil {
		return nil, p.notFound()
	}
	return m, nil
}

// notFound is the answer for a property that does not exist, word for word,
// so an outsider cannot tell it from one that does.
func (p *Property) notFound() error {
	return Errorf(KindNotFound, CodePropertyNotFound, "property %s does not exist", p.ID)
}

func (p *Property) roleName(m *Member) string {
	if p.OwnerID == m.AccountID {
		return "owner"
	}
	return p.RoleName(m.Role)
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

// protectAdmins refuses a change (ch: target goes, or takes another role)
// that would take target's rights away when they are the owner, or leave no
// enabled member who can manage members: invariant 8 in
// docs/ARCHITECTURE.md.
func (p *Property) protectAdmins(target *Member, action string, ch change) error {
	if target.StatusAt(p.now) == StatusEnabled && p.canManage(target) && !p.keepsManager(ch) {
		return Errorf(KindConflict, CodeLastAdmin, "cannot %s %s: %s", action, target.Email, lastManagerRule)
	}
	if target.AccountID == p.OwnerID {
		return Errorf(KindConflict, CodeOwnerProtected,
			"cannot %s %s: they own the property; transfer ownership first", action, target.Email)
	}
	return nil
}

// memberByEmail returns the member whose email is email (normalised), if any.
func (p *Property) memberByEmail(email string) *Member {
	if id, ok := p.memberOf[email]; ok {
		return p.Members[id]
	}
	return nil
}

// pendingInvitation returns the unexpired pending invitation for email
// (normalised), if any.
func (p *Property) pendingInvitation(email string, now time.Time) *Invitation {
	for _, id := range p.invitedAs[email] {
		if inv := p.Invitations[id]; inv.StatusAt(now) == InvitePending {
			return inv
		}
	}
	return nil
}

// normalizeName trims a property name and checks its length and characters:
// it must be UTF-8 (a byte that is not would be stored as U+FFFD), hold no
// control character and no bidirectional embedding, override or isolate
// (which make text read differently from how it is stored), and show
// something: a name of only zero-width or other invisible characters is
// refused. Errors name the first offending character by its position,
// counted in characters from 1 in the name as given.
func normalizeName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	lead := utf8.RuneCountInString(raw[:len(raw)-len(strings.TrimLeftFunc(raw, unicode.IsSpace))])
	bad := func(format string, args ...any) error {
		return Errorf(KindInvalid, CodeInvalidName, "name %s "+format, append([]any{quote(raw)}, args...)...)
	}
	if f, found := scanText(name, func(r rune) string {
		if isBidiControl(r) {
			return fmt.Sprintf("a bidirectional control (U+%04X)", r)
		}
		return controlRune(r)
	}); found {
		f.pos += lead
		return "", bad("holds %s", f)
	}
	switch {
	case name == "":
		return "", Errorf(KindInvalid, CodeInvalidName, "name must not be empty")
	case utf8.RuneCountInString(name) > maxNameLength:
		return "", bad("is longer than %d characters", maxNameLength)
	case strings.IndexFunc(name, isVisible) < 0:
		first, _ := utf8.DecodeRuneInString(name)
		return "", bad("has no visible character: character %d is U+%04X, and the others are invisible too", lead+1, first)
	}
	return name, nil
}

// Readable returns nil when actor may read the property: an enabled member.
// Anyone else, a disabled member included, gets the 404 of a property that
// does not exist, as the read routes answer.
func (p *Property) Readable(actor Actor) error {
	m, err := p.visibleTo(actor)
	if err != nil {
		return err
	}
	if m.StatusAt(p.now) != StatusEnabled {
		return p.notFound()
	}
	return nil
}
