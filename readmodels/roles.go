package readmodels

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// Role is one role of a property as rm_roles and the permission table hold
// it: a built-in one (Builtin, never changed) or a custom one.
type Role struct {
	ID          domain.Role         `json:"id"`
	Name        string              `json:"name"`
	Builtin     bool                `json:"builtin"`
	Permissions []domain.Permission `json:"permissions"`
	// CreatedAt and UpdatedAt are zero for a built-in role.
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Roles returns the roles of property pid: the built-in ones first, with
// the permissions the table gives them, then its custom roles by name.
// An unknown property has the built-ins only; the caller checks it exists.
func (s *Store) Roles(ctx context.Context, pid string) ([]Role, error) {
	out := make([]Role, 0, 2)
	for _, r := range domain.BuiltinRoles() {
		out = append(out, Role{ID: r, Name: string(r), Builtin: true, Permissions: domain.Permissions(r, false, domain.StatusEnabled)})
	}
	rows, err := s.pool.Query(ctx, `SELECT role_id, name, permissions, created_at, updated_at FROM rm_roles
		WHERE property_id = $1 ORDER BY lower(name), role_id`, pid)
	if err != nil {
		return nil, fmt.Errorf("read the roles of %s: %w", pid, err)
	}
	custom, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Role, error) {
		var (
			r         Role
			id, perms string
		)
		err := row.Scan(&id, &r.Name, &perms, &r.CreatedAt, &r.UpdatedAt)
		r.ID, r.Permissions = domain.Role(id), splitPermissions(perms)
		utc(&r.CreatedAt, &r.UpdatedAt)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the roles of %s: %w", pid, err)
	}
	return append(out, custom...), nil
}

// splitPermissions reads rm_roles.permissions.
func splitPermissions(s string) []domain.Permission {
	if s == "" {
		return []domain.Permission{}
	}
	parts := strings.Split(s, ",")
	out := make([]domain.Permission, len(parts))
	for i, p := range parts {
		out[i] = domain.Permission(p)
	}
	return out
}

// queryer is what reads rm_roles: the pool, or a snapshot's transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// roleSets reads the custom roles of the properties pids (every property
// when pids is nil) as domain.Roles, by property.
func roleSets(ctx context.Context, q queryer, pids []string) (map[string]domain.Roles, error) {
	query, args := `SELECT property_id, role_id, permissions FROM rm_roles`, []any{}
	if pids != nil {
		query, args = query+` WHERE property_id = ANY($1)`, []any{pids}
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]domain.Roles{}
	var pid, role, perms string
	_, err = pgx.ForEachRow(rows, []any{&pid, &role, &perms}, func() error {
		if out[pid] == nil {
			out[pid] = domain.Roles{}
		}
		out[pid][domain.Role(role)] = splitPermissions(perms)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// rolesOf lists the roles of p as Store.Roles does, custom ones by name:
// the definitions an as-of answer or an access review was made with.
func rolesOf(p *domain.Property) []Role {
	out := make([]Role, 0, 2+len(p.CustomRoles))
	for _, r := range domain.BuiltinRoles() {
		out = append(out, Role{ID: r, Name: string(r), Builtin: true, Permissions: domain.Permissions(r, false, domain.StatusEnabled)})
	}
	custom := make([]Role, 0, len(p.CustomRoles))
	for _, d := range p.RolesInOrder() {
		custom = append(custom, Role{ID: d.ID, Name: d.Name, Permissions: slices.Clone(d.Permissions),
			CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()})
	}
	slices.SortStableFunc(custom, func(a, b Role) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(string(a.ID), string(b.ID)))
	})
	return append(out, custom...)
}
