package projections

import (
	"time"

	"github.com/jackc/pgx/v5"

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
	return Projection{Name: AccessName, Tables: []string{"rm_access", "rm_access_owners", "rm_roles"}, rows: newAccessBatch, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      on(accessPropertyCreated),
		domain.TypeMemberJoined:         on(accessJoined),
		domain.TypeMemberRoleChanged:    on(accessRoleChanged),
		domain.TypeMemberAccessDisabled: on(accessDisabled),
		domain.TypeMemberAccessEnabled:  on(accessEnabled),
		domain.TypeMemberRemoved:        on(accessRemoved),
		domain.TypeMemberLeft:           on(accessLeft),
		domain.TypeOwnershipTransferred: on(accessOwnershipTransferred),

		domain.TypeRoleCreated:              on(roleCreated),
		domain.TypeRoleRenamed:              on(roleRenamed),
		domain.TypeRolePermissionsChanged:   on(rolePermissionsChanged),
		domain.TypeRoleDeleted:              on(roleDeleted),
		domain.TypeMemberAccessUntilChanged: on(accessUntilChanged),
		domain.TypeMemberAccessExpired:      on(accessExpired),
	}}
}

type accessRow struct {
	PropertyID, AccountID, Role, Status string
	IsOwner                             bool
	UpdatedAt                           time.Time
	// AccessUntil is when the access ends: from then on a check counts the
	// membership disabled, before MemberAccessExpired says so.
	AccessUntil *time.Time
}

// accessBatch is the projection's rows as a batch changes them: a key
// maps to nil where the table has no row, and a key missing was not read;
// changed holds the keys to write back.
type accessBatch struct {
	b             *Batch
	access        map[pair]*accessRow
	accessChanged map[pair]bool
	owners        *perProperty
	roles         map[pair]*roleRow
	rolesChanged  map[pair]bool
}

func newAccessBatch(b *Batch) batchRows {
	return &accessBatch{b: b, access: map[pair]*accessRow{}, accessChanged: map[pair]bool{},
		owners: newPerProperty(b, sqlAccessOwnersLoad, sqlAccessOwnersUpsert),
		roles:  map[pair]*roleRow{}, rolesChanged: map[pair]bool{}}
}

const (
	sqlAccessLoad = `SELECT t.property_id, t.account_id, t.role, t.status, t.is_owner, t.updated_at, t.access_until
		FROM rm_access t JOIN unnest($1::text[], $2::text[]) AS k(p, a) ON t.property_id = k.p AND t.account_id = k.a`
	sqlAccessUpsert = `INSERT INTO rm_access (property_id, account_id, role, status, is_owner, updated_at, access_until)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::timestamptz[], $7::timestamptz[])
		ON CONFLICT (property_id, account_id) DO UPDATE SET role = EXCLUDED.role, status = EXCLUDED.status,
			is_owner = EXCLUDED.is_owner, updated_at = EXCLUDED.updated_at, access_until = EXCLUDED.access_until`
	sqlAccessDelete = `DELETE FROM rm_access t USING unnest($1::text[], $2::text[]) AS k(p, a)
		WHERE t.property_id = k.p AND t.account_id = k.a`

	sqlAccessOwnersLoad   = `SELECT property_id, owner_id FROM rm_access_owners WHERE property_id = ANY($1::text[])`
	sqlAccessOwnersUpsert = `INSERT INTO rm_access_owners (property_id, owner_id) SELECT * FROM unnest($1::text[], $2::text[])
		ON CONFLICT (property_id) DO UPDATE SET owner_id = EXCLUDED.owner_id`
)

