package readmodels

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// MyProperty is a property an account is a member of, with its role and
// status there.
type MyProperty struct {
	PropertyID string              `json:"property_id"`
	Name       string              `json:"name"`
	Role       domain.Role         `json:"role"`
	Status     domain.MemberStatus `json:"status"`
	// Owner marks the property's owner, an admin with one extra right.
	Owner     bool      `json:"owner"`
	JoinedAt  time.Time `json:"joined_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MyProperties returns every property accountID is a member of, enabled or
// disabled, ordered by name then property ID. An account that belongs to
// none gets an empty list.
func (s *Store) MyProperties(ctx context.Context, accountID string) ([]MyProperty, error) {
	rows, err := s.pool.Query(ctx, `SELECT property_id, property_name, role, status, is_owner, joined_at, updated_at
		FROM rm_my_properties WHERE account_id = $1 ORDER BY property_name, property_id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("read properties of %s: %w", accountID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (MyProperty, error) {
		var (
			p            MyProperty
			role, status string
		)
		err := row.Scan(&p.PropertyID, &p.Name, &role, &status, &p.Owner, &p.JoinedAt, &p.UpdatedAt)
		p.Role, p.Status = domain.Role(role), domain.MemberStatus(status)
		utc(&p.JoinedAt, &p.UpdatedAt)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read properties of %s: %w", accountID, err)
	}
	return out, nil
}
