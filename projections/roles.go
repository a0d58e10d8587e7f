package projections

import (
	"strings"
	"time"

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

var rolesSpec = (&tableSpec[roleRow]{
	name: "rm_roles", keyCols: []string{"property_id", "role_id"},
	key: func(r *roleRow) rowKey { return rowKey{r.PropertyID, r.RoleID} },
	cols: []column[roleRow]{
		col("property_id", func(r *roleRow) any { return &r.PropertyID }),
		col("role_id", func(r *roleRow) any { return &r.RoleID }),
		col("name", func(r *roleRow) any { return &r.Name }),
		col("permissions", func(r *roleRow) any { return &r.Permissions }),
		col("created_at", func(r *roleRow) any { return &r.CreatedAt }),
		col("updated_at", func(r *roleRow) any { return &r.UpdatedAt }),
	},
}).build()

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
	s.roles.Put(roleRow{PropertyID: e.PropertyID, RoleID: string(ev.RoleID), Name: ev.Name,
		Permissions: joinPermissions(ev.Permissions), CreatedAt: at, UpdatedAt: at})
	return nil
}

func roleRenamed(s *accessBatch, e recorded.Event, ev domain.RoleRenamed) error {
	s.roles.Update(rowKey{e.PropertyID, string(ev.RoleID)}, func(r *roleRow) { r.Name, r.UpdatedAt = ev.To, dbTime(e.At()) })
	return nil
}

func rolePermissionsChanged(s *accessBatch, e recorded.Event, ev domain.RolePermissionsChanged) error {
	s.roles.Update(rowKey{e.PropertyID, string(ev.RoleID)}, func(r *roleRow) {
		r.Permissions, r.UpdatedAt = joinPermissions(ev.To), dbTime(e.At())
	})
	return nil
}

func roleDeleted(s *accessBatch, e recorded.Event, ev domain.RoleDeleted) error {
	s.roles.Delete(rowKey{e.PropertyID, string(ev.RoleID)})
	return nil
}
