package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// InvitationsName names the invitations projection and its checkpoint.
const InvitationsName = "invitations"

// Invitations returns the projection behind rm_invitations: every invitation
// of a property with its stored status (pending, accepted, revoked or
// declined). Expired is derived from expires_at when read, and the token
// nonce is never stored.
func Invitations() Projection {
	return Projection{Name: InvitationsName, Tables: []string{"rm_invitations"}, Reducers: map[string]Reducer{
		domain.TypeMemberInvited:      On(invitationsInvited),
		domain.TypeInvitationResent:   On(invitationsResent),
		domain.TypeInvitationRevoked:  On(invitationsRevoked),
		domain.TypeInvitationDeclined: On(invitationsDeclined),
		domain.TypeInvitationAccepted: On(invitationsAccepted),
	}}
}

func invitationsInvited(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberInvited) error {
	_, err := tx.Exec(ctx, `INSERT INTO rm_invitations
		(property_id, invitation_id, email, role, status, invited_by, created_at, expires_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)
		ON CONFLICT (property_id, invitation_id) DO UPDATE
		SET email = $3, role = $4, status = $5, invited_by = $6, created_at = $7, expires_at = $8, updated_at = $7`,
		e.PropertyID, ev.InvitationID, ev.Email, string(ev.Role), string(domain.InvitePending),
		ev.InvitedBy, e.At(), ev.ExpiresAt)
	return err
}

func invitationsResent(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationResent) error {
	_, err := tx.Exec(ctx, `UPDATE rm_invitations SET expires_at = $3, updated_at = $4
		WHERE property_id = $1 AND invitation_id = $2`,
		e.PropertyID, ev.InvitationID, ev.ExpiresAt, e.At())
	return err
}

func invitationsRevoked(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationRevoked) error {
	return setInvitationStatus(ctx, tx, e, ev.InvitationID, domain.InviteRevoked)
}

func invitationsDeclined(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationDeclined) error {
	return setInvitationStatus(ctx, tx, e, ev.InvitationID, domain.InviteDeclined)
}

func invitationsAccepted(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationAccepted) error {
	return setInvitationStatus(ctx, tx, e, ev.InvitationID, domain.InviteAccepted)
}

func setInvitationStatus(ctx context.Context, tx pgx.Tx, e Envelope, invitationID string, s domain.InvitationStatus) error {
	_, err := tx.Exec(ctx, `UPDATE rm_invitations SET status = $3, updated_at = $4
		WHERE property_id = $1 AND invitation_id = $2`,
		e.PropertyID, invitationID, string(s), e.At())
	return err
}
