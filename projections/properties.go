package projections

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// PropertiesName names the properties projection and its checkpoint.
const PropertiesName = "properties"

// Properties returns the projection behind rm_properties: one row per
// property with its owner, its stream revision (the ETag of If-Match) and
// its member and pending-invitation counts. Every event type moves the
// revision, so every type is in the table. The counts are kept from the sets
// in rm_properties_members and rm_properties_pending, so a count moves only
// when its set really changes.
func Properties() Projection {
	return Projection{Name: PropertiesName, Tables: []string{"rm_properties", "rm_properties_members", "rm_properties_pending"}, rows: newPropertiesBatch, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:         on(propertyCreated),
		domain.TypeMemberInvited:           on(propertyInvited),
		domain.TypeInvitationResent:        onAny(touchProperty),
		domain.TypeInvitationRevoked:       on(propertyInvitationRevoked),
		domain.TypeInvitationDeclined:      on(propertyInvitationDeclined),
		domain.TypeInvitationAccepted:      on(propertyInvitationAccepted),
		domain.TypeMemberJoined:            on(propertyMemberJoined),
		domain.TypeMemberRoleChanged:       onAny(touchProperty),
		domain.TypeMemberAccessDisabled:    onAny(touchProperty),
		domain.TypeMemberAccessEnabled:     onAny(touchProperty),
		domain.TypeMemberRemoved:           on(propertyMemberRemoved),
		domain.TypeMemberLeft:              on(propertyMemberLeft),
		domain.TypeOwnershipTransferred:    on(propertyOwnershipTransferred),
		domain.TypeInvitationPolicyChanged: on(propertyInvitationPolicyChanged),

		domain.TypeWebhookEndpointCreated:  onAny(touchProperty),
		domain.TypeWebhookEndpointUpdated:  onAny(touchProperty),
		domain.TypeWebhookEndpointDisabled: onAny(touchProperty),
		domain.TypeWebhookEndpointEnabled:  onAny(touchProperty),
		domain.TypeWebhookSecretRotated:    onAny(touchProperty),
		domain.TypeWebhookEndpointDeleted:  onAny(touchProperty),

		domain.TypeRoleCreated:            onAny(touchProperty),
		domain.TypeRoleRenamed:            onAny(touchProperty),
		domain.TypeRolePermissionsChanged: onAny(touchProperty),
		domain.TypeRoleDeleted:            onAny(touchProperty),

		domain.TypeMemberAccessUntilChanged: onAny(touchProperty),
		domain.TypeMemberAccessExpired:      onAny(touchProperty),
		domain.TypeMemberAccessEndingSoon:   onAny(touchProperty),
	}}
}

type propertyRow struct {
	PropertyID, Name, OwnerID string
	Revision                  int64
	MemberCount, Pending      int32
	CreatedAt, UpdatedAt      time.Time
	// DefaultLifetime and MaximumLifetime are the invitation policy in
	// seconds, 0 while the property has set none.
	DefaultLifetime, MaximumLifetime int64
}

// propertiesBatch is the projection's rows as a batch changes them. A key
// maps to nil (or false) where the table has no row; a key missing was not
// read. changed holds the keys to write back.
type propertiesBatch struct {
	b                              *Batch
	props                          map[string]*propertyRow
	propsChanged                   map[string]bool
	members, pending               map[pair]bool
	membersChanged, pendingChanged map[pair]bool
}

func newPropertiesBatch(b *Batch) batchRows {
	return &propertiesBatch{b: b, props: map[string]*propertyRow{}, propsChanged: map[string]bool{},
		members: map[pair]bool{}, pending: map[pair]bool{}, membersChanged: map[pair]bool{}, pendingChanged: map[pair]bool{}}
}