// load reads the membership each event changes (both sides of a
// transfer), the owner of the properties whose owner or new members it
// needs, and the roles it changes.
func (s *accessBatch) load(b *pgx.Batch, events []recorded.Event) {
	var keys, roles []pair
	var pids []string
	ask := func(pid, accountID string) {
		keys = askRow(s.access, keys, pair{pid, accountID})
	}
	askRole := func(pid string, roleID domain.Role) {
		roles = askRow(s.roles, roles, pair{pid, string(roleID)})
	}
	for _, e := range events {
		switch ev := e.Event.(type) {
		case domain.PropertyCreated:
			pids = s.owners.ask(pids, e.PropertyID)
			ask(e.PropertyID, ev.OwnerID)
		case domain.OwnershipTransferred:
			pids = s.owners.ask(pids, e.PropertyID)
			ask(e.PropertyID, ev.From)
			ask(e.PropertyID, ev.To)
		case domain.MemberJoined:
			pids = s.owners.ask(pids, e.PropertyID)
		case domain.RoleRenamed:
			askRole(e.PropertyID, ev.RoleID)
		case domain.RolePermissionsChanged:
			askRole(e.PropertyID, ev.RoleID)
		case domain.RoleDeleted:
			askRole(e.PropertyID, ev.RoleID)
		default:
			if id := memberOf(e.Event); id != "" {
				ask(e.PropertyID, id)
			}
		}
	}
	if len(keys) > 0 {
		ps, as := pairArrays(keys)
		b.Queue(sqlAccessLoad, ps, as).Query(s.scan)
	}
	if len(pids) > 0 {
		b.Queue(sqlAccessOwnersLoad, storableKeys(pids)).Query(s.owners.scan)
	}
	if len(roles) > 0 {
		ps, rs := pairArrays(roles)
		b.Queue(sqlRolesLoad, ps, rs).Query(s.scanRoles)
	}
}

func (s *accessBatch) scan(rows pgx.Rows) error {
	var r accessRow
	_, err := pgx.ForEachRow(rows, []any{&r.PropertyID, &r.AccountID, &r.Role, &r.Status, &r.IsOwner, &r.UpdatedAt, &r.AccessUntil}, func() error {
		row := r
		s.access[pair{r.PropertyID, r.AccountID}] = &row
		return nil
	})
	return err
}

// update changes the membership's row with f, when there is one.
func (s *accessBatch) update(pid, accountID string, f func(*accessRow)) {
	updateRow(s.b, "rm_access", sqlAccessLoad, s.scan, s.access, s.accessChanged, pair{pid, accountID}, f)
}

// remove deletes the membership's row, when there is one.
func (s *accessBatch) remove(pid, accountID string) {
	s.update(pid, accountID, func(*accessRow) {})
	if k := (pair{pid, accountID}); s.accessChanged[k] {
		s.access[k] = nil
	}
}

func (s *accessBatch) flush(b *pgx.Batch) {
	put, gone := changedRows(s.access, s.accessChanged)
	queueDeletes(b, sqlAccessDelete, gone)
	if n := len(put); n > 0 {
		ps, as, roles, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		owner, updated, until := make([]bool, n), make([]time.Time, n), make([]*time.Time, n)
		for i, r := range put {
			ps[i], as[i], roles[i], statuses[i] = r.PropertyID, r.AccountID, r.Role, r.Status
			owner[i], updated[i], until[i] = r.IsOwner, r.UpdatedAt, r.AccessUntil
		}
		b.Queue(sqlAccessUpsert, ps, as, roles, statuses, owner, updated, until)
	}
	s.owners.flush(b)
	s.flushRoles(b)
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
		s.update(e.PropertyID, accountID, func(r *accessRow) {
			if r.IsOwner != isOwner {
				r.IsOwner, r.UpdatedAt = isOwner, at
			}
		})
	})
	return nil
}

func accessJoined(s *accessBatch, e recorded.Event, ev domain.MemberJoined) error {
	owner, had := s.owners.get(e.PropertyID)
	k := pair{e.PropertyID, ev.AccountID}
	s.accessChanged[k] = true
	s.access[k] = &accessRow{PropertyID: e.PropertyID, AccountID: ev.AccountID, Role: string(ev.Role),
		Status: string(domain.StatusEnabled), IsOwner: had && owner == ev.AccountID, UpdatedAt: dbTime(e.At()),
		AccessUntil: ev.AccessUntil}
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
	s.update(e.PropertyID, accountID, func(r *accessRow) {
		f(r)
		r.UpdatedAt = dbTime(e.At())
	})
	return nil
}

func accessRemoved(s *accessBatch, e recorded.Event, ev domain.MemberRemoved) error {
	s.remove(e.PropertyID, ev.AccountID)
	return nil
}

func accessLeft(s *accessBatch, e recorded.Event, ev domain.MemberLeft) error {
	s.remove(e.PropertyID, ev.AccountID)
	return nil
}
