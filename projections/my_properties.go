package projections

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// MyPropertiesName names the my_properties projection and its checkpoint.
const MyPropertiesName = "my_properties"

// MyProperties returns the projection behind rm_my_properties: for each
// account, the properties it is a member of, with the property's name and
// the account's role, status and owner flag there. A row goes when the
// member is removed or leaves. Names and owners are kept in the projection's
// own rm_my_properties_names, so it reads no other projection's tables and
// the owner flag is right whichever of PropertyCreated and the owner's
// MemberJoined comes first.
func MyProperties() Projection {
	return Projection{Name: MyPropertiesName, Tables: []string{"rm_my_properties", "rm_my_properties_names"}, rows: newMyPropertiesBatch, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      on(myPropertiesCreated),
		domain.TypeMemberJoined:         on(myPropertiesJoined),
		domain.TypeMemberRoleChanged:    on(myPropertiesRoleChanged),
		domain.TypeMemberAccessDisabled: on(myPropertiesAccessDisabled),
		domain.TypeMemberAccessEnabled:  on(myPropertiesAccessEnabled),
		domain.TypeMemberRemoved:        on(myPropertiesRemoved),
		domain.TypeMemberLeft:           on(myPropertiesLeft),
		domain.TypeOwnershipTransferred: on(myPropertiesOwnershipTransferred),

		domain.TypeMemberAccessExpired: on(myPropertiesAccessExpired),
	}}
}

type myPropertyRow struct {
	AccountID, PropertyID, PropertyName, Role, Status string
	IsOwner                                           bool
	JoinedAt, UpdatedAt                               time.Time
}

type propertyNameRow struct{ PropertyID, Name, OwnerID string }

// myPropertiesBatch is the projection's rows as a batch changes them: a
// key maps to nil where the table has no row, and a key missing was not
// read; changed holds the keys to write back. scanned holds the
// properties whose every row is in mine.
type myPropertiesBatch struct {
	b            *Batch
	mine         map[pair]*myPropertyRow // by (account, property)
	mineChanged  map[pair]bool
	scanned      map[string]bool
	names        map[string]*propertyNameRow
	namesChanged map[string]bool
}

func newMyPropertiesBatch(b *Batch) batchRows {
	return &myPropertiesBatch{b: b, mine: map[pair]*myPropertyRow{}, mineChanged: map[pair]bool{}, scanned: map[string]bool{},
		names: map[string]*propertyNameRow{}, namesChanged: map[string]bool{}}
}

const (
	sqlMyPropertiesColumns = `t.account_id, t.property_id, t.property_name, t.role, t.status, t.is_owner, t.joined_at, t.updated_at`
	sqlMyPropertiesLoad    = `SELECT ` + sqlMyPropertiesColumns + ` FROM rm_my_properties t
		JOIN unnest($1::text[], $2::text[]) AS k(a, p) ON t.account_id = k.a AND t.property_id = k.p`
	sqlMyPropertiesScan   = `SELECT ` + sqlMyPropertiesColumns + ` FROM rm_my_properties t WHERE t.property_id = ANY($1::text[])`
	sqlMyPropertiesUpsert = `INSERT INTO rm_my_properties (account_id, property_id, property_name, role, status, is_owner, joined_at, updated_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::timestamptz[], $8::timestamptz[])
		ON CONFLICT (account_id, property_id) DO UPDATE SET property_name = EXCLUDED.property_name, role = EXCLUDED.role,
			status = EXCLUDED.status, is_owner = EXCLUDED.is_owner, joined_at = EXCLUDED.joined_at, updated_at = EXCLUDED.updated_at`
	sqlMyPropertiesDelete = `DELETE FROM rm_my_properties t USING unnest($1::text[], $2::text[]) AS k(a, p)
		WHERE t.account_id = k.a AND t.property_id = k.p`

	sqlMyPropertiesNamesLoad   = `SELECT property_id, name, owner_id FROM rm_my_properties_names WHERE property_id = ANY($1::text[])`
	sqlMyPropertiesNamesUpsert = `INSERT INTO rm_my_properties_names (property_id, name, owner_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
		ON CONFLICT (property_id) DO UPDATE SET name = EXCLUDED.name, owner_id = EXCLUDED.owner_id`
)

