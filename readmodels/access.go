package readmodels

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// Access is what an account may do on a property: its role, status and
// owner flag, and the permissions they give by the property's roles
// (domain.Roles: the table, and its custom roles). A disabled member has none.
type Access struct {
	PropertyID  string              `json:"property_id"`
	AccountID   string              `json:"account_id"`
	Role        domain.Role         `json:"role"`
	Status      domain.MemberStatus `json:"status"`
	Owner       bool                `json:"owner"`
	Permissions []domain.Permission `json:"permissions"`
	UpdatedAt   time.Time           `json:"updated_at"`
	// AccessUntil is when the access ends (or ended); null when it does not.
	AccessUntil *time.Time `json:"access_until"`
}

// Access returns the access of accountID to pid. It returns a *domain.Error
// of kind KindNotFound (CodeMemberNotFound) when the account is not a member
// (or the property does not exist).
func (s *Store) Access(ctx context.Context, pid, accountID string) (Access, error) {
	rows, err := s.pool.Query(ctx, `SELECT property_id, account_id, role,
		CASE WHEN status = 'enabled' AND access_until <= $3 THEN 'disabled' ELSE status END, is_owner, updated_at, access_until
		FROM rm_access WHERE property_id = $1 AND account_id = $2`, pid, accountID, s.clock())
	if err != nil {
		return Access{}, fmt.Errorf("read access of %s to %s: %w", accountID, pid, err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (Access, error) {
		var (
			a            Access
			role, status string
		)
		err := row.Scan(&a.PropertyID, &a.AccountID, &role, &status, &a.Owner, &a.UpdatedAt, &a.AccessUntil)
		a.Role, a.Status = domain.Role(role), domain.MemberStatus(status)
		utc(&a.UpdatedAt)
		if a.AccessUntil != nil {
			utc(a.AccessUntil)
		}
		return a, err
	})
	if isNoRows(err) {
		return Access{}, domain.Errorf(domain.KindNotFound, domain.CodeMemberNotFound,
			"account %s is not a member of property %s", accountID, pid)
	}
	if err != nil {
		return Access{}, fmt.Errorf("read access of %s to %s: %w", accountID, pid, err)
	}
	var roles domain.Roles
	if domain.IsCustomRole(a.Role) {
		sets, err := roleSets(ctx, s.pool, []string{pid})
		if err != nil {
			return Access{}, fmt.Errorf("read access of %s to %s: %w", accountID, pid, err)
		}
		roles = sets[pid]
	}
	a.Permissions = roles.Permissions(a.Role, a.Owner, a.Status)
	return a, nil
}