const (
	sqlPropertiesLoad = `SELECT property_id, name, owner_id, revision, member_count, pending_invitation_count,
		created_at, updated_at, invite_default_lifetime_s, invite_maximum_lifetime_s
		FROM rm_properties WHERE property_id = ANY($1::text[])`
	sqlPropertiesUpsert = `INSERT INTO rm_properties (property_id, name, owner_id, revision, member_count,
		pending_invitation_count, created_at, updated_at, invite_default_lifetime_s, invite_maximum_lifetime_s)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::integer[], $6::integer[],
			$7::timestamptz[], $8::timestamptz[], $9::bigint[], $10::bigint[])
		ON CONFLICT (property_id) DO UPDATE SET name = EXCLUDED.name, owner_id = EXCLUDED.owner_id,
			revision = EXCLUDED.revision, member_count = EXCLUDED.member_count,
			pending_invitation_count = EXCLUDED.pending_invitation_count, created_at = EXCLUDED.created_at,
			updated_at = EXCLUDED.updated_at, invite_default_lifetime_s = EXCLUDED.invite_default_lifetime_s,
			invite_maximum_lifetime_s = EXCLUDED.invite_maximum_lifetime_s`

	sqlPropertyMembersLoad = `SELECT t.property_id, t.account_id FROM rm_properties_members t
		JOIN unnest($1::text[], $2::text[]) AS k(p, a) ON t.property_id = k.p AND t.account_id = k.a`
	sqlPropertyMembersInsert = `INSERT INTO rm_properties_members (property_id, account_id)
		SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`
	sqlPropertyMembersDelete = `DELETE FROM rm_properties_members t USING unnest($1::text[], $2::text[]) AS k(p, a)
		WHERE t.property_id = k.p AND t.account_id = k.a`

	sqlPropertyPendingLoad = `SELECT t.property_id, t.invitation_id FROM rm_properties_pending t
		JOIN unnest($1::text[], $2::text[]) AS k(p, i) ON t.property_id = k.p AND t.invitation_id = k.i`
	sqlPropertyPendingInsert = `INSERT INTO rm_properties_pending (property_id, invitation_id)
		SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`
	sqlPropertyPendingDelete = `DELETE FROM rm_properties_pending t USING unnest($1::text[], $2::text[]) AS k(p, i)
		WHERE t.property_id = k.p AND t.invitation_id = k.i`
)

// load reads each event's property, and the member or invitation it adds
// to or takes from the sets.
func (s *propertiesBatch) load(b *pgx.Batch, events []recorded.Event) {
	var pids []string
	var members, pending []pair
	for _, e := range events {
		if _, ok := s.props[e.PropertyID]; !ok {
			s.props[e.PropertyID] = nil
			pids = append(pids, e.PropertyID)
		}
		switch ev := e.Event.(type) {
		case domain.MemberJoined:
			members = askPair(s.members, members, pair{e.PropertyID, ev.AccountID})
		case domain.MemberRemoved:
			members = askPair(s.members, members, pair{e.PropertyID, ev.AccountID})
		case domain.MemberLeft:
			members = askPair(s.members, members, pair{e.PropertyID, ev.AccountID})
		case domain.MemberInvited:
			pending = askPair(s.pending, pending, pair{e.PropertyID, ev.InvitationID})
		case domain.InvitationRevoked:
			pending = askPair(s.pending, pending, pair{e.PropertyID, ev.InvitationID})
		case domain.InvitationDeclined:
			pending = askPair(s.pending, pending, pair{e.PropertyID, ev.InvitationID})
		case domain.InvitationAccepted:
			pending = askPair(s.pending, pending, pair{e.PropertyID, ev.InvitationID})
		}
	}
	if len(pids) > 0 {
		b.Queue(sqlPropertiesLoad, storableKeys(pids)).Query(s.scanProps)
	}
	if len(members) > 0 {
		ps, as := pairArrays(members)
		b.Queue(sqlPropertyMembersLoad, ps, as).Query(scanPairs(s.members))
	}
	if len(pending) > 0 {
		ps, is := pairArrays(pending)
		b.Queue(sqlPropertyPendingLoad, ps, is).Query(scanPairs(s.pending))
	}
}

// askPair appends k to keys unless set knows it, and marks it known.
func askPair(set map[pair]bool, keys []pair, k pair) []pair {
	if _, ok := set[k]; ok {
		return keys
	}
	set[k] = false
	return append(keys, k)
}

// scanPairs marks the (a, b) rows read as present in set.
func scanPairs(set map[pair]bool) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var k pair
		_, err := pgx.ForEachRow(rows, []any{&k.a, &k.b}, func() error {
			set[k] = true
			return nil
		})
		return err
	}
}