// load reads the membership each event changes (both sides of a
// transfer), the name row of the properties joined or handed over, and
// every row of a property renamed.
func (s *myPropertiesBatch) load(b *pgx.Batch, events []recorded.Event) {
	var keys []pair
	var pids, scans []string
	ask := func(accountID, pid string) {
		if k := (pair{accountID, pid}); !known(s.mine, k) {
			s.mine[k] = nil
			keys = append(keys, k)
		}
	}
	askName := func(pid string) {
		if !known(s.names, pid) {
			s.names[pid] = nil
			pids = append(pids, pid)
		}
	}
	for _, e := range events {
		switch ev := e.Event.(type) {
		case domain.PropertyCreated:
			if e.Revision > 0 && !s.scanned[e.PropertyID] {
				s.scanned[e.PropertyID] = true
				scans = append(scans, e.PropertyID)
			}
		case domain.MemberJoined:
			askName(e.PropertyID)
		case domain.OwnershipTransferred:
			askName(e.PropertyID)
			ask(ev.From, e.PropertyID)
			ask(ev.To, e.PropertyID)
		default:
			if id := memberOf(ev); id != "" {
				ask(id, e.PropertyID)
			}
		}
	}
	if len(keys) > 0 {
		as, ps := pairArrays(keys)
		b.Queue(sqlMyPropertiesLoad, as, ps).Query(s.scan(true))
	}
	if len(scans) > 0 {
		b.Queue(sqlMyPropertiesScan, storableKeys(scans)).Query(s.scan(true))
	}
	if len(pids) > 0 {
		b.Queue(sqlMyPropertiesNamesLoad, storableKeys(pids)).Query(s.scanNames)
	}
}

// scan keeps the rows read; over says they replace what the batch holds,
// which only a read before the reducers run may.
func (s *myPropertiesBatch) scan(over bool) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var r myPropertyRow
		_, err := pgx.ForEachRow(rows, []any{&r.AccountID, &r.PropertyID, &r.PropertyName, &r.Role, &r.Status,
			&r.IsOwner, &r.JoinedAt, &r.UpdatedAt}, func() error {
			if k := (pair{r.AccountID, r.PropertyID}); over || !known(s.mine, k) {
				row := r
				s.mine[k] = &row
			}
			return nil
		})
		return err
	}
}

func (s *myPropertiesBatch) scanNames(rows pgx.Rows) error {
	var r propertyNameRow
	_, err := pgx.ForEachRow(rows, []any{&r.PropertyID, &r.Name, &r.OwnerID}, func() error {
		row := r
		s.names[r.PropertyID] = &row
		return nil
	})
	return err
}

// name is the property's name row, nil when there is none.
func (s *myPropertiesBatch) name(pid string) *propertyNameRow {
	if !known(s.names, pid) {
		s.names[pid] = nil
		s.b.query("rm_my_properties_names", sqlMyPropertiesNamesLoad, s.scanNames, []string{pid})
	}
	return s.names[pid]
}

// update changes the membership's row with f, when there is one.
func (s *myPropertiesBatch) update(accountID, pid string, f func(*myPropertyRow)) {
	updateRow(s.b, "rm_my_properties", sqlMyPropertiesLoad, s.scan(true), s.mine, s.mineChanged, pair{accountID, pid}, f)
}

// remove deletes the membership's row, when there is one.
func (s *myPropertiesBatch) remove(accountID, pid string) {
	s.update(accountID, pid, func(*myPropertyRow) {})
	if k := (pair{accountID, pid}); s.mineChanged[k] {
		s.mine[k] = nil
	}
}

// updateProperty calls f on every row of the property, as an UPDATE ...
// WHERE property_id = pid would, and writes back those f reports changed.
func (s *myPropertiesBatch) updateProperty(pid string, f func(*myPropertyRow) bool) {
	if !s.scanned[pid] {
		s.scanned[pid] = true
		s.b.query("rm_my_properties of property "+pid, sqlMyPropertiesScan, s.scan(false), []string{pid})
	}
	for k, r := range s.mine {
		if r != nil && r.PropertyID == pid && f(r) {
			s.mineChanged[k] = true
		}
	}
}

func (s *myPropertiesBatch) flush(b *pgx.Batch) {
	put, gone := changedRows(s.mine, s.mineChanged)
	queueDeletes(b, sqlMyPropertiesDelete, gone)
	if n := len(put); n > 0 {
		as, ps, names, roles, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		owner, joined, updated := make([]bool, n), make([]time.Time, n), make([]time.Time, n)
		for i, r := range put {
			as[i], ps[i], names[i], roles[i], statuses[i] = r.AccountID, r.PropertyID, r.PropertyName, r.Role, r.Status
			owner[i], joined[i], updated[i] = r.IsOwner, r.JoinedAt, r.UpdatedAt
		}
		b.Queue(sqlMyPropertiesUpsert, as, ps, names, roles, statuses, owner, joined, updated)
	}
	if n := len(s.namesChanged); n > 0 {
		ps, names, owners := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		for pid := range s.namesChanged {
			r := s.names[pid]
			ps, names, owners = append(ps, r.PropertyID), append(names, r.Name), append(owners, r.OwnerID)
		}
		b.Queue(sqlMyPropertiesNamesUpsert, ps, names, owners)
	}
}

