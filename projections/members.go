package projections

import (
	"time"

	"github.com/jackc/pgx/v5"

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
	return withPersonal(membersPersonal, Projection{Name: MembersName, Tables: []string{"rm_members", "rm_members_owners"}, rows: newMembersBatch, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      on(membersPropertyCreated),
		domain.TypeMemberJoined:         on(membersJoined),
		domain.TypeMemberRoleChanged:    on(membersRoleChanged),
		domain.TypeMemberAccessDisabled: on(membersAccessDisabled),
		domain.TypeMemberAccessEnabled:  on(membersAccessEnabled),
		domain.TypeMemberRemoved:        on(membersRemoved),
		domain.TypeMemberLeft:           on(membersLeft),
		domain.TypeOwnershipTransferred: on(membersOwnershipTransferred),

		domain.TypeMemberAccessUntilChanged: on(membersAccessUntilChanged),
		domain.TypeMemberAccessExpired:      on(membersAccessExpired),
		domain.TypeMemberAccessEndingSoon:   on(membersAccessEndingSoon),
	}})
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

// membersBatch is the projection's rows as a batch changes them: a key
// maps to nil where rm_members has no row, and a key missing was not read;
// changed holds the keys to write back.
type membersBatch struct {
	b       *Batch
	members map[pair]*memberRow
	changed map[pair]bool
	owners  *perProperty
}

func newMembersBatch(b *Batch) batchRows {
	return &membersBatch{b: b, members: map[pair]*memberRow{}, changed: map[pair]bool{},
		owners: newPerProperty(b, sqlMembersOwnersLoad, sqlMembersOwnersUpsert)}
}

const (
	sqlMembersLoad = `SELECT t.property_id, t.account_id, t.email, t.role, t.status, t.is_owner, t.joined_at,
		t.updated_at, t.access_until, t.access_reminded_s
		FROM rm_members t JOIN unnest($1::text[], $2::text[]) AS k(p, a) ON t.property_id = k.p AND t.account_id = k.a`
	sqlMembersUpsert = `INSERT INTO rm_members (property_id, account_id, email, role, status, is_owner, joined_at,
		updated_at, access_until, access_reminded_s)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[],
			$7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::bigint[])
		ON CONFLICT (property_id, account_id) DO UPDATE SET email = EXCLUDED.email, role = EXCLUDED.role,
			status = EXCLUDED.status, is_owner = EXCLUDED.is_owner, joined_at = EXCLUDED.joined_at,
			updated_at = EXCLUDED.updated_at, access_until = EXCLUDED.access_until,
			access_reminded_s = EXCLUDED.access_reminded_s`
	sqlMembersDelete = `DELETE FROM rm_members t USING unnest($1::text[], $2::text[]) AS k(p, a)
		WHERE t.property_id = k.p AND t.account_id = k.a`

	sqlMembersOwnersLoad   = `SELECT property_id, owner_id FROM rm_members_owners WHERE property_id = ANY($1::text[])`
	sqlMembersOwnersUpsert = `INSERT INTO rm_members_owners (property_id, owner_id) SELECT * FROM unnest($1::text[], $2::text[])
		ON CONFLICT (property_id) DO UPDATE SET owner_id = EXCLUDED.owner_id`
)

// load reads the member row each event names (both sides of a transfer)
// and the owner of the properties whose owner or new members it needs.
func (s *membersBatch) load(b *pgx.Batch, events []recorded.Event) {
	var keys []pair
	var pids []string
	ask := func(pid, accountID string) {
		keys = askRow(s.members, keys, pair{pid, accountID})
	}
	for _, e := range events {
		switch ev := e.Event.(type) {
		case domain.PropertyCreated:
			pids = s.owners.ask(pids, e.PropertyID)
			ask(e.PropertyID, ev.OwnerID)
		case domain.OwnershipTransferred:
			pids = s.owners.ask(pids, e.PropertyID)
			ask(e.PropertyID, ev.From)
			ask(e.PropertyID, ev.To)
		case domain.MemberJoined:
			pids = s.owners.ask(pids, e.PropertyID) // the row it puts needs no read
		default:
			if id := memberOf(e.Event); id != "" {
				ask(e.PropertyID, id)
			}
		}
	}
	if len(keys) > 0 {
		ps, as := pairArrays(keys)
		b.Queue(sqlMembersLoad, ps, as).Query(s.scan)
	}
	if len(pids) > 0 {
		b.Queue(sqlMembersOwnersLoad, storableKeys(pids)).Query(s.owners.scan)
	}
}

