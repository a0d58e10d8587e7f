package projections

import (
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// rm_roles: one row per custom role of a property (docs/ARCHITECTURE.md
// section 13), reduced by the access projection so that a role's
// permissions and the memberships holding it share one checkpoint. A row
// goes when the role is deleted.

type roleRow struct {
	PropertyID, RoleID, Name string
	// Permissions is the role's permissions, comma-separated in table order.
	Permissions          string
	CreatedAt, UpdatedAt time.Time
}

const (
	sqlRolesLoad = `SELECT t.property_id, t.role_id, t.name, t.permissions, t.created_at, t.updated_at
		FROM rm_roles t JOIN unnest($1::text[], $2::text[]) AS k(p, r) ON t.property_id = k.p AND t.role_id = k.r`
	sqlRolesUpsert = `INSERT INTO rm_roles (property_id, role_id, name, permissions, created_at, updated_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
		ON CONFLICT (property_id, role_id) DO UPDATE SET name = EXCLUDED.name, permissions = EXCLUDED.permissions,
			created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`
	sqlRolesDelete = `DELETE FROM rm_roles t USING unnest($1::text[], $2::text[]) AS k(p, r)
		WHERE t.property_id = k.p AND t.role_id = k.r`
)

func (s *accessBatch) scanRoles(rows pgx.Rows) error {
	var r roleRow
	_, err := pgx.ForEachRow(rows, []any{&r.PropertyID, &r.RoleID, &r.Name, &r.Permissions, &r.CreatedAt, &r.UpdatedAt}, func() error {
		row := r
		s.roles[pair{r.PropertyID, r.RoleID}] = &row
		return nil
	})
	return err
}

// updateRole changes the role's row with f, when there is one.
func (s *accessBatch) updateRole(pid string, roleID domain.Role, f func(*roleRow)) {
	updateRow(s.b, "rm_roles", sqlRolesLoad, s.scanRoles, s.roles, s.rolesChanged, pair{pid, string(roleID)}, f)
}

func (s *accessBatch) flushRoles(b *pgx.Batch) {
	put, gone := changedRows(s.roles, s.rolesChanged)
	queueDeletes(b, sqlRolesDelete, gone)
	if n := len(put); n > 0 {
		ps, rs, names, perms := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		created, updated := make([]time.Time, n), make([]time.Time, n)
		for i, r := range put {
			ps[i], rs[i], names[i], perms[i], created[i], updated[i] = r.PropertyID, r.RoleID, r.Name, r.Permissions, r.CreatedAt, r.UpdatedAt
		}
		b.Queue(sqlRolesUpsert, ps, rs, names, perms, created, updated)
	}
}

// joinPermissions is how rm_roles stores a role's permissions.
func joinPermissions(perms []domain.Permission) string {
	parts := make([]string, len(perms))
	for i, p := range perms {
		parts[i] = string(p)
	}
	return strings.Join(parts, ",")
}

func roleCreated(s *accessBatch, e recorded.Event, ev domain.RoleCreated) error {
	at := dbTime(e.At())
	k := pair{e.PropertyID, string(ev.RoleID)}
	s.rolesChanged[k] = true
	s.roles[k] = &roleRow{PropertyID: e.PropertyID, RoleID: string(ev.RoleID), Name: ev.Name,
		Permissions: joinPermissions(ev.Permissions), CreatedAt: at, UpdatedAt: at}
	return nil
}

func roleRenamed(s *accessBatch, e recorded.Event, ev domain.RoleRenamed) error {
	s.updateRole(e.PropertyID, ev.RoleID, func(r *roleRow) { r.Name, r.UpdatedAt = ev.To, dbTime(e.At()) })
	return nil
}

func rolePermissionsChanged(s *accessBatch, e recorded.Event, ev domain.RolePermissionsChanged) error {
	s.updateRole(e.PropertyID, ev.RoleID, func(r *roleRow) {
		r.Permissions, r.UpdatedAt = joinPermissions(ev.To), dbTime(e.At())
	})
	return nil
}

func roleDeleted(s *accessBatch, e recorded.Event, ev domain.RoleDeleted) error {
	s.updateRole(e.PropertyID, ev.RoleID, func(*roleRow) {})
	if k := (pair{e.PropertyID, string(ev.RoleID)}); s.rolesChanged[k] {
		s.roles[k] = nil
	}
	return nil
}