func (s *propertiesBatch) scanProps(rows pgx.Rows) error {
	var r propertyRow
	_, err := pgx.ForEachRow(rows, []any{&r.PropertyID, &r.Name, &r.OwnerID, &r.Revision, &r.MemberCount, &r.Pending,
		&r.CreatedAt, &r.UpdatedAt, &r.DefaultLifetime, &r.MaximumLifetime}, func() error {
		row := r
		s.props[r.PropertyID] = &row
		return nil
	})
	return err
}

// prop is the property's row, nil when there is none; change it through
// update.
func (s *propertiesBatch) prop(pid string) *propertyRow {
	if _, ok := s.props[pid]; !ok {
		s.props[pid] = nil
		s.b.query("rm_properties", sqlPropertiesLoad, s.scanProps, []string{pid})
	}
	return s.props[pid]
}

// update changes the property's row with f, when there is one.
func (s *propertiesBatch) update(pid string, f func(*propertyRow)) {
	if r := s.prop(pid); r != nil {
		f(r)
		s.propsChanged[pid] = true
	}
}

// inSet reports whether set holds k, reading it on the spot from the
// table load reads when the batch has not.
func (s *propertiesBatch) inSet(set map[pair]bool, load string, k pair) bool {
	if _, ok := set[k]; !ok {
		set[k] = false
		s.b.query("a set row", load, scanPairs(set), []string{k.a}, []string{k.b})
	}
	return set[k]
}

// add puts k in the set and reports whether it was not there, as the
// INSERT ... ON CONFLICT DO NOTHING of the sets behind counts would.
func (s *propertiesBatch) add(set, changed map[pair]bool, load string, k pair) bool {
	if s.inSet(set, load, k) {
		return false
	}
	set[k], changed[k] = true, true
	return true
}

// remove takes k out of the set and reports whether it was there.
func (s *propertiesBatch) remove(set, changed map[pair]bool, load string, k pair) bool {
	if !s.inSet(set, load, k) {
		return false
	}
	set[k], changed[k] = false, true
	return true
}

func (s *propertiesBatch) flush(b *pgx.Batch) {
	var rows []*propertyRow
	for pid := range s.propsChanged {
		rows = append(rows, s.props[pid])
	}
	if len(rows) > 0 {
		n := len(rows)
		ids, names, owners := make([]string, n), make([]string, n), make([]string, n)
		revs, defs, maxs := make([]int64, n), make([]int64, n), make([]int64, n)
		mems, pends := make([]int32, n), make([]int32, n)
		created, updated := make([]time.Time, n), make([]time.Time, n)
		for i, r := range rows {
			ids[i], names[i], owners[i], revs[i], mems[i], pends[i] = r.PropertyID, r.Name, r.OwnerID, r.Revision, r.MemberCount, r.Pending
			created[i], updated[i], defs[i], maxs[i] = r.CreatedAt, r.UpdatedAt, r.DefaultLifetime, r.MaximumLifetime
		}
		b.Queue(sqlPropertiesUpsert, ids, names, owners, revs, mems, pends, created, updated, defs, maxs)
	}
	flushSet(b, s.members, s.membersChanged, sqlPropertyMembersDelete, sqlPropertyMembersInsert)
	flushSet(b, s.pending, s.pendingChanged, sqlPropertyPendingDelete, sqlPropertyPendingInsert)
}

