package projections

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// MyInvitationsName names the my_invitations projection and its checkpoint.
const MyInvitationsName = "my_invitations"

// MyInvitations returns the projection behind rm_my_invitations, the
// dashboard's bell: the pending invitations addressed to an email, with the
// property's name and the inviter's email. A row goes when its invitation
// stops being pending. Property names are kept in this projection's own
// rm_my_invitations_properties, so it never reads another projection's
// tables and can be rebuilt alone.
func MyInvitations() Projection {
	return withPersonal(myInvitationsPersonal, Projection{Name: MyInvitationsName, Tables: []string{"rm_my_invitations", "rm_my_invitations_properties"}, rows: newMyInvitationsBatch, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:    on(myInvitationsPropertyCreated),
		domain.TypeMemberInvited:      on(myInvitationsInvited),
		domain.TypeInvitationResent:   on(myInvitationsResent),
		domain.TypeInvitationRevoked:  on(myInvitationsRevoked),
		domain.TypeInvitationDeclined: on(myInvitationsDeclined),
		domain.TypeInvitationAccepted: on(myInvitationsAccepted),
	}})
}

// myInvitationsPersonal: the invitee's email, and the inviter's as their
// token claimed it, sealed under their account when it is no address.
var myInvitationsPersonal = []PersonalColumn{
	{Table: "rm_my_invitations", Column: "email"},
	{Table: "rm_my_invitations", Column: "invited_by_email", Claimed: true, Account: "invited_by"},
}

type myInvitationRow struct {
	Email, PropertyID, InvitationID, PropertyName, Role, InvitedBy, InvitedByEmail string
	CreatedAt, ExpiresAt                                                           time.Time
}

// myInvitationsBatch is the projection's rows as a batch changes them: a
// key maps to nil where the table has no row, and a key missing was not
// read; changed holds the keys to write back. scanned holds the
// properties whose every row is in invitations.
type myInvitationsBatch struct {
	b           *Batch
	invitations map[pair]*myInvitationRow
	changed     map[pair]bool
	scanned     map[string]bool
	names       *perProperty
}

func newMyInvitationsBatch(b *Batch) batchRows {
	return &myInvitationsBatch{b: b, invitations: map[pair]*myInvitationRow{}, changed: map[pair]bool{}, scanned: map[string]bool{},
		names: newPerProperty(b, sqlMyInvitationsNamesLoad, sqlMyInvitationsNamesUpsert)}
}

const (
	sqlMyInvitationsColumns = `t.email, t.property_id, t.invitation_id, t.property_name, t.role, t.invited_by,
		t.invited_by_email, t.created_at, t.expires_at`
	sqlMyInvitationsLoad = `SELECT ` + sqlMyInvitationsColumns + ` FROM rm_my_invitations t
		JOIN unnest($1::text[], $2::text[]) AS k(p, i) ON t.property_id = k.p AND t.invitation_id = k.i`
	sqlMyInvitationsScan   = `SELECT ` + sqlMyInvitationsColumns + ` FROM rm_my_invitations t WHERE t.property_id = ANY($1::text[])`
	sqlMyInvitationsUpsert = `INSERT INTO rm_my_invitations (email, property_id, invitation_id, property_name, role,
		invited_by, invited_by_email, created_at, expires_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::timestamptz[], $9::timestamptz[])
		ON CONFLICT (property_id, invitation_id) DO UPDATE SET email = EXCLUDED.email,
			property_name = EXCLUDED.property_name, role = EXCLUDED.role, invited_by = EXCLUDED.invited_by,
			invited_by_email = EXCLUDED.invited_by_email, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`
	sqlMyInvitationsDelete = `DELETE FROM rm_my_invitations t USING unnest($1::text[], $2::text[]) AS k(p, i)
		WHERE t.property_id = k.p AND t.invitation_id = k.i`

	sqlMyInvitationsNamesLoad   = `SELECT property_id, name FROM rm_my_invitations_properties WHERE property_id = ANY($1::text[])`
	sqlMyInvitationsNamesUpsert = `INSERT INTO rm_my_invitations_properties (property_id, name)
		SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (property_id) DO UPDATE SET name = EXCLUDED.name`
)

// load reads the invitation each event but MemberInvited changes, the
// name of the properties invited to, and every row of a property renamed.
func (s *myInvitationsBatch) load(b *pgx.Batch, events []recorded.Event) {
	var keys []pair
	var pids, scans []string
	for _, e := range events {
		switch ev := e.Event.(type) {
		case domain.MemberInvited:
			pids = s.names.ask(pids, e.PropertyID)
		case domain.PropertyCreated:
			if e.Revision > 0 && !s.scanned[e.PropertyID] {
				s.scanned[e.PropertyID] = true
				scans = append(scans, e.PropertyID)
			}
		default:
			if id := invitationOf(ev); id != "" {
				if k := (pair{e.PropertyID, id}); !known(s.invitations, k) {
					s.invitations[k] = nil
					keys = append(keys, k)
				}
			}
		}
	}
	if len(keys) > 0 {
		ps, is := pairArrays(keys)
		b.Queue(sqlMyInvitationsLoad, ps, is).Query(s.scan(true))
	}
	if len(scans) > 0 {
		b.Queue(sqlMyInvitationsScan, storableKeys(scans)).Query(s.scan(true))
	}
	if len(pids) > 0 {
		b.Queue(sqlMyInvitationsNamesLoad, storableKeys(pids)).Query(s.names.scan)
	}
}

