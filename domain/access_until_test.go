package domain_test

import (
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
)

// Moments of an access that ends, relative to tNow.
var (
	until    = tNow.Add(30 * 24 * time.Hour)
	untilRaw = until.Format(time.RFC3339)
)

func untilChanged(by, target domain.Actor, at *time.Time) domain.MemberAccessUntilChanged {
	return domain.MemberAccessUntilChanged{Schema: domain.SchemaV1, AccountID: target.AccountID, AccessUntil: at, By: by.AccountID}
}

func expired(target domain.Actor, at time.Time) domain.MemberAccessExpired {
	return domain.MemberAccessExpired{Schema: domain.SchemaV1, AccountID: target.AccountID, AccessUntil: at}
}

func setUntil(a, target domain.Actor, raw string) decision {
	return func(p *domain.Property) ([]domain.Event, error) {
		return p.SetAccessUntil(a, tNow, target.AccountID, raw)
	}
}

func clearUntil(a, target domain.Actor) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.ClearAccessUntil(a, tNow, target.AccountID) }
}

func expireAt(now time.Time, target domain.Actor) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.ExpireAccess(now, target.AccountID), nil }
}

func remindAt(now time.Time, target domain.Actor) decision {
	return func(p *domain.Property) ([]domain.Event, error) {
		return p.RemindAccessEnding(now, target.AccountID), nil
	}
}

// decideAt runs d with the property's decisions taken at now.
func decideAt(now time.Time, d decision) decision {
	return func(p *domain.Property) ([]domain.Event, error) { p.DecideAt(now); return d(p) }
}

func ptr(t time.Time) *time.Time { return &t }

func TestAccessUntil_SetAndClear(t *testing.T) {
	ending := events(team(), untilChanged(owner, ted, ptr(until)))
	run(t, []spec{
		{name: "an admin sets when a member's access ends", given: team(), when: setUntil(admin, ted, untilRaw),
			then: []domain.Event{untilChanged(admin, ted, ptr(until))}},
		{name: "an end is read in any offset and kept in UTC", given: team(),
			when: setUntil(admin, ted, until.In(time.FixedZone("x", 3600)).Format(time.RFC3339)),
			then: []domain.Event{untilChanged(admin, ted, ptr(until))}},
		{name: "an admin's access may end while the owner's does not", given: team(), when: setUntil(owner, admin, untilRaw),
			then: []domain.Event{untilChanged(owner, admin, ptr(until))}},
		{name: "setting the same end again changes nothing", given: ending, when: setUntil(admin, ted, untilRaw)},
		{name: "an end is moved", given: ending, when: setUntil(admin, ted, until.Add(time.Hour).Format(time.RFC3339)),
			then: []domain.Event{untilChanged(admin, ted, ptr(until.Add(time.Hour)))}},
		{name: "an admin clears an end", given: ending, when: clearUntil(admin, ted),
			then: []domain.Event{untilChanged(admin, ted, nil)}},
		{name: "clearing where there is no end changes nothing", given: team(), when: clearUntil(admin, ted)},
		{name: "an end in the past is refused", given: team(), when: setUntil(admin, ted, gone.Format(time.RFC3339)),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeAccessUntilInPast, says: "not in the future"}},
		{name: "an end at the very moment is refused", given: team(), when: setUntil(admin, ted, tNow.Format(time.RFC3339Nano)),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeAccessUntilInPast}},
		{name: "an end more than 5 years ahead is refused", given: team(),
			when:  setUntil(admin, ted, tNow.Add(domain.MaxAccessAhead+time.Second).Format(time.RFC3339)),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeAccessUntilTooFar, says: "5 years"}},
		{name: "an end exactly 5 years ahead is allowed", given: team(),
			when: setUntil(admin, ted, tNow.Add(domain.MaxAccessAhead).Format(time.RFC3339)),
			then: []domain.Event{untilChanged(admin, ted, ptr(tNow.Add(domain.MaxAccessAhead)))}},
		{name: "an end that is no time is refused and named", given: team(), when: setUntil(admin, ted, "next tuesday"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidAccessUntil, says: `"next tuesday"`}},
		{name: "a date without a time is refused", given: team(), when: setUntil(admin, ted, "2025-06-01"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidAccessUntil}},
		{name: "the owner's access cannot end", given: team(), when: setUntil(admin, owner, untilRaw),
			fails: failure{kind: domain.KindConflict, code: domain.CodeOwnerProtected, says: "cannot end"}},
		{name: "the owner cannot end their own access", given: team(), when: setUntil(owner, owner, untilRaw),
			fails: failure{kind: domain.KindConflict, code: domain.CodeOwnerProtected}},
		{name: "an end on a disabled member is refused", given: team(), when: setUntil(admin, offAgent, untilRaw),
			fails: failure{kind: domain.KindConflict, code: domain.CodeMemberDisabled, says: "enable"}},
		{name: "an agent may not set an end", given: team(), when: setUntil(agent, ted, untilRaw),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "manage_members"}},
		{name: "an agent may not clear an end", given: ending, when: clearUntil(agent, ted),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden}},
		{name: "a disabled admin may not set an end", given: team(), when: setUntil(offAdmin, ted, untilRaw),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeAccessDisabled}},
		{name: "an outsider learns nothing", given: team(), when: setUntil(outsider, ted, untilRaw),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
		{name: "an end on no member is refused", given: team(), when: setUntil(admin, outsider, untilRaw),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeMemberNotFound}},
		{name: "ownership cannot go to an admin whose access ends", given: events(team(), untilChanged(owner, admin, ptr(until))),
			when:  transfer(owner, admin),
			fails: failure{kind: domain.KindConflict, code: domain.CodeNewOwnerAccessEnds, says: "clear that first"}},
	})
}