func myPropertiesCreated(s *myPropertiesBatch, e recorded.Event, ev domain.PropertyCreated) error {
	s.names[e.PropertyID] = &propertyNameRow{PropertyID: e.PropertyID, Name: ev.Name, OwnerID: ev.OwnerID}
	s.namesChanged[e.PropertyID] = true
	// At revision 0 no event of the property came before, so it has no
	// member rows to rename.
	if e.Revision > 0 {
		s.updateProperty(e.PropertyID, func(r *myPropertyRow) bool {
			r.PropertyName, r.IsOwner = ev.Name, r.AccountID == ev.OwnerID
			return true
		})
	}
	return nil
}

func myPropertiesJoined(s *myPropertiesBatch, e recorded.Event, ev domain.MemberJoined) error {
	var name, owner string
	n := s.name(e.PropertyID)
	if n != nil {
		name, owner = n.Name, n.OwnerID
	}
	at := dbTime(e.At())
	k := pair{ev.AccountID, e.PropertyID}
	s.mineChanged[k] = true
	s.mine[k] = &myPropertyRow{AccountID: ev.AccountID, PropertyID: e.PropertyID, PropertyName: name,
		Role: string(ev.Role), Status: string(domain.StatusEnabled), IsOwner: n != nil && owner == ev.AccountID,
		JoinedAt: at, UpdatedAt: at}
	return nil
}

func myPropertiesRoleChanged(s *myPropertiesBatch, e recorded.Event, ev domain.MemberRoleChanged) error {
	return updateMyProperty(s, e, ev.AccountID, func(r *myPropertyRow) { r.Role = string(ev.To) })
}

func myPropertiesAccessDisabled(s *myPropertiesBatch, e recorded.Event, ev domain.MemberAccessDisabled) error {
	return updateMyProperty(s, e, ev.AccountID, func(r *myPropertyRow) { r.Status = string(domain.StatusDisabled) })
}

func myPropertiesAccessEnabled(s *myPropertiesBatch, e recorded.Event, ev domain.MemberAccessEnabled) error {
	return updateMyProperty(s, e, ev.AccountID, func(r *myPropertyRow) { r.Status = string(domain.StatusEnabled) })
}

func myPropertiesAccessExpired(s *myPropertiesBatch, e recorded.Event, ev domain.MemberAccessExpired) error {
	return updateMyProperty(s, e, ev.AccountID, func(r *myPropertyRow) { r.Status = string(domain.StatusDisabled) })
}

// updateMyProperty changes one membership's row with f and stamps it.
func updateMyProperty(s *myPropertiesBatch, e recorded.Event, accountID string, f func(*myPropertyRow)) error {
	s.update(accountID, e.PropertyID, func(r *myPropertyRow) {
		f(r)
		r.UpdatedAt = dbTime(e.At())
	})
	return nil
}

func myPropertiesRemoved(s *myPropertiesBatch, e recorded.Event, ev domain.MemberRemoved) error {
	s.remove(ev.AccountID, e.PropertyID)
	return nil
}

func myPropertiesLeft(s *myPropertiesBatch, e recorded.Event, ev domain.MemberLeft) error {
	s.remove(ev.AccountID, e.PropertyID)
	return nil
}

// myPropertiesOwnershipTransferred moves the owner flag to the new owner's
// row. While the property's name row exists every flag was set from its
// owner, so only the previous owner's row and the new one's can change;
// without it (a transfer before PropertyCreated) every row of the property
// is checked.
func myPropertiesOwnershipTransferred(s *myPropertiesBatch, e recorded.Event, ev domain.OwnershipTransferred) error {
	at := dbTime(e.At())
	flag := func(r *myPropertyRow) bool {
		if want := r.AccountID == ev.To; r.IsOwner != want {
			r.IsOwner, r.UpdatedAt = want, at
			return true
		}
		return false
	}
	n := s.name(e.PropertyID)
	if n == nil {
		s.updateProperty(e.PropertyID, flag)
		return nil
	}
	was := n.OwnerID
	n.OwnerID, s.namesChanged[e.PropertyID] = ev.To, true
	if was != ev.To {
		s.update(was, e.PropertyID, func(r *myPropertyRow) { flag(r) })
		s.update(ev.To, e.PropertyID, func(r *myPropertyRow) { flag(r) })
	}
	return nil
}
