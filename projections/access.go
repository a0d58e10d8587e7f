package projections

import (
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// AccessName names the access projection and its checkpoint.
const AccessName = "access"

// Access returns the projection behind rm_access: for each (property,
// account) membership, the role, status and owner flag a permission check
// needs, and nothing else. A row goes when the member is removed or leaves.
// The owner is kept in rm_access_owners too, so the flag is right whichever
// of PropertyCreated and the owner's MemberJoined comes first. The
// property's custom roles are kept in rm_roles (projections/roles.go), at
// the same checkpoint as the memberships that name them.
func Access() Projection {
	return setwise(AccessName, []string{"rm_access", "rm_access_owners", "rm_roles"}, newAccessBatch, map[string]step[*accessBatch]{
		domain.TypePropertyCreated:      onEvent(accessPropertyCreated),
		domain.TypeMemberJoined:         onEvent(accessJoined),
		domain.TypeMemberRoleChanged:    onEvent(accessRoleChanged),
		domain.TypeMemberAccessDisabled: onEvent(accessDisabled),
		domain.TypeMemberAccessEnabled:  onEvent(accessEnabled),
		domain.TypeMemberRemoved:        onEvent(accessRemoved),
		domain.TypeMemberLeft:           onEvent(accessLeft),
		domain.TypeOwnershipTransferred: onEvent(accessOwnershipTransferred),

		domain.TypeRoleCreated:              onEvent(roleCreated),
		domain.TypeRoleRenamed:              onEvent(roleRenamed),
		domain.TypeRolePermissionsChanged:   onEvent(rolePermissionsChanged),
		domain.TypeRoleDeleted:              onEvent(roleDeleted),
		domain.TypeMemberAccessUntilChanged: onEvent(accessUntilChanged),
		domain.TypeMemberAccessExpired:      onEvent(accessExpired),
	})
}

type accessRow struct {
	PropertyID, AccountID, Role, Status string
	IsOwner                             bool
	UpdatedAt                           time.Time
	// AccessUntil is when the access ends: from then on a check counts the
	// membership disabled, before MemberAccessExpired says so.
	AccessUntil *time.Time
}

var (
	accessSpec = (&tableSpec[accessRow]{
		name: "rm_access", keyCols: []string{"property_id", "account_id"},
		key: func(r *accessRow) rowKey { return rowKey{r.PropertyID, r.AccountID} },
		cols: []column[accessRow]{
			col("property_id", func(r *accessRow) any { return &r.PropertyID }),
			col("account_id", func(r *accessRow) any { return &r.AccountID }),
			col("role", func(r *accessRow) any { return &r.Role }),
			col("status", func(r *accessRow) any { return &r.Status }),
			col("is_owner", func(r *accessRow) any { return &r.IsOwner }),
			col("updated_at", func(r *accessRow) any { return &r.UpdatedAt }),
			col("access_until", func(r *accessRow) any { return &r.AccessUntil }),
		},
	}).build()
	accessOwnersSpec = ownerSpec("rm_access_owners")
)

type accessBatch struct {
	access *table[accessRow]
	owners *table[ownerRow]
	roles  *table[roleRow]
}

func newAccessBatch(u *unit) *accessBatch {
	return &accessBatch{access: newTable(u, accessSpec), owners: newTable(u, accessOwnersSpec), roles: newTable(u, rolesSpec)}
}

func accessPropertyCreated(s *accessBatch, e recorded.Event, ev domain.PropertyCreated) error {
	return setAccessOwner(s, e, ev.OwnerID)
}

func accessOwnershipTransferred(s *accessBatch, e recorded.Event, ev domain.OwnershipTransferred) error {
	return setAccessOwner(s, e, ev.To)
}

// setAccessOwner records the property's owner and moves the flag to its row.
func setAccessOwner(s *accessBatch, e recorded.Event, ownerID string) error {
	setOwner(s.owners, e, ownerID, func(accountID string, isOwner bool, at time.Time) {
		s.access.Update(rowKey{e.PropertyID, accountID}, func(r *accessRow) {
			if r.IsOwner != isOwner {
				r.IsOwner, r.UpdatedAt = isOwner, at
			}
		})
	})
	return nil
}

func accessJoined(s *accessBatch, e recorded.Event, ev domain.MemberJoined) error {
	owner, had := s.owners.Get(rowKey{a: e.PropertyID})
	s.access.Put(accessRow{PropertyID: e.PropertyID, AccountID: ev.AccountID, Role: string(ev.Role),
		Status: string(domain.StatusEnabled), IsOwner: had && owner.OwnerID == ev.AccountID, UpdatedAt: dbTime(e.At()),
		AccessUntil: ev.AccessUntil})
	return nil
}

func accessRoleChanged(s *accessBatch, e recorded.Event, ev domain.MemberRoleChanged) error {
	return updateAccess(s, e, ev.AccountID, func(r *accessRow) { r.Role = string(ev.To) })
}

func accessDisabled(s *accessBatch, e recorded.Event, ev domain.MemberAccessDisabled) error {
	return updateAccess(s, e, ev.AccountID, func(r *accessRow) { r.Status = string(domain.StatusDisabled) })
}

func accessEnabled(s *accessBatch, e recorded.Event, ev domain.MemberAccessEnabled) error {
	return updateAccess(s, e, ev.AccountID, func(r *accessRow) { r.Status, r.AccessUntil = string(domain.StatusEnabled), nil })
}

func accessUntilChanged(s *accessBatch, e recorded.Event, ev domain.MemberAccessUntilChanged) error {
	return updateAccess(s, e, ev.AccountID, func(r *accessRow) { r.AccessUntil = ev.AccessUntil })
}

func accessExpired(s *accessBatch, e recorded.Event, ev domain.MemberAccessExpired) error {
	return updateAccess(s, e, ev.AccountID, func(r *accessRow) { r.Status = string(domain.StatusDisabled) })
}

// updateAccess changes one membership's row with f and stamps it.
func updateAccess(s *accessBatch, e recorded.Event, accountID string, f func(*accessRow)) error {
	s.access.Update(rowKey{e.PropertyID, accountID}, func(r *accessRow) {
		f(r)
		r.UpdatedAt = dbTime(e.At())
	})
	return nil
}

func accessRemoved(s *accessBatch, e recorded.Event, ev domain.MemberRemoved) error {
	s.access.Delete(rowKey{e.PropertyID, ev.AccountID})
	return nil
}

func accessLeft(s *accessBatch, e recorded.Event, ev domain.MemberLeft) error {
	s.access.Delete(rowKey{e.PropertyID, ev.AccountID})
	return nil
}