func TestAccessUntil_Expiry(t *testing.T) {
	ending := events(team(), untilChanged(owner, ted, ptr(until)))
	endingAdmin := events(team(), untilChanged(owner, admin, ptr(until)))
	run(t, []spec{
		{name: "the access expires at its very moment", given: ending, when: expireAt(until, ted),
			then: []domain.Event{expired(ted, until)}},
		{name: "the access expires later than its moment", given: ending, when: expireAt(until.Add(time.Hour), ted),
			then: []domain.Event{expired(ted, until)}},
		{name: "nothing expires before the moment", given: ending, when: expireAt(until.Add(-time.Microsecond), ted)},
		{name: "an expired access expires once", given: events(ending, expired(ted, until)), when: expireAt(until, ted)},
		{name: "a cleared end does not expire", given: events(ending, untilChanged(owner, ted, nil)), when: expireAt(until, ted)},
		{name: "a member who left does not expire", given: events(ending, domain.MemberLeft{Schema: domain.SchemaV1, AccountID: ted.AccountID}),
			when: expireAt(until, ted)},
		{name: "a disabled member does not expire", given: events(ending, disabled(ted)), when: expireAt(until, ted)},
		{name: "enabling after an expiry clears the end", given: events(ending, expired(ted, until),
			domain.MemberAccessEnabled{Schema: domain.SchemaV1, AccountID: ted.AccountID}), when: expireAt(until.Add(time.Hour), ted)},
		{name: "an expired member may be enabled again", given: events(ending, expired(ted, until)), when: enable(admin, ted),
			then: []domain.Event{domain.MemberAccessEnabled{Schema: domain.SchemaV1, AccountID: ted.AccountID}}},
		{name: "an admin whose access ended may not act before the event", given: endingAdmin,
			when:  decideAt(until, disable(admin, ted)),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeAccessDisabled}},
		{name: "an admin whose access ends may act until the moment", given: endingAdmin,
			when: decideAt(until.Add(-time.Second), disable(admin, ted)), then: []domain.Event{disabled(ted)}},
		{name: "a member whose access ended reads nothing before the event", given: ending,
			when:  decideAt(until, func(p *domain.Property) ([]domain.Event, error) { return nil, p.Readable(ted) }),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
		{name: "an end cannot be set on a member whose access ended before the event", given: ending,
			when: func(p *domain.Property) ([]domain.Event, error) {
				return p.SetAccessUntil(admin, until, ted.AccountID, until.Add(time.Hour).Format(time.RFC3339))
			},
			fails: failure{kind: domain.KindConflict, code: domain.CodeMemberDisabled}},
	})
}

