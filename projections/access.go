package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// AccessName names the access projection and its checkpoint.
const AccessName = "access"

// Access returns the projection behind rm_access: for each (property,
// account) membership, the role, status and owner flag a permission check
// needs, and nothing else. A row goes when the member is removed or leaves.
// The owner is kept in rm_access_owners too, so the flag is right whichever
// of PropertyCreated and the owner's MemberJoined comes first.
func Access() Projection {
	return Projection{Name: AccessName, Tables: []string{"rm_access", "rm_access_owners"}, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      On(accessPropertyCreated),
		domain.TypeMemberJoined:         On(accessJoined),
		domain.TypeMemberRoleChanged:    On(accessRoleChanged),
		domain.TypeMemberAccessDisabled: On(accessDisabled),
		domain.TypeMemberAccessEnabled:  On(accessEnabled),
		domain.TypeMemberRemoved:        On(accessRemoved),
		domain.TypeMemberLeft:           On(accessLeft),
		domain.TypeOwnershipTransferred: On(accessOwnershipTransferred),
	}}
}

func accessPropertyCreated(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.PropertyCreated) error {
	return setAccessOwner(ctx, tx, e, ev.OwnerID)
}

func accessOwnershipTransferred(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.OwnershipTransferred) error {
	return setAccessOwner(ctx, tx, e, ev.To)
}

// setAccessOwner records the property's owner and moves the flag to its row.
func setAccessOwner(ctx context.Context, tx pgx.Tx, e Envelope, ownerID string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO rm_access_owners (property_id, owner_id) VALUES ($1, $2)
		ON CONFLICT (property_id) DO UPDATE SET owner_id = $2`, e.PropertyID, ownerID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE rm_access SET is_owner = (account_id = $2), updated_at = $3
		WHERE property_id = $1 AND is_owner <> (account_id = $2)`, e.PropertyID, ownerID, e.At())
	return err
}

func accessJoined(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberJoined) error {
	_, err := tx.Exec(ctx, `INSERT INTO rm_access (property_id, account_id, role, status, is_owner, updated_at)
		VALUES ($1, $2, $3, $4,
			EXISTS (SELECT 1 FROM rm_access_owners WHERE property_id = $1 AND owner_id = $2), $5)
		ON CONFLICT (property_id, account_id) DO UPDATE
		SET role = $3, status = $4, is_owner = EXCLUDED.is_owner, updated_at = $5`,
		e.PropertyID, ev.AccountID, string(ev.Role), string(domain.StatusEnabled), e.At())
	return err
}

func accessRoleChanged(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRoleChanged) error {
	_, err := tx.Exec(ctx, `UPDATE rm_access SET role = $3, updated_at = $4 WHERE property_id = $1 AND account_id = $2`,
		e.PropertyID, ev.AccountID, string(ev.To), e.At())
	return err
}

func accessDisabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessDisabled) error {
	return setAccessStatus(ctx, tx, e, ev.AccountID, domain.StatusDisabled)
}

func accessEnabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessEnabled) error {
	return setAccessStatus(ctx, tx, e, ev.AccountID, domain.StatusEnabled)
}

func setAccessStatus(ctx context.Context, tx pgx.Tx, e Envelope, accountID string, s domain.MemberStatus) error {
	_, err := tx.Exec(ctx, `UPDATE rm_access SET status = $3, updated_at = $4 WHERE property_id = $1 AND account_id = $2`,
		e.PropertyID, accountID, string(s), e.At())
	return err
}

func accessRemoved(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRemoved) error {
	return deleteAccess(ctx, tx, e, ev.AccountID)
}

func accessLeft(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberLeft) error {
	return deleteAccess(ctx, tx, e, ev.AccountID)
}

func deleteAccess(ctx context.Context, tx pgx.Tx, e Envelope, accountID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM rm_access WHERE property_id = $1 AND account_id = $2`, e.PropertyID, accountID)
	return err
}
