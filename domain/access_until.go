package domain

import (
	"strings"
	"time"
)

// MaxAccessAhead is how far ahead an access may be set to end. Further than
// that is more likely a typo than a plan, and an end date that far is better
// kept as a reminder than as a rule (section 12 of docs/ARCHITECTURE.md).
const MaxAccessAhead = 5 * 365 * 24 * time.Hour

// Reminders before an access ends: a member is told this long before.
var AccessReminders = []time.Duration{7 * 24 * time.Hour, 24 * time.Hour}

// Codes of an access that ends on a date.
const (
	CodeInvalidAccessUntil    = "invalid_access_until"    // not an RFC 3339 time
	CodeAccessUntilInPast     = "access_until_in_past"    // not strictly after the moment of the decision
	CodeAccessUntilTooFar     = "access_until_too_far"    // more than MaxAccessAhead ahead
	CodeMemberDisabled        = "member_disabled"         // an end set on a member whose access is off already
	CodeNewOwnerAccessEnds    = "new_owner_access_ends"   // ownership offered to a member whose access ends
	CodeInvitationAccessEnded = "invitation_access_ended" // an invitation whose access ended before it was accepted
)

// StatusAt is the member's status at a moment: an enabled member whose
// access ended by then is disabled, before MemberAccessExpired says so, so
// that nothing lets them act between the moment and the scheduler's append.
func (m *Member) StatusAt(now time.Time) MemberStatus {
	if m.Status == StatusEnabled && m.AccessUntil != nil && !now.IsZero() && !now.Before(*m.AccessUntil) {
		return StatusDisabled
	}
	return m.Status
}

// DecideAt sets the moment the next decisions are taken at, for the checks
// that depend on it without taking a moment of their own (who is enabled,
// when accesses end). It is no state: nothing it sets is in an event. A zero
// moment (the default) leaves every end of access in the future.
func (p *Property) DecideAt(now time.Time) { p.now = now }

// ParseAccessUntil reads an end of access as a client sends it: an RFC 3339
// time, returned in UTC to the microsecond (what PostgreSQL keeps).
// Errors: CodeInvalidAccessUntil.
func ParseAccessUntil(raw string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(raw))
	if err != nil {
		return time.Time{}, Errorf(KindInvalid, CodeInvalidAccessUntil,
			"access_until %s is not an RFC 3339 time such as 2026-01-31T18:00:00Z", quote(raw))
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// checkAccessUntil parses raw and checks it is strictly after now and at
// most MaxAccessAhead after it. Errors: CodeInvalidAccessUntil,
// CodeAccessUntilInPast, CodeAccessUntilTooFar.
func checkAccessUntil(raw string, now time.Time) (time.Time, error) {
	t, err := ParseAccessUntil(raw)
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case !t.After(now):
		return time.Time{}, Errorf(KindInvalid, CodeAccessUntilInPast,
			"access_until %s is not in the future (now is %s)", t.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case t.After(now.Add(MaxAccessAhead)):
		return time.Time{}, Errorf(KindInvalid, CodeAccessUntilTooFar,
			"access_until %s is more than 5 years ahead; the latest allowed now is %s",
			t.Format(time.RFC3339), now.Add(MaxAccessAhead).UTC().Format(time.RFC3339))
	}
	return t, nil
}

// SetAccessUntil makes a member's access end at the moment raw names, or
// moves that end. The rules are those of a role change: admins only, never
// on the owner, whose access cannot end, so the property always keeps an
// enabled admin whose access does not end (invariant 8). A member whose
// access is off already is refused: an enable clears the end anyway.
// Setting the end it has is no change. Errors: CodeMemberNotFound,
// CodeOwnerProtected, CodeMemberDisabled, CodeInvalidAccessUntil,
// CodeAccessUntilInPast, CodeAccessUntilTooFar.
func (p *Property) SetAccessUntil(actor Actor, now time.Time, accountID, raw string) ([]Event, error) {
	target, err := p.accessTarget(actor, now, accountID)
	if err != nil {
		return nil, err
	}
	until, err := checkAccessUntil(raw, now)
	if err != nil {
		return nil, err
	}
	if target.AccountID == p.OwnerID {
		return nil, Errorf(KindConflict, CodeOwnerProtected,
			"cannot end the access of %s: they own the property, and the owner's access cannot end; transfer ownership first", target.Email)
	}
	if target.StatusAt(now) != StatusEnabled {
		return nil, Errorf(KindConflict, CodeMemberDisabled,
			"the access of %s is disabled already; enable it first", target.Email)
	}
	if target.AccessUntil != nil && target.AccessUntil.Equal(until) {
		return nil, nil
	}
	return []Event{MemberAccessUntilChanged{Schema: SchemaV1, AccountID: accountID, AccessUntil: &until, By: actor.AccountID}}, nil
}

// accessTarget is the member whose end of access actor, deciding at now,
// asks to change, once actor may manage members.
func (p *Property) accessTarget(actor Actor, now time.Time, accountID string) (*Member, error) {
	p.now = now
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return nil, err
	}
	return p.member(accountID)
}