func TestAccessUntil_Invitations(t *testing.T) {
	withUntil := func(r domain.InviteRequest, raw string) domain.InviteRequest { r.AccessUntil = raw; return r }
	invitedUntil := func(at time.Time) domain.MemberInvited {
		e := newInvite(owner, "inv-1", "new@example.com", domain.RoleAgent)
		e.AccessUntil = &at
		return e
	}
	newcomer := domain.Actor{AccountID: "acc-new", Email: "new@example.com", EmailVerified: true}
	run(t, []spec{
		{name: "an invitation carries when the access it offers ends", given: team(),
			when: invite(owner, withUntil(row("inv-1", "new@example.com", "agent"), untilRaw)),
			then: []domain.Event{invitedUntil(until)}},
		{name: "an invitation's end in the past is refused", given: team(),
			when:  invite(owner, withUntil(row("inv-1", "new@example.com", "agent"), gone.Format(time.RFC3339))),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeAccessUntilInPast}},
		{name: "an invitation's end too far is refused", given: team(),
			when:  invite(owner, withUntil(row("inv-1", "new@example.com", "agent"), tNow.AddDate(6, 0, 0).Format(time.RFC3339))),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeAccessUntilTooFar}},
		{name: "an invitation's bad end is refused with the row named", given: team(),
			when:  invite(owner, row("inv-0", "a@example.com", "agent"), withUntil(row("inv-1", "new@example.com", "agent"), "soon")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidAccessUntil}},
		{name: "the member inherits the invitation's end", given: events(team(), invitedUntil(until)),
			when: accept(newcomer, "inv-1"),
			then: []domain.Event{
				domain.InvitationAccepted{Schema: domain.SchemaV1, InvitationID: "inv-1", AccountID: newcomer.AccountID},
				domain.MemberJoined{Schema: domain.SchemaV1, AccountID: newcomer.AccountID, Email: newcomer.Email,
					Role: domain.RoleAgent, InvitationID: "inv-1", AccessUntil: ptr(until)},
			}},
		{name: "an invitation whose access ended cannot be accepted", given: events(team(), invitedUntil(tNow.Add(-time.Minute))),
			when:  accept(newcomer, "inv-1"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeInvitationAccessEnded, says: "has passed"}},
	})
}

func TestAccessUntil_Reminders(t *testing.T) {
	ending := events(team(), untilChanged(owner, ted, ptr(until)))
	soon := func(before time.Duration) domain.MemberAccessEndingSoon {
		return domain.MemberAccessEndingSoon{Schema: domain.SchemaV1, AccountID: ted.AccountID, AccessUntil: until,
			BeforeSeconds: int64(before / time.Second)}
	}
	week, day := 7*24*time.Hour, 24*time.Hour
	run(t, []spec{
		{name: "no reminder more than a week ahead", given: ending, when: remindAt(until.Add(-week-time.Second), ted)},
		{name: "a week ahead the member is told", given: ending, when: remindAt(until.Add(-week), ted),
			then: []domain.Event{soon(week)}},
		{name: "the week's reminder is given once", given: events(ending, soon(week)), when: remindAt(until.Add(-week+time.Hour), ted)},
		{name: "a day ahead the member is told again", given: events(ending, soon(week)), when: remindAt(until.Add(-day), ted),
			then: []domain.Event{soon(day)}},
		{name: "the day's reminder is given once", given: events(ending, soon(week), soon(day)), when: remindAt(until.Add(-time.Hour), ted)},
		{name: "an end set a few hours ahead gets the day's reminder only", given: ending, when: remindAt(until.Add(-time.Hour), ted),
			then: []domain.Event{soon(day)}},
		{name: "a moved end is reminded afresh", given: events(ending, soon(week), untilChanged(owner, ted, ptr(until.Add(time.Hour)))),
			when: remindAt(until.Add(-day), ted),
			then: []domain.Event{domain.MemberAccessEndingSoon{Schema: domain.SchemaV1, AccountID: ted.AccountID,
				AccessUntil: until.Add(time.Hour), BeforeSeconds: int64(week / time.Second)}}},
		{name: "no reminder after the end", given: ending, when: remindAt(until, ted)},
	})
}