// scan keeps the rows read; over says they replace what the batch holds,
// which only a read before the reducers run may.
func (s *myInvitationsBatch) scan(over bool) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var r myInvitationRow
		_, err := pgx.ForEachRow(rows, []any{&r.Email, &r.PropertyID, &r.InvitationID, &r.PropertyName, &r.Role,
			&r.InvitedBy, &r.InvitedByEmail, &r.CreatedAt, &r.ExpiresAt}, func() error {
			if k := (pair{r.PropertyID, r.InvitationID}); over || !known(s.invitations, k) {
				row := r
				s.invitations[k] = &row
			}
			return nil
		})
		return err
	}
}

// update changes the invitation's row with f, when there is one.
func (s *myInvitationsBatch) update(pid, invitationID string, f func(*myInvitationRow)) {
	updateRow(s.b, "rm_my_invitations", sqlMyInvitationsLoad, s.scan(true), s.invitations, s.changed, pair{pid, invitationID}, f)
}

// remove deletes the invitation's row, when there is one.
func (s *myInvitationsBatch) remove(pid, invitationID string) {
	s.update(pid, invitationID, func(*myInvitationRow) {})
	if k := (pair{pid, invitationID}); s.changed[k] {
		s.invitations[k] = nil
	}
}

// updateProperty calls f on every row of the property, as an UPDATE ...
// WHERE property_id = pid would, and writes back those f reports changed.
func (s *myInvitationsBatch) updateProperty(pid string, f func(*myInvitationRow) bool) {
	if !s.scanned[pid] {
		s.scanned[pid] = true
		s.b.query("rm_my_invitations of property "+pid, sqlMyInvitationsScan, s.scan(false), []string{pid})
	}
	for k, r := range s.invitations {
		if r != nil && r.PropertyID == pid && f(r) {
			s.changed[k] = true
		}
	}
}

func (s *myInvitationsBatch) flush(b *pgx.Batch) {
	put, gone := changedRows(s.invitations, s.changed)
	queueDeletes(b, sqlMyInvitationsDelete, gone)
	if n := len(put); n > 0 {
		emails, ps, is, names, roles, by, byEmail := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		created, expires := make([]time.Time, n), make([]time.Time, n)
		for i, r := range put {
			emails[i], ps[i], is[i], names[i], roles[i], by[i], byEmail[i] = r.Email, r.PropertyID, r.InvitationID, r.PropertyName, r.Role, r.InvitedBy, r.InvitedByEmail
			created[i], expires[i] = r.CreatedAt, r.ExpiresAt
		}
		b.Queue(sqlMyInvitationsUpsert, emails, ps, is, names, roles, by, byEmail, created, expires)
	}
	s.names.flush(b)
}

func myInvitationsPropertyCreated(s *myInvitationsBatch, e recorded.Event, ev domain.PropertyCreated) error {
	s.names.put(e.PropertyID, ev.Name)
	// A rename would take this path too: pending rows show the new name.
	// At revision 0 no event of the property came before, so it has no
	// rows to rename.
	if e.Revision > 0 {
		s.updateProperty(e.PropertyID, func(r *myInvitationRow) bool {
			if r.PropertyName == ev.Name {
				return false
			}
			r.PropertyName = ev.Name
			return true
		})
	}
	return nil
}

func myInvitationsInvited(s *myInvitationsBatch, e recorded.Event, ev domain.MemberInvited) error {
	name, _ := s.names.get(e.PropertyID)
	k := pair{e.PropertyID, ev.InvitationID}
	s.changed[k] = true
	s.invitations[k] = &myInvitationRow{Email: ev.Email, PropertyID: e.PropertyID, InvitationID: ev.InvitationID,
		PropertyName: name, Role: string(ev.Role), InvitedBy: ev.InvitedBy, InvitedByEmail: inviterEmail(e, ev),
		CreatedAt: dbTime(e.At()), ExpiresAt: dbTime(ev.ExpiresAt)}
	return nil
}

// inviterEmail is the inviter's email when the metadata's actor is the
// inviter (the payload carries only its ID) and their token verified it:
// an unverified claim is never shown as who invited.
func inviterEmail(e recorded.Event, ev domain.MemberInvited) string {
	if e.Meta.ActorID != "" && e.Meta.ActorID != ev.InvitedBy {
		return ""
	}
	return e.Meta.ShownActorEmail()
}

func myInvitationsResent(s *myInvitationsBatch, e recorded.Event, ev domain.InvitationResent) error {
	s.update(e.PropertyID, ev.InvitationID, func(r *myInvitationRow) { r.ExpiresAt = dbTime(ev.ExpiresAt) })
	return nil
}

func myInvitationsRevoked(s *myInvitationsBatch, e recorded.Event, ev domain.InvitationRevoked) error {
	s.remove(e.PropertyID, ev.InvitationID)
	return nil
}

func myInvitationsDeclined(s *myInvitationsBatch, e recorded.Event, ev domain.InvitationDeclined) error {
	s.remove(e.PropertyID, ev.InvitationID)
	return nil
}

func myInvitationsAccepted(s *myInvitationsBatch, e recorded.Event, ev domain.InvitationAccepted) error {
	s.remove(e.PropertyID, ev.InvitationID)
	return nil
}
