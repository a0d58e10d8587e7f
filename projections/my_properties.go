package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// MyPropertiesName names the my_properties projection and its checkpoint.
const MyPropertiesName = "my_properties"

// MyProperties returns the projection behind rm_my_properties: for each
// account, the properties it is a member of, with the property's name and
// the account's role, status and owner flag there. A row goes when the
// member is removed or leaves. Names and owners are kept in the projection's
// own rm_my_properties_names, so it reads no other projection's tables and
// the owner flag is right whichever of PropertyCreated and the owner's
// MemberJoined comes first.
func MyProperties() Projection {
	return Projection{Name: MyPropertiesName, Tables: []string{"rm_my_properties", "rm_my_properties_names"}, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      On(myPropertiesCreated),
		domain.TypeMemberJoined:         On(myPropertiesJoined),
		domain.TypeMemberRoleChanged:    On(myPropertiesRoleChanged),
		domain.TypeMemberAccessDisabled: On(myPropertiesAccessDisabled),
		domain.TypeMemberAccessEnabled:  On(myPropertiesAccessEnabled),
		domain.TypeMemberRemoved:        On(myPropertiesRemoved),
		domain.TypeMemberLeft:           On(myPropertiesLeft),
		domain.TypeOwnershipTransferred: On(myPropertiesOwnershipTransferred),
	}}
}

func myPropertiesCreated(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.PropertyCreated) error {
	if _, err := tx.Exec(ctx, `INSERT INTO rm_my_properties_names (property_id, name, owner_id) VALUES ($1, $2, $3)
		ON CONFLICT (property_id) DO UPDATE SET name = $2, owner_id = $3`, e.PropertyID, ev.Name, ev.OwnerID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE rm_my_properties SET property_name = $2, is_owner = (account_id = $3)
		WHERE property_id = $1`, e.PropertyID, ev.Name, ev.OwnerID)
	return err
}

func myPropertiesJoined(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberJoined) error {
	_, err := tx.Exec(ctx, `INSERT INTO rm_my_properties
		(account_id, property_id, property_name, role, status, is_owner, joined_at, updated_at)
		VALUES ($1, $2, COALESCE((SELECT name FROM rm_my_properties_names WHERE property_id = $2), ''), $3, $4,
			EXISTS (SELECT 1 FROM rm_my_properties_names WHERE property_id = $2 AND owner_id = $1), $5, $5)
		ON CONFLICT (account_id, property_id) DO UPDATE
		SET property_name = EXCLUDED.property_name, role = $3, status = $4, is_owner = EXCLUDED.is_owner,
			joined_at = $5, updated_at = $5`,
		ev.AccountID, e.PropertyID, string(ev.Role), string(domain.StatusEnabled), e.At())
	return err
}

func myPropertiesRoleChanged(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRoleChanged) error {
	return updateMyProperty(ctx, tx, e, sqlMyPropertyRole, ev.AccountID, string(ev.To))
}

func myPropertiesAccessDisabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessDisabled) error {
	return updateMyProperty(ctx, tx, e, sqlMyPropertyStatus, ev.AccountID, string(domain.StatusDisabled))
}

func myPropertiesAccessEnabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessEnabled) error {
	return updateMyProperty(ctx, tx, e, sqlMyPropertyStatus, ev.AccountID, string(domain.StatusEnabled))
}

// The statements that change the role or status of one membership.
const (
	sqlMyPropertyRole   = `UPDATE rm_my_properties SET role = $3, updated_at = $4 WHERE account_id = $1 AND property_id = $2`
	sqlMyPropertyStatus = `UPDATE rm_my_properties SET status = $3, updated_at = $4 WHERE account_id = $1 AND property_id = $2`
)

// updateMyProperty runs stmt, one of the statements above, for one membership.
func updateMyProperty(ctx context.Context, tx pgx.Tx, e Envelope, stmt, accountID, value string) error {
	_, err := tx.Exec(ctx, stmt, accountID, e.PropertyID, value, e.At())
	return err
}

func myPropertiesRemoved(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRemoved) error {
	return deleteMyProperty(ctx, tx, e, ev.AccountID)
}

func myPropertiesLeft(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberLeft) error {
	return deleteMyProperty(ctx, tx, e, ev.AccountID)
}

func deleteMyProperty(ctx context.Context, tx pgx.Tx, e Envelope, accountID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM rm_my_properties WHERE account_id = $1 AND property_id = $2`,
		accountID, e.PropertyID)
	return err
}

func myPropertiesOwnershipTransferred(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.OwnershipTransferred) error {
	if _, err := tx.Exec(ctx, `UPDATE rm_my_properties_names SET owner_id = $2 WHERE property_id = $1`,
		e.PropertyID, ev.To); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE rm_my_properties SET is_owner = (account_id = $2), updated_at = $3
		WHERE property_id = $1 AND is_owner <> (account_id = $2)`, e.PropertyID, ev.To, e.At())
	return err
}
