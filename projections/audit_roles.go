package projections

import (
	"strings"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// SubjectRole is the audit subject of a custom role's events: its ID,
// which a rename keeps.
const SubjectRole = "role"

// The rows of a custom role's life. The role's name and permissions are
// written as people read them; a member's rows name the role by ID, which
// these rows tie to a name at every moment.

func auditRoleCreated(s *auditBatch, e recorded.Event, ev domain.RoleCreated) error {
	return writeAudit(s, e, auditEntry{kind: SubjectRole, id: string(ev.RoleID),
		field: "role", after: ev.Name + " (" + shownPermissions(ev.Permissions) + ")"})
}

func auditRoleRenamed(s *auditBatch, e recorded.Event, ev domain.RoleRenamed) error {
	return writeAudit(s, e, auditEntry{kind: SubjectRole, id: string(ev.RoleID), field: "name", before: ev.From, after: ev.To})
}

func auditRolePermissionsChanged(s *auditBatch, e recorded.Event, ev domain.RolePermissionsChanged) error {
	return writeAudit(s, e, auditEntry{kind: SubjectRole, id: string(ev.RoleID),
		field: "permissions", before: shownPermissions(ev.From), after: shownPermissions(ev.To)})
}

func auditRoleDeleted(s *auditBatch, e recorded.Event, ev domain.RoleDeleted) error {
	return writeAudit(s, e, auditEntry{kind: SubjectRole, id: string(ev.RoleID), field: "role", before: ev.Name})
}

func shownPermissions(perms []domain.Permission) string {
	parts := make([]string, len(perms))
	for i, p := range perms {
		parts[i] = string(p)
	}
	return strings.Join(parts, ", ")
}
