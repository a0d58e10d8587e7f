package readmodels

import (
	"context"
	"fmt"
	"strconv"
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

// Page sizes of MyProperties.
const (
	DefaultMyPropertyLimit = 50
	MaxMyPropertyLimit     = 200
)

// MyPropertyPage is one page of the properties an account is a member of.
type MyPropertyPage struct {
	Properties []MyProperty `json:"properties"`
	// NextCursor fetches the next page; it is empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// MyProperties returns one page of the properties accountID is a member
// of, enabled or disabled, ordered by name then property ID and paged by
// that key. An account that belongs to none gets an empty page. cursor
// continues after the page that returned it; limit 0 means
// DefaultMyPropertyLimit. It returns a *domain.Error of kind KindInvalid
// (CodeInvalidRequest) for a cursor this API did not give out or a limit
// outside 0..MaxMyPropertyLimit.
func (s *Store) MyProperties(ctx context.Context, accountID, cursor string, limit int) (MyPropertyPage, error) {
	limit, err := pageLimit(limit, DefaultMyPropertyLimit, MaxMyPropertyLimit)
	if err != nil {
		return MyPropertyPage{}, err
	}
	where, args := `account_id = $1`, []any{accountID}
	if cursor != "" {
		key, err := decodeCursor[myPropertyKey](cursor)
		if err != nil {
			return MyPropertyPage{}, invalid("cursor", cursor, "is not a cursor this API gave out")
		}
		args = append(args, *key.Name, *key.PropertyID)
		where += ` AND (property_name, property_id) > ($2, $3)`
	}
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, `SELECT property_id, property_name, role, status, is_owner, joined_at, updated_at
		FROM rm_my_properties WHERE `+where+` ORDER BY property_name, property_id LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return MyPropertyPage{}, fmt.Errorf("read properties of %s: %w", accountID, err)
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
		return MyPropertyPage{}, fmt.Errorf("read properties of %s: %w", accountID, err)
	}
	page := MyPropertyPage{Properties: out}
	if len(out) > limit {
		page.Properties = out[:limit]
		last := page.Properties[limit-1]
		page.NextCursor = encodeCursor(myPropertyKey{Name: &last.Name, PropertyID: &last.PropertyID})
	}
	return page, nil
}

// myPropertyKey is the sort key of the last property of a page, which the
// opaque cursor carries as base64url JSON.
type myPropertyKey struct {
	Name       *string `json:"n"`
	PropertyID *string `json:"p"`
}

// check refuses a property cursor that lacks its name or ID.
func (k myPropertyKey) check() error {
	if k.Name == nil || k.PropertyID == nil {
		return fmt.Errorf("cursor lacks its name or property id")
	}
	return nil
}
