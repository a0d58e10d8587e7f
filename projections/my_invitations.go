package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
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
	return Projection{Name: MyInvitationsName, Tables: []string{"rm_my_invitations", "rm_my_invitations_properties"}, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:    On(myInvitationsPropertyCreated),
		domain.TypeMemberInvited:      On(myInvitationsInvited),
		domain.TypeInvitationResent:   On(myInvitationsResent),
		domain.TypeInvitationRevoked:  On(myInvitationsRevoked),
		domain.TypeInvitationDeclined: On(myInvitationsDeclined),
		domain.TypeInvitationAccepted: On(myInvitationsAccepted),
	}}
}

func myInvitationsPropertyCreated(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.PropertyCreated) error {
	if _, err := tx.Exec(ctx, `INSERT INTO rm_my_invitations_properties (property_id, name) VALUES ($1, $2)
		ON CONFLICT (property_id) DO UPDATE SET name = $2`, e.PropertyID, ev.Name); err != nil {
		return err
	}
	// A rename would take this path too: pending rows show the new name.
	_, err := tx.Exec(ctx, `UPDATE rm_my_invitations SET property_name = $2
		WHERE property_id = $1 AND property_name <> $2`, e.PropertyID, ev.Name)
	return err
}

func myInvitationsInvited(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberInvited) error {
	// The inviter is the event's actor; the payload carries only its ID.
	_, err := tx.Exec(ctx, `INSERT INTO rm_my_invitations
		(email, property_id, invitation_id, property_name, role, invited_by, invited_by_email, created_at, expires_at)
		VALUES ($1, $2, $3,
			COALESCE((SELECT name FROM rm_my_invitations_properties WHERE property_id = $2), ''),
			$4, $5, $6, $7, $8)
		ON CONFLICT (property_id, invitation_id) DO UPDATE
		SET email = $1, property_name = EXCLUDED.property_name, role = $4, invited_by = $5,
			invited_by_email = $6, created_at = $7, expires_at = $8`,
		ev.Email, e.PropertyID, ev.InvitationID, string(ev.Role), ev.InvitedBy, inviterEmail(e, ev),
		e.At(), ev.ExpiresAt)
	return err
}

// inviterEmail is the inviter's email when the metadata's actor is the inviter.
func inviterEmail(e Envelope, ev domain.MemberInvited) string {
	if e.Meta.ActorID != "" && e.Meta.ActorID != ev.InvitedBy {
		return ""
	}
	return e.Meta.ActorEmail
}

func myInvitationsResent(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationResent) error {
	_, err := tx.Exec(ctx, `UPDATE rm_my_invitations SET expires_at = $3
		WHERE property_id = $1 AND invitation_id = $2`, e.PropertyID, ev.InvitationID, ev.ExpiresAt)
	return err
}

func myInvitationsRevoked(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationRevoked) error {
	return deleteMyInvitation(ctx, tx, e, ev.InvitationID)
}

func myInvitationsDeclined(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationDeclined) error {
	return deleteMyInvitation(ctx, tx, e, ev.InvitationID)
}

func myInvitationsAccepted(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationAccepted) error {
	return deleteMyInvitation(ctx, tx, e, ev.InvitationID)
}

func deleteMyInvitation(ctx context.Context, tx pgx.Tx, e Envelope, invitationID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM rm_my_invitations WHERE property_id = $1 AND invitation_id = $2`,
		e.PropertyID, invitationID)
	return err
}
