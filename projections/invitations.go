package projections

import (
	"time"

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
	return withPersonal(invitationsPersonal, setwise(InvitationsName, []string{"rm_invitations"}, newInvitationsBatch, map[string]step[*invitationsBatch]{
		domain.TypeMemberInvited:      onEvent(invitationsInvited),
		domain.TypeInvitationResent:   onEvent(invitationsResent),
		domain.TypeInvitationRevoked:  onEvent(invitationsRevoked),
		domain.TypeInvitationDeclined: onEvent(invitationsDeclined),
		domain.TypeInvitationAccepted: onEvent(invitationsAccepted),
	}))
}

// invitationsPersonal: the invitee's email.
var invitationsPersonal = []PersonalColumn{{Table: "rm_invitations", Column: "email"}}

type invitationRow struct {
	PropertyID, InvitationID, Email, Role, Status, InvitedBy string
	CreatedAt, ExpiresAt, UpdatedAt                          time.Time
	// AccessUntil is when the membership offered ends; nil when it does not.
	AccessUntil *time.Time
}

var invitationsSpec = (&tableSpec[invitationRow]{
	name: "rm_invitations", keyCols: []string{"property_id", "invitation_id"},
	key: func(r *invitationRow) rowKey { return rowKey{r.PropertyID, r.InvitationID} },
	cols: []column[invitationRow]{
		col("property_id", func(r *invitationRow) any { return &r.PropertyID }),
		col("invitation_id", func(r *invitationRow) any { return &r.InvitationID }),
		col("email", func(r *invitationRow) any { return &r.Email }),
		col("role", func(r *invitationRow) any { return &r.Role }),
		col("status", func(r *invitationRow) any { return &r.Status }),
		col("invited_by", func(r *invitationRow) any { return &r.InvitedBy }),
		col("created_at", func(r *invitationRow) any { return &r.CreatedAt }),
		col("expires_at", func(r *invitationRow) any { return &r.ExpiresAt }),
		col("updated_at", func(r *invitationRow) any { return &r.UpdatedAt }),
		col("access_until", func(r *invitationRow) any { return &r.AccessUntil }),
	},
}).build()

type invitationsBatch struct{ invitations *table[invitationRow] }

func newInvitationsBatch(u *unit) *invitationsBatch {
	return &invitationsBatch{invitations: newTable(u, invitationsSpec)}
}

func invitationsInvited(s *invitationsBatch, e recorded.Event, ev domain.MemberInvited) error {
	at := dbTime(e.At())
	s.invitations.Put(invitationRow{PropertyID: e.PropertyID, InvitationID: ev.InvitationID, Email: ev.Email,
		Role: string(ev.Role), Status: string(domain.InvitePending), InvitedBy: ev.InvitedBy,
		CreatedAt: at, ExpiresAt: dbTime(ev.ExpiresAt), UpdatedAt: at, AccessUntil: ev.AccessUntil})
	return nil
}

func invitationsResent(s *invitationsBatch, e recorded.Event, ev domain.InvitationResent) error {
	s.invitations.Update(rowKey{e.PropertyID, ev.InvitationID}, func(r *invitationRow) {
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
	s.invitations.Update(rowKey{e.PropertyID, invitationID}, func(r *invitationRow) {
		r.Status, r.UpdatedAt = string(status), dbTime(e.At())
	})
	return nil
}
