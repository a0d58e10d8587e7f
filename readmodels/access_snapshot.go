package readmodels

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/projections"
)

// Grant is one membership as the access read model holds it, with the
// property's owner beside it: what an access index keeps per member.
type Grant struct {
	PropertyID string
	// OwnerID is the property's owner, whether or not it has joined yet.
	OwnerID string
	// AccountID is empty for a property with an owner and no member yet.
	AccountID string
	Role      domain.Role
	Status    domain.MemberStatus
	// Roles are the property's custom roles at the same position, shared
	// by every grant of the property; nil when it has none.
	Roles domain.Roles
	// AccessUntil is when the membership's access ends; nil when it does
	// not. From then on it counts as disabled, whatever Status says.
	AccessUntil *time.Time
}

// grantsSQL reads every membership with its property's owner. Every
// property stream starts with PropertyCreated, so the projection has an
// owner row for every property it has a member of.
const grantsSQL = `SELECT o.property_id, o.owner_id, coalesce(a.account_id, ''), coalesce(a.role, ''), coalesce(a.status, ''), a.access_until
	FROM rm_access_owners o LEFT JOIN rm_access a ON a.property_id = o.property_id`

// EachGrant calls fn for every membership of the access read model,
// property by property (a property's grants consecutive, in property_id
// order), and returns the access projection's checkpoint: the grants are
// the read model as it stood at that position, read in one snapshot. An
// error from fn stops the read and is returned.
func (s *Store) EachGrant(ctx context.Context, fn func(Grant) error) (eventstore.Position, error) {
	return s.grantSnapshot(ctx, grantsSQL+` ORDER BY o.property_id`, nil, nil, fn)
}

// PropertyGrants returns the memberships of one property (none for a
// property the read model does not know) and the access projection's
// checkpoint they were read at, in one snapshot.
func (s *Store) PropertyGrants(ctx context.Context, propertyID string) ([]Grant, eventstore.Position, error) {
	var out []Grant
	pos, err := s.grantSnapshot(ctx, grantsSQL+` WHERE o.property_id = $1`, []any{propertyID}, []string{propertyID}, func(g Grant) error {
		out = append(out, g)
		return nil
	})
	return out, pos, err
}

// grantSnapshot runs query, calling fn for each grant it reads, in the
// snapshot of accessSnapshot, with the custom roles of pids (every
// property's when nil) read in the same snapshot.
func (s *Store) grantSnapshot(ctx context.Context, query string, args []any, pids []string, fn func(Grant) error) (eventstore.Position, error) {
	pos, err := s.accessSnapshot(ctx, func(tx pgx.Tx) error {
		roles, err := roleSets(ctx, tx, pids)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		var (
			g            Grant
			role, status string
		)
		_, err = pgx.ForEachRow(rows, []any{&g.PropertyID, &g.OwnerID, &g.AccountID, &role, &status, &g.AccessUntil}, func() error {
			g.Role, g.Status, g.Roles = domain.Role(role), domain.MemberStatus(status), roles[g.PropertyID]
			return fn(g)
		})
		return err
	})
	if err != nil {
		return eventstore.Start, fmt.Errorf("read the access read model: %w", err)
	}
	return pos, nil
}

// accessSnapshot reads the access projection's checkpoint and runs read in
// the same repeatable-read transaction, so what read sees is exactly the
// read model at the position returned.
func (s *Store) accessSnapshot(ctx context.Context, read func(pgx.Tx) error) (eventstore.Position, error) {
	var pos eventstore.Position
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var c, p int64
		err := tx.QueryRow(ctx, `SELECT commit_position, prepare_position FROM projection_checkpoints WHERE name = $1`,
			projections.AccessName).Scan(&c, &p)
		switch {
		case isNoRows(err): // never run: Start
		case err != nil:
			return err
		default:
			pos = eventstore.Position{Commit: uint64(c), Prepare: uint64(p)}
		}
		return read(tx)
	})
	return pos, err
}

// Page sizes of the properties an account holds a permission on.
const (
	DefaultGrantedLimit = 100
	MaxGrantedLimit     = 1000
)

// GrantedPage is one page of the properties where an account holds a
// permission, in property_id order.
type GrantedPage struct {
	PropertyIDs []string `json:"property_ids"`
	// NextCursor fetches the next page; it is empty on the last page.
	NextCursor string `json:"next_cursor"`
	// Position is the access projection's checkpoint the page was read at.
	Position eventstore.Position `json:"-"`
}

// grantedKey is the cursor of a GrantedPage: the last property_id given.
type grantedKey struct {
	PropertyID string `json:"p"`
}

func (k grantedKey) check() error {
	if k.PropertyID == "" {
		return fmt.Errorf("cursor has no property id")
	}
	return nil
}

// Granted returns a page of the properties where accountID holds perm
// (enabled, and of a role or ownership the permission table grants it),
// after cursor, at most limit (0 means DefaultGrantedLimit), with the
// access projection's checkpoint it was read at. It returns a
// *domain.Error of kind KindInvalid naming a cursor this API did not give
// out or a limit outside 0..MaxGrantedLimit.
func (s *Store) Granted(ctx context.Context, accountID string, perm domain.Permission, cursor string, limit int) (GrantedPage, error) {
	after := ""
	if cursor != "" {
		key, err := decodeCursor[grantedKey](cursor)
		if err != nil {
			return GrantedPage{}, invalid("cursor", cursor, "is not a cursor this API gave out")
		}
		after = key.PropertyID
	}
	switch {
	case limit == 0:
		limit = DefaultGrantedLimit
	case limit < 0 || limit > MaxGrantedLimit:
		return GrantedPage{}, invalid("limit", strconv.Itoa(limit), fmt.Sprintf("is not between 1 and %d", MaxGrantedLimit))
	}
	// The permission table decides which roles (and whether the owner)
	// hold perm; the query only filters by its answer.
	ownerHolds := domain.Allowed(domain.RoleAdmin, true, domain.StatusEnabled, perm)
	var roles []string
	for _, r := range []domain.Role{domain.RoleAdmin, domain.RoleAgent} {
		if domain.Allowed(r, false, domain.StatusEnabled, perm) {
			roles = append(roles, string(r))
		}
	}
	var page GrantedPage
	// A custom role holds perm when its row lists it; none holds
	// transfer_ownership, whatever a row says.
	customHolds := perm != domain.PermTransferOwnership && slices.Contains(domain.AllPermissions(), perm)
	query := `SELECT a.property_id FROM rm_access a
		WHERE a.account_id = $1 AND a.property_id > $2 AND a.status = 'enabled'
		  AND ((a.is_owner AND $3) OR (NOT a.is_owner AND (a.role = ANY($4) OR ($6 AND EXISTS (
		       SELECT 1 FROM rm_roles r WHERE r.property_id = a.property_id AND r.role_id = a.role
		          AND $7 = ANY(string_to_array(r.permissions, ',')))))))
		ORDER BY a.property_id LIMIT $5`
	pos, err := s.accessSnapshot(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, accountID, after, ownerHolds, roles, limit+1, customHolds, string(perm))
		if err != nil {
			return err
		}
		page.PropertyIDs, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return GrantedPage{}, fmt.Errorf("read the properties of %s: %w", accountID, err)
	}
	page.Position = pos
	if len(page.PropertyIDs) > limit {
		page.PropertyIDs = page.PropertyIDs[:limit]
		page.NextCursor = encodeCursor(grantedKey{PropertyID: page.PropertyIDs[limit-1]})
	}
	return page, nil
}