// memberOf is the account whose row the event changes, for the events
// about one member that change a row already there; empty for others.
func memberOf(ev any) string {
	switch ev := ev.(type) {
	case domain.MemberRoleChanged:
		return ev.AccountID
	case domain.MemberAccessDisabled:
		return ev.AccountID
	case domain.MemberAccessEnabled:
		return ev.AccountID
	case domain.MemberRemoved:
		return ev.AccountID
	case domain.MemberLeft:
		return ev.AccountID
	case domain.MemberAccessUntilChanged:
		return ev.AccountID
	case domain.MemberAccessExpired:
		return ev.AccountID
	case domain.MemberAccessEndingSoon:
		return ev.AccountID
	}
	return ""
}

func (s *membersBatch) scan(rows pgx.Rows) error {
	var r memberRow
	_, err := pgx.ForEachRow(rows, []any{&r.PropertyID, &r.AccountID, &r.Email, &r.Role, &r.Status, &r.IsOwner,
		&r.JoinedAt, &r.UpdatedAt, &r.AccessUntil, &r.RemindedS}, func() error {
		row := r
		s.members[pair{r.PropertyID, r.AccountID}] = &row
		return nil
	})
	return err
}

// update changes the member's row with f, when there is one.
func (s *membersBatch) update(pid, accountID string, f func(*memberRow)) {
	updateRow(s.b, "rm_members", sqlMembersLoad, s.scan, s.members, s.changed, pair{pid, accountID}, f)
}

func (s *membersBatch) flush(b *pgx.Batch) {
	put, gone := changedRows(s.members, s.changed)
	queueDeletes(b, sqlMembersDelete, gone)
	if n := len(put); n > 0 {
		ps, as, emails, roles, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		owner, joined, updated := make([]bool, n), make([]time.Time, n), make([]time.Time, n)
		until, reminded := make([]*time.Time, n), make([]int64, n)
		for i, r := range put {
			ps[i], as[i], emails[i], roles[i], statuses[i] = r.PropertyID, r.AccountID, r.Email, r.Role, r.Status
			owner[i], joined[i], updated[i], until[i], reminded[i] = r.IsOwner, r.JoinedAt, r.UpdatedAt, r.AccessUntil, r.RemindedS
		}
		b.Queue(sqlMembersUpsert, ps, as, emails, roles, statuses, owner, joined, updated, until, reminded)
	}
	s.owners.flush(b)
}

func membersPropertyCreated(s *membersBatch, e recorded.Event, ev domain.PropertyCreated) error {
	return membersSetOwner(s, e, ev.OwnerID)
}

func membersOwnershipTransferred(s *membersBatch, e recorded.Event, ev domain.OwnershipTransferred) error {
	return membersSetOwner(s, e, ev.To)
}

func membersSetOwner(s *membersBatch, e recorded.Event, ownerID string) error {
	setOwner(s.owners, e, ownerID, func(accountID string, isOwner bool, at time.Time) {
		s.update(e.PropertyID, accountID, func(r *memberRow) {
			if r.IsOwner != isOwner {
				r.IsOwner, r.UpdatedAt = isOwner, at
			}
		})
	})
	return nil
}

func membersJoined(s *membersBatch, e recorded.Event, ev domain.MemberJoined) error {
	owner, had := s.owners.get(e.PropertyID)
	at := dbTime(e.At())
	k := pair{e.PropertyID, ev.AccountID}
	s.changed[k] = true
	s.members[k] = &memberRow{PropertyID: e.PropertyID, AccountID: ev.AccountID, Email: ev.Email, Role: string(ev.Role),
		Status: string(domain.StatusEnabled), IsOwner: had && owner == ev.AccountID, JoinedAt: at, UpdatedAt: at,
		AccessUntil: ev.AccessUntil}
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
	s.update(e.PropertyID, ev.AccountID, func(r *memberRow) {
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
	s.update(e.PropertyID, accountID, func(r *memberRow) {
		f(r)
		r.UpdatedAt = dbTime(e.At())
	})
	return nil
}

func membersRemoved(s *membersBatch, e recorded.Event, ev domain.MemberRemoved) error {
	s.remove(e.PropertyID, ev.AccountID)
	return nil
}

func membersLeft(s *membersBatch, e recorded.Event, ev domain.MemberLeft) error {
	s.remove(e.PropertyID, ev.AccountID)
	return nil
}

// remove deletes the member's row, when there is one.
func (s *membersBatch) remove(pid, accountID string) {
	s.update(pid, accountID, func(*memberRow) {})
	if k := (pair{pid, accountID}); s.changed[k] {
		s.members[k] = nil
	}
}
