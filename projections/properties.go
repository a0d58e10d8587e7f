package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
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
	return Projection{Name: PropertiesName, Tables: []string{"rm_properties", "rm_properties_members", "rm_properties_pending"}, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      On(propertyCreated),
		domain.TypeMemberInvited:        On(propertyInvited),
		domain.TypeInvitationResent:     touchProperty,
		domain.TypeInvitationRevoked:    On(propertyInvitationRevoked),
		domain.TypeInvitationDeclined:   On(propertyInvitationDeclined),
		domain.TypeInvitationAccepted:   On(propertyInvitationAccepted),
		domain.TypeMemberJoined:         On(propertyMemberJoined),
		domain.TypeMemberRoleChanged:    touchProperty,
		domain.TypeMemberAccessDisabled: touchProperty,
		domain.TypeMemberAccessEnabled:  touchProperty,
		domain.TypeMemberRemoved:        On(propertyMemberRemoved),
		domain.TypeMemberLeft:           On(propertyMemberLeft),
		domain.TypeOwnershipTransferred: On(propertyOwnershipTransferred),
	}}
}

// The statements that move a property's revision, with or without a count.
const (
	sqlTouchProperty = `UPDATE rm_properties SET revision = $2, updated_at = $3 WHERE property_id = $1`
	sqlCountMembers  = `UPDATE rm_properties SET revision = $2, updated_at = $3,
		member_count = member_count + $4 WHERE property_id = $1`
	sqlCountPending = `UPDATE rm_properties SET revision = $2, updated_at = $3,
		pending_invitation_count = pending_invitation_count + $4 WHERE property_id = $1`
)

func propertyCreated(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.PropertyCreated) error {
	_, err := tx.Exec(ctx, `INSERT INTO rm_properties
		(property_id, name, owner_id, revision, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (property_id) DO UPDATE SET name = $2, owner_id = $3, revision = $4, updated_at = $5`,
		e.PropertyID, ev.Name, ev.OwnerID, int64(e.Revision), e.At())
	return err
}

// touchProperty records that the property's stream moved on.
func touchProperty(ctx context.Context, tx pgx.Tx, e Envelope) error {
	_, err := tx.Exec(ctx, sqlTouchProperty, e.PropertyID, int64(e.Revision), e.At())
	return err
}

// countProperty moves the revision and adds delta to the count stmt names.
func countProperty(ctx context.Context, tx pgx.Tx, e Envelope, stmt string, delta int64) error {
	_, err := tx.Exec(ctx, stmt, e.PropertyID, int64(e.Revision), e.At(), delta)
	return err
}

func propertyInvited(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberInvited) error {
	tag, err := tx.Exec(ctx, `INSERT INTO rm_properties_pending (property_id, invitation_id)
		VALUES ($1, $2) ON CONFLICT DO NOTHING`, e.PropertyID, ev.InvitationID)
	if err != nil {
		return err
	}
	return countProperty(ctx, tx, e, sqlCountPending, tag.RowsAffected())
}

func propertyInvitationRevoked(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationRevoked) error {
	return propertyInvitationClosed(ctx, tx, e, ev.InvitationID)
}

func propertyInvitationDeclined(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationDeclined) error {
	return propertyInvitationClosed(ctx, tx, e, ev.InvitationID)
}

func propertyInvitationAccepted(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationAccepted) error {
	return propertyInvitationClosed(ctx, tx, e, ev.InvitationID)
}

// propertyInvitationClosed handles every way an invitation stops being pending.
func propertyInvitationClosed(ctx context.Context, tx pgx.Tx, e Envelope, invitationID string) error {
	tag, err := tx.Exec(ctx, `DELETE FROM rm_properties_pending
		WHERE property_id = $1 AND invitation_id = $2`, e.PropertyID, invitationID)
	if err != nil {
		return err
	}
	return countProperty(ctx, tx, e, sqlCountPending, -tag.RowsAffected())
}

func propertyMemberJoined(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberJoined) error {
	tag, err := tx.Exec(ctx, `INSERT INTO rm_properties_members (property_id, account_id)
		VALUES ($1, $2) ON CONFLICT DO NOTHING`, e.PropertyID, ev.AccountID)
	if err != nil {
		return err
	}
	return countProperty(ctx, tx, e, sqlCountMembers, tag.RowsAffected())
}

func propertyMemberRemoved(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRemoved) error {
	return propertyMemberGone(ctx, tx, e, ev.AccountID)
}

func propertyMemberLeft(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberLeft) error {
	return propertyMemberGone(ctx, tx, e, ev.AccountID)
}

// propertyMemberGone handles both a removal and a member leaving.
func propertyMemberGone(ctx context.Context, tx pgx.Tx, e Envelope, accountID string) error {
	tag, err := tx.Exec(ctx, `DELETE FROM rm_properties_members
		WHERE property_id = $1 AND account_id = $2`, e.PropertyID, accountID)
	if err != nil {
		return err
	}
	return countProperty(ctx, tx, e, sqlCountMembers, -tag.RowsAffected())
}

func propertyOwnershipTransferred(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.OwnershipTransferred) error {
	_, err := tx.Exec(ctx, `UPDATE rm_properties SET owner_id = $2, revision = $3, updated_at = $4
		WHERE property_id = $1`, e.PropertyID, ev.To, int64(e.Revision), e.At())
	return err
}
