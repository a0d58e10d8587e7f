package projections

import (
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// MembersName names the members projection and its checkpoint.
const MembersName = "members"

// Members returns the projection behind rm_members: one row per member of a
// property with email, role, status and whether it is the owner. The owner
// is kept in rm_members_owners too, so the flag is right whichever of
// PropertyCreated and the owner's MemberJoined comes first.
func Members() Projection {
	return withPersonal(membersPersonal, setwise(MembersName, []string{"rm_members", "rm_members_owners"}, newMembersBatch, map[string]step[*membersBatch]{
		domain.TypePropertyCreated:      onEvent(membersPropertyCreated),
		domain.TypeMemberJoined:         onEvent(membersJoined),
		domain.TypeMemberRoleChanged:    onEvent(membersRoleChanged),
		domain.TypeMemberAccessDisabled: onEvent(membersAccessDisabled),
		domain.TypeMemberAccessEnabled:  onEvent(membersAccessEnabled),
		domain.TypeMemberRemoved:        onEvent(membersRemoved),
		domain.TypeMemberLeft:           onEvent(membersLeft),
		domain.TypeOwnershipTransferred: onEvent(membersOwnershipTransferred),

		domain.TypeMemberAccessUntilChanged: onEvent(membersAccessUntilChanged),
		domain.TypeMemberAccessExpired:      onEvent(membersAccessExpired),
		domain.TypeMemberAccessEndingSoon:   onEvent(membersAccessEndingSoon),
	}))
}

// membersPersonal: a member's email.
var membersPersonal = []PersonalColumn{{Table: "rm_members", Column: "email"}}

type memberRow struct {
	PropertyID, AccountID, Email, Role, Status string
	IsOwner                                    bool
	JoinedAt, UpdatedAt                        time.Time
	// AccessUntil is when the access ends; nil when it does not.
	AccessUntil *time.Time
	// RemindedS is the nearest reminder of AccessUntil given, in seconds
	// before it; 0 for none. The scheduler reads it to ask only when one is due.
	RemindedS int64
}

var membersSpec = (&tableSpec[memberRow]{
	name: "rm_members", keyCols: []string{"property_id", "account_id"},
	key: func(r *memberRow) rowKey { return rowKey{r.PropertyID, r.AccountID} },
	cols: []column[memberRow]{
		col("property_id", func(r *memberRow) any { return &r.PropertyID }),
		col("account_id", func(r *memberRow) any { return &r.AccountID }),
		col("email", func(r *memberRow) any { return &r.Email }),
		col("role", func(r *memberRow) any { return &r.Role }),
		col("status", func(r *memberRow) any { return &r.Status }),
		col("is_owner", func(r *memberRow) any { return &r.IsOwner }),
		col("joined_at", func(r *memberRow) any { return &r.JoinedAt }),
		col("updated_at", func(r *memberRow) any { return &r.UpdatedAt }),
		col("access_until", func(r *memberRow) any { return &r.AccessUntil }),
		col("access_reminded_s", func(r *memberRow) any { return &r.RemindedS }),
	},
}).build()

// ownerRow is who owns a property, as one projection last saw it.
type ownerRow struct{ PropertyID, OwnerID string }

func ownerSpec(name string) *tableSpec[ownerRow] {
	return (&tableSpec[ownerRow]{
		name: name, keyCols: []string{"property_id"},
		key: func(r *ownerRow) rowKey { return rowKey{a: r.PropertyID} },
		cols: []column[ownerRow]{
			col("property_id", func(r *ownerRow) any { return &r.PropertyID }),
			col("owner_id", func(r *ownerRow) any { return &r.OwnerID }),
		},
	}).build()
}

var membersOwnersSpec = ownerSpec("rm_members_owners")

type membersBatch struct {
	members *table[memberRow]
	owners  *table[ownerRow]
}

func newMembersBatch(u *unit) *membersBatch {
	return &membersBatch{members: newTable(u, membersSpec), owners: newTable(u, membersOwnersSpec)}
}

func membersPropertyCreated(s *membersBatch, e recorded.Event, ev domain.PropertyCreated) error {
	return membersSetOwner(s, e, ev.OwnerID)
}

func membersOwnershipTransferred(s *membersBatch, e recorded.Event, ev domain.OwnershipTransferred) error {
	return membersSetOwner(s, e, ev.To)
}

func membersSetOwner(s *membersBatch, e recorded.Event, ownerID string) error {
	setOwner(s.owners, e, ownerID, func(accountID string, isOwner bool, at time.Time) {
		s.members.Update(rowKey{e.PropertyID, accountID}, func(r *memberRow) {
			if r.IsOwner != isOwner {
				r.IsOwner, r.UpdatedAt = isOwner, at
			}
		})
	})
	return nil
}

// setOwner records ownerID as the property's owner in owners and moves
// the owner flag, through flag, off the previous owner's row and onto the
// new owner's. Every row's flag was set from owners (when it joined, or by
// the last change of owner), so only those two rows can hold the wrong
// one: this is the UPDATE of every row of the property whose flag is
// wrong, without reading them all.
func setOwner(owners *table[ownerRow], e recorded.Event, ownerID string, flag func(accountID string, isOwner bool, at time.Time)) {
	k := rowKey{a: e.PropertyID}
	was, had := owners.Get(k)
	owners.Put(ownerRow{PropertyID: e.PropertyID, OwnerID: ownerID})
	if had && was.OwnerID == ownerID {
		return
	}
	at := dbTime(e.At())
	if had {
		flag(was.OwnerID, false, at)
	}
	flag(ownerID, true, at)
}

func membersJoined(s *membersBatch, e recorded.Event, ev domain.MemberJoined) error {
	owner, had := s.owners.Get(rowKey{a: e.PropertyID})
	at := dbTime(e.At())
	s.members.Put(memberRow{PropertyID: e.PropertyID, AccountID: ev.AccountID, Email: ev.Email, Role: string(ev.Role),
		Status: string(domain.StatusEnabled), IsOwner: had && owner.OwnerID == ev.AccountID, JoinedAt: at, UpdatedAt: at,
		AccessUntil: ev.AccessUntil})
	return nil
}

func membersRoleChanged(s *membersBatch, e recorded.Event, ev domain.MemberRoleChanged) error {
	return updateMember(s, e, ev.AccountID, func(r *memberRow) { r.Role = string(ev.To) })
}

func membersAccessDisabled(s *membersBatch, e recorded.Event, ev domain.MemberAccessDisabled) error {
	return updateMember(s, e, ev.AccountID, func(r *memberRow) { r.Status = string(domain.StatusDisabled) })
}

func membersAccessEnabled(s *membersBatch, e recorded.Event, ev domain.MemberAccessEnabled) error {
	return updateMember(s, e, ev.AccountID, func(r *memberRow) {
		r.Status, r.AccessUntil, r.RemindedS = string(domain.StatusEnabled), nil, 0
	})
}

func membersAccessUntilChanged(s *membersBatch, e recorded.Event, ev domain.MemberAccessUntilChanged) error {
	return updateMember(s, e, ev.AccountID, func(r *memberRow) { r.AccessUntil, r.RemindedS = ev.AccessUntil, 0 })
}

// A reminder counts only for the end it was given for, as in the domain.
func membersAccessEndingSoon(s *membersBatch, e recorded.Event, ev domain.MemberAccessEndingSoon) error {
	s.members.Update(rowKey{e.PropertyID, ev.AccountID}, func(r *memberRow) {
		if r.AccessUntil != nil && r.AccessUntil.Equal(ev.AccessUntil) {
			r.RemindedS = ev.BeforeSeconds
		}
	})
	return nil
}

func membersAccessExpired(s *membersBatch, e recorded.Event, ev domain.MemberAccessExpired) error {
	return updateMember(s, e, ev.AccountID, func(r *memberRow) { r.Status = string(domain.StatusDisabled) })
}

// updateMember changes one member's row with f and stamps it.
func updateMember(s *membersBatch, e recorded.Event, accountID string, f func(*memberRow)) error {
	s.members.Update(rowKey{e.PropertyID, accountID}, func(r *memberRow) {
		f(r)
		r.UpdatedAt = dbTime(e.At())
	})
	return nil
}

func membersRemoved(s *membersBatch, e recorded.Event, ev domain.MemberRemoved) error {
	s.members.Delete(rowKey{e.PropertyID, ev.AccountID})
	return nil
}

func membersLeft(s *membersBatch, e recorded.Event, ev domain.MemberLeft) error {
	s.members.Delete(rowKey{e.PropertyID, ev.AccountID})
	return nil
}
