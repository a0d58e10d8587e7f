package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// MembersName names the members projection and its checkpoint.
const MembersName = "members"

// Members returns the projection behind rm_members: one row per member of a
// property with email, role, status and whether it is the owner. The owner
// is kept in rm_members_owners too, so the flag is right whichever of
// PropertyCreated and the owner's MemberJoined comes first.
func Members() Projection {
	return Projection{Name: MembersName, Tables: []string{"rm_members", "rm_members_owners"}, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      On(membersPropertyCreated),
		domain.TypeMemberJoined:         On(membersJoined),
		domain.TypeMemberRoleChanged:    On(membersRoleChanged),
		domain.TypeMemberAccessDisabled: On(membersAccessDisabled),
		domain.TypeMemberAccessEnabled:  On(membersAccessEnabled),
		domain.TypeMemberRemoved:        On(membersRemoved),
		domain.TypeMemberLeft:           On(membersLeft),
		domain.TypeOwnershipTransferred: On(membersOwnershipTransferred),
	}}
}

func membersPropertyCreated(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.PropertyCreated) error {
	return setOwner(ctx, tx, e, ev.OwnerID)
}

func membersOwnershipTransferred(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.OwnershipTransferred) error {
	return setOwner(ctx, tx, e, ev.To)
}

// setOwner records the property's owner and moves the flag to its row.
func setOwner(ctx context.Context, tx pgx.Tx, e Envelope, ownerID string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO rm_members_owners (property_id, owner_id) VALUES ($1, $2)
		ON CONFLICT (property_id) DO UPDATE SET owner_id = $2`, e.PropertyID, ownerID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE rm_members SET is_owner = (account_id = $2), updated_at = $3
		WHERE property_id = $1 AND is_owner <> (account_id = $2)`, e.PropertyID, ownerID, e.At())
	return err
}

func membersJoined(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberJoined) error {
	_, err := tx.Exec(ctx, `INSERT INTO rm_members
		(property_id, account_id, email, role, status, is_owner, joined_at, updated_at)
		VALUES ($1, $2, $3, $4, $5,
			EXISTS (SELECT 1 FROM rm_members_owners WHERE property_id = $1 AND owner_id = $2), $6, $6)
		ON CONFLICT (property_id, account_id) DO UPDATE
		SET email = $3, role = $4, status = $5, is_owner = EXCLUDED.is_owner, joined_at = $6, updated_at = $6`,
		e.PropertyID, ev.AccountID, ev.Email, string(ev.Role), string(domain.StatusEnabled), e.At())
	return err
}

func membersRoleChanged(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRoleChanged) error {
	return updateMember(ctx, tx, e, sqlSetRole, ev.AccountID, string(ev.To))
}

func membersAccessDisabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessDisabled) error {
	return updateMember(ctx, tx, e, sqlSetStatus, ev.AccountID, string(domain.StatusDisabled))
}

func membersAccessEnabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessEnabled) error {
	return updateMember(ctx, tx, e, sqlSetStatus, ev.AccountID, string(domain.StatusEnabled))
}

// The statements that change one member's role or status.
const (
	sqlSetRole   = `UPDATE rm_members SET role = $3, updated_at = $4 WHERE property_id = $1 AND account_id = $2`
	sqlSetStatus = `UPDATE rm_members SET status = $3, updated_at = $4 WHERE property_id = $1 AND account_id = $2`
)

// updateMember runs stmt, one of the statements above, for one member.
func updateMember(ctx context.Context, tx pgx.Tx, e Envelope, stmt, accountID, value string) error {
	_, err := tx.Exec(ctx, stmt, e.PropertyID, accountID, value, e.At())
	return err
}

func membersRemoved(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRemoved) error {
	return deleteMember(ctx, tx, e, ev.AccountID)
}

func membersLeft(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberLeft) error {
	return deleteMember(ctx, tx, e, ev.AccountID)
}

func deleteMember(ctx context.Context, tx pgx.Tx, e Envelope, accountID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM rm_members WHERE property_id = $1 AND account_id = $2`,
		e.PropertyID, accountID)
	return err
}