// flushSet queues the writes of a set's changed keys: one DELETE of those
// gone, one INSERT of those added.
func flushSet(b *pgx.Batch, set, changed map[pair]bool, del, ins string) {
	var gone, added []pair
	for k := range changed {
		if set[k] {
			added = append(added, k)
		} else {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		x, y := pairArrays(gone)
		b.Queue(del, x, y)
	}
	if len(added) > 0 {
		x, y := pairArrays(added)
		b.Queue(ins, x, y)
	}
}

// A second PropertyCreated renames and hands over the property but keeps
// its creation time and counts.
func propertyCreated(s *propertiesBatch, e recorded.Event, ev domain.PropertyCreated) error {
	at := dbTime(e.At())
	if r := s.prop(e.PropertyID); r != nil {
		r.Name, r.OwnerID, r.Revision, r.UpdatedAt = ev.Name, ev.OwnerID, int64(e.Revision), at
	} else {
		s.props[e.PropertyID] = &propertyRow{PropertyID: e.PropertyID, Name: ev.Name, OwnerID: ev.OwnerID,
			Revision: int64(e.Revision), CreatedAt: at, UpdatedAt: at}
	}
	s.propsChanged[e.PropertyID] = true
	return nil
}

// touchProperty records that the property's stream moved on.
func touchProperty(s *propertiesBatch, e recorded.Event) error {
	s.update(e.PropertyID, func(r *propertyRow) { r.Revision, r.UpdatedAt = int64(e.Revision), dbTime(e.At()) })
	return nil
}

// countProperty moves the revision and adds delta to the count count picks.
func countProperty(s *propertiesBatch, e recorded.Event, count func(*propertyRow) *int32, delta int32) {
	s.update(e.PropertyID, func(r *propertyRow) {
		r.Revision, r.UpdatedAt = int64(e.Revision), dbTime(e.At())
		*count(r) += delta
	})
}

func members(r *propertyRow) *int32 { return &r.MemberCount }
func pending(r *propertyRow) *int32 { return &r.Pending }

// one is 1 when b holds, else 0: a set's change to its count.
func one(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func propertyInvited(s *propertiesBatch, e recorded.Event, ev domain.MemberInvited) error {
	countProperty(s, e, pending, one(s.add(s.pending, s.pendingChanged, sqlPropertyPendingLoad, pair{e.PropertyID, ev.InvitationID})))
	return nil
}

func propertyInvitationRevoked(s *propertiesBatch, e recorded.Event, ev domain.InvitationRevoked) error {
	return propertyInvitationClosed(s, e, ev.InvitationID)
}

func propertyInvitationDeclined(s *propertiesBatch, e recorded.Event, ev domain.InvitationDeclined) error {
	return propertyInvitationClosed(s, e, ev.InvitationID)
}

func propertyInvitationAccepted(s *propertiesBatch, e recorded.Event, ev domain.InvitationAccepted) error {
	return propertyInvitationClosed(s, e, ev.InvitationID)
}

// propertyInvitationClosed handles every way an invitation stops being pending.
func propertyInvitationClosed(s *propertiesBatch, e recorded.Event, invitationID string) error {
	countProperty(s, e, pending, -one(s.remove(s.pending, s.pendingChanged, sqlPropertyPendingLoad, pair{e.PropertyID, invitationID})))
	return nil
}

func propertyMemberJoined(s *propertiesBatch, e recorded.Event, ev domain.MemberJoined) error {
	countProperty(s, e, members, one(s.add(s.members, s.membersChanged, sqlPropertyMembersLoad, pair{e.PropertyID, ev.AccountID})))
	return nil
}

func propertyMemberRemoved(s *propertiesBatch, e recorded.Event, ev domain.MemberRemoved) error {
	return propertyMemberGone(s, e, ev.AccountID)
}

func propertyMemberLeft(s *propertiesBatch, e recorded.Event, ev domain.MemberLeft) error {
	return propertyMemberGone(s, e, ev.AccountID)
}

// propertyMemberGone handles both a removal and a member leaving.
func propertyMemberGone(s *propertiesBatch, e recorded.Event, accountID string) error {
	countProperty(s, e, members, -one(s.remove(s.members, s.membersChanged, sqlPropertyMembersLoad, pair{e.PropertyID, accountID})))
	return nil
}

func propertyOwnershipTransferred(s *propertiesBatch, e recorded.Event, ev domain.OwnershipTransferred) error {
	s.update(e.PropertyID, func(r *propertyRow) {
		r.OwnerID, r.Revision, r.UpdatedAt = ev.To, int64(e.Revision), dbTime(e.At())
	})
	return nil
}

func propertyInvitationPolicyChanged(s *propertiesBatch, e recorded.Event, ev domain.InvitationPolicyChanged) error {
	s.update(e.PropertyID, func(r *propertyRow) {
		r.DefaultLifetime, r.MaximumLifetime = ev.DefaultLifetimeSeconds, ev.MaximumLifetimeSeconds
		r.Revision, r.UpdatedAt = int64(e.Revision), dbTime(e.At())
	})
	return nil
}