// ClearAccessUntil makes a member's access end no more. Clearing an access
// that has no end is no change. Errors: CodeMemberNotFound.
func (p *Property) ClearAccessUntil(actor Actor, now time.Time, accountID string) ([]Event, error) {
	target, err := p.accessTarget(actor, now, accountID)
	if err != nil {
		return nil, err
	}
	if target.AccessUntil == nil {
		return nil, nil
	}
	if target.StatusAt(now) != StatusEnabled {
		return nil, Errorf(KindConflict, CodeMemberDisabled,
			"the access of %s ended at %s; enable it again instead", target.Email, target.AccessUntil.Format(time.RFC3339))
	}
	return []Event{MemberAccessUntilChanged{Schema: SchemaV1, AccountID: accountID, By: actor.AccountID}}, nil
}

// ExpireAccess is the scheduler's decision at now: the member's access ends
// if its end has come and nothing has ended it yet. Anything else (the end
// moved or was cleared, the member left, another instance expired it) is no
// change, so the decision may be taken any number of times.
func (p *Property) ExpireAccess(now time.Time, accountID string) []Event {
	m := p.Members[accountID]
	if m == nil || m.Status != StatusEnabled || m.AccessUntil == nil || now.Before(*m.AccessUntil) {
		return nil
	}
	return []Event{MemberAccessExpired{Schema: SchemaV1, AccountID: accountID, AccessUntil: *m.AccessUntil}}
}

// RemindAccessEnding is the scheduler's decision at now for a reminder:
// MemberAccessEndingSoon for the nearest reminder (AccessReminders) whose
// moment has come and which the member was not given for this end yet. A
// reminder whose moment passed while a nearer one is due is skipped, so a
// member told "1 day" is never told "7 days" after it.
func (p *Property) RemindAccessEnding(now time.Time, accountID string) []Event {
	m := p.Members[accountID]
	if m == nil || m.Status != StatusEnabled || m.AccessUntil == nil || !now.Before(*m.AccessUntil) {
		return nil
	}
	left := m.AccessUntil.Sub(now)
	due := time.Duration(0)
	for _, r := range AccessReminders {
		if left <= r && (due == 0 || r < due) {
			due = r
		}
	}
	if given := p.reminded[accountID]; due == 0 || (given != 0 && given <= due) {
		return nil
	}
	return []Event{MemberAccessEndingSoon{Schema: SchemaV1, AccountID: accountID, AccessUntil: *m.AccessUntil,
		BeforeSeconds: int64(due / time.Second)}}
}

// applyAccessUntil folds the events of an access that ends.
func (p *Property) applyAccessUntil(e Event, at time.Time) {
	switch e := e.(type) {
	case MemberAccessUntilChanged:
		if m := p.Members[e.AccountID]; m != nil {
			m.AccessUntil, m.UpdatedAt = e.AccessUntil, at
			delete(p.reminded, e.AccountID)
		}
	case MemberAccessExpired:
		if m := p.Members[e.AccountID]; m != nil {
			m.Status, m.UpdatedAt = StatusDisabled, at
		}
	case MemberAccessEndingSoon:
		if m := p.Members[e.AccountID]; m != nil && m.AccessUntil != nil && m.AccessUntil.Equal(e.AccessUntil) {
			if p.reminded == nil {
				p.reminded = map[string]time.Duration{}
			}
			p.reminded[e.AccountID] = time.Duration(e.BeforeSeconds) * time.Second
		}
	}
}
