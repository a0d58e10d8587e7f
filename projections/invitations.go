package projections

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// InvitationsName names the invitations projection and its checkpoint.
const InvitationsName = "invitations"

// Invitations returns the projection behind rm_invitations: every invitation
// of a property with its stored status (pending, accepted, revoked or
// declined). Expired is derived from expires_at when read, and the token
// nonce is never stored.
func Invitations() Projection {
	return withPersonal(invitationsPersonal, Projection{Name: InvitationsName, Tables: []string{"rm_invitations"}, rows: newInvitationsBatch, Reducers: map[string]Reducer{
		domain.TypeMemberInvited:      on(invitationsInvited),
		domain.TypeInvitationResent:   on(invitationsResent),
		domain.TypeInvitationRevoked:  on(invitationsRevoked),
		domain.TypeInvitationDeclined: on(invitationsDeclined),
		domain.TypeInvitationAccepted: on(invitationsAccepted),
	}})
}

// invitationsPersonal: the invitee's email.
var invitationsPersonal = []PersonalColumn{{Table: "rm_invitations", Column: "email"}}

type invitationRow struct {
	PropertyID, InvitationID, Email, Role, Status, InvitedBy string
	CreatedAt, ExpiresAt, UpdatedAt                          time.Time
	// AccessUntil is when the membership offered ends; nil when it does not.
	AccessUntil *time.Time
}

// invitationsBatch is the projection's rows as a batch changes them: a
// key maps to nil where the table has no row, and a key missing was not
// read; changed holds the keys to write back.
type invitationsBatch struct {
	b           *Batch
	invitations map[pair]*invitationRow
	changed     map[pair]bool
}

func newInvitationsBatch(b *Batch) batchRows {
	return &invitationsBatch{b: b, invitations: map[pair]*invitationRow{}, changed: map[pair]bool{}}
}

const (
	sqlInvitationsLoad = `SELECT t.property_id, t.invitation_id, t.email, t.role, t.status, t.invited_by,
		t.created_at, t.expires_at, t.updated_at, t.access_until
		FROM rm_invitations t JOIN unnest($1::text[], $2::text[]) AS k(p, i) ON t.property_id = k.p AND t.invitation_id = k.i`
	sqlInvitationsUpsert = `INSERT INTO rm_invitations (property_id, invitation_id, email, role, status, invited_by,
		created_at, expires_at, updated_at, access_until)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
			$7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[])
		ON CONFLICT (property_id, invitation_id) DO UPDATE SET email = EXCLUDED.email, role = EXCLUDED.role,
			status = EXCLUDED.status, invited_by = EXCLUDED.invited_by, created_at = EXCLUDED.created_at,
			expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at, access_until = EXCLUDED.access_until`
)

// load reads the invitation each event but MemberInvited changes.
func (s *invitationsBatch) load(b *pgx.Batch, events []recorded.Event) {
	var keys []pair
	for _, e := range events {
		if id := invitationOf(e.Event); id != "" {
			if k := (pair{e.PropertyID, id}); !known(s.invitations, k) {
				s.invitations[k] = nil
				keys = append(keys, k)
			}
		}
	}
	if len(keys) > 0 {
		ps, is := pairArrays(keys)
		b.Queue(sqlInvitationsLoad, ps, is).Query(s.scan)
	}
}

// invitationOf is the invitation whose row the event changes, for the
// events about an invitation there already; empty for others.
func invitationOf(ev any) string {
	switch ev := ev.(type) {
	case domain.InvitationResent:
		return ev.InvitationID
	case domain.InvitationRevoked:
		return ev.InvitationID
	case domain.InvitationDeclined:
		return ev.InvitationID
	case domain.InvitationAccepted:
		return ev.InvitationID
	}
	return ""
}

func (s *invitationsBatch) scan(rows pgx.Rows) error {
	var r invitationRow
	_, err := pgx.ForEachRow(rows, []any{&r.PropertyID, &r.InvitationID, &r.Email, &r.Role, &r.Status, &r.InvitedBy,
		&r.CreatedAt, &r.ExpiresAt, &r.UpdatedAt, &r.AccessUntil}, func() error {
		row := r
		s.invitations[pair{r.PropertyID, r.InvitationID}] = &row
		return nil
	})
	return err
}

// update changes the invitation's row with f, when there is one.
func (s *invitationsBatch) update(pid, invitationID string, f func(*invitationRow)) {
	updateRow(s.b, "rm_invitations", sqlInvitationsLoad, s.scan, s.invitations, s.changed, pair{pid, invitationID}, f)
}

func (s *invitationsBatch) flush(b *pgx.Batch) {
	n := len(s.changed)
	if n == 0 {
		return
	}
	ps, is, emails, roles, statuses, by := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	created, expires, updated, until := make([]time.Time, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n), make([]*time.Time, 0, n)
	for k := range s.changed {
		r := s.invitations[k] // never deleted
		ps, is, emails, roles = append(ps, r.PropertyID), append(is, r.InvitationID), append(emails, r.Email), append(roles, r.Role)
		statuses, by = append(statuses, r.Status), append(by, r.InvitedBy)
		created, expires, updated, until = append(created, r.CreatedAt), append(expires, r.ExpiresAt), append(updated, r.UpdatedAt), append(until, r.AccessUntil)
	}
	b.Queue(sqlInvitationsUpsert, ps, is, emails, roles, statuses, by, created, expires, updated, until)
}

func invitationsInvited(s *invitationsBatch, e recorded.Event, ev domain.MemberInvited) error {
	at := dbTime(e.At())
	k := pair{e.PropertyID, ev.InvitationID}
	s.changed[k] = true
	s.invitations[k] = &invitationRow{PropertyID: e.PropertyID, InvitationID: ev.InvitationID, Email: ev.Email,
		Role: string(ev.Role), Status: string(domain.InvitePending), InvitedBy: ev.InvitedBy,
		CreatedAt: at, ExpiresAt: dbTime(ev.ExpiresAt), UpdatedAt: at, AccessUntil: ev.AccessUntil}
	return nil
}

func invitationsResent(s *invitationsBatch, e recorded.Event, ev domain.InvitationResent) error {
	s.update(e.PropertyID, ev.InvitationID, func(r *invitationRow) {
		r.ExpiresAt, r.UpdatedAt = dbTime(ev.ExpiresAt), dbTime(e.At())
	})
	return nil
}

func invitationsRevoked(s *invitationsBatch, e recorded.Event, ev domain.InvitationRevoked) error {
	return setInvitationStatus(s, e, ev.InvitationID, domain.InviteRevoked)
}

func invitationsDeclined(s *invitationsBatch, e recorded.Event, ev domain.InvitationDeclined) error {
	return setInvitationStatus(s, e, ev.InvitationID, domain.InviteDeclined)
}

func invitationsAccepted(s *invitationsBatch, e recorded.Event, ev domain.InvitationAccepted) error {
	return setInvitationStatus(s, e, ev.InvitationID, domain.InviteAccepted)
}

func setInvitationStatus(s *invitationsBatch, e recorded.Event, invitationID string, status domain.InvitationStatus) error {
	s.update(e.PropertyID, invitationID, func(r *invitationRow) {
		r.Status, r.UpdatedAt = string(status), dbTime(e.At())
	})
	return nil
}
