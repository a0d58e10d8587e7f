package limits

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/opsaudit"
)

// MaxOverride bounds what an operator may set a property's daily limit
// to: far above any real property, low enough that a typo of three more
// zeros is refused.
const MaxOverride = 10_000_000

// Override is a property's limits as an operator set them; a nil limit
// keeps the configured default.
type Override struct {
	PropertyID        string    `json:"property_id"`
	InvitationsPerDay *int      `json:"invitations_per_day"`
	NewEmailsPerDay   *int      `json:"new_emails_per_day"`
	SetBy             string    `json:"set_by"`
	SetAt             time.Time `json:"set_at"`
	Reason            string    `json:"reason"`
}

// OverrideRequest changes a property's limits. A nil limit keeps what the
// property has; zero returns it to the default.
type OverrideRequest struct {
	PropertyID        string
	InvitationsPerDay *int
	NewEmailsPerDay   *int
	Operator          string
	Reason            string
}

// SetOverride records req, and the action in ops_audit (action
// limits.set), in one transaction. The property must be in the read
// models, so a mistyped ID is refused rather than raising nothing.
func SetOverride(ctx context.Context, pool *pgxpool.Pool, req OverrideRequest) (Override, error) {
	if req.InvitationsPerDay == nil && req.NewEmailsPerDay == nil {
		return Override{}, errors.New("nothing to set: give the invitations per day, the new emails per day, or both")
	}
	for what, v := range map[string]*int{"invitations per day": req.InvitationsPerDay, "new emails per day": req.NewEmailsPerDay} {
		if v != nil && (*v < 0 || *v > MaxOverride) {
			return Override{}, fmt.Errorf("%s %d is not from 0 (the default) to %d", what, *v, MaxOverride)
		}
	}
	reason, err := opsaudit.Text("reason", req.Reason, opsaudit.MaxReasonChars)
	if err != nil {
		return Override{}, err
	}
	operator, err := opsaudit.Text("operator", req.Operator, opsaudit.MaxOperatorChars)
	if err != nil {
		return Override{}, err
	}
	var o Override
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var known bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rm_properties WHERE property_id = $1)`, req.PropertyID).Scan(&known); err != nil {
			return fmt.Errorf("look the property up: %w", err)
		}
		if !known {
			return fmt.Errorf("no property %q in the read models", req.PropertyID)
		}
		row := tx.QueryRow(ctx, `INSERT INTO limit_overrides AS o (property_id, invitations_per_day, new_emails_per_day, set_by, reason)
			VALUES ($1, NULLIF($2::int, 0), NULLIF($3::int, 0), $4, $5)
			ON CONFLICT (property_id) DO UPDATE SET
				invitations_per_day = CASE WHEN $2::int IS NULL THEN o.invitations_per_day ELSE NULLIF($2::int, 0) END,
				new_emails_per_day = CASE WHEN $3::int IS NULL THEN o.new_emails_per_day ELSE NULLIF($3::int, 0) END,
				set_by = EXCLUDED.set_by, set_at = now(), reason = EXCLUDED.reason
			RETURNING property_id, invitations_per_day, new_emails_per_day, set_by, set_at, reason`,
			req.PropertyID, req.InvitationsPerDay, req.NewEmailsPerDay, operator, reason)
		if err := row.Scan(&o.PropertyID, &o.InvitationsPerDay, &o.NewEmailsPerDay, &o.SetBy, &o.SetAt, &o.Reason); err != nil {
			return fmt.Errorf("set the limits: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO ops_audit (operator, action, target, detail)
			VALUES ($1, 'limits.set', $2, jsonb_build_object('invitations_per_day', $3::int, 'new_emails_per_day', $4::int, 'reason', $5::text))`,
			operator, req.PropertyID, o.InvitationsPerDay, o.NewEmailsPerDay, reason)
		if err != nil {
			return fmt.Errorf("record the action: %w", err)
		}
		return nil
	})
	return o, err
}

// Overrides lists every property's override, or only propertyID's when it
// is not empty.
func Overrides(ctx context.Context, pool *pgxpool.Pool, propertyID string) ([]Override, error) {
	rows, err := pool.Query(ctx, `SELECT property_id, invitations_per_day, new_emails_per_day, set_by, set_at, reason
		FROM limit_overrides WHERE $1 = '' OR property_id = $1 ORDER BY property_id`, propertyID)
	if err != nil {
		return nil, fmt.Errorf("read the overrides: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Override, error) {
		var o Override
		err := r.Scan(&o.PropertyID, &o.InvitationsPerDay, &o.NewEmailsPerDay, &o.SetBy, &o.SetAt, &o.Reason)
		return o, err
	})
}
