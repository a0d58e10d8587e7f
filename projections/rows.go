package projections

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// A batch of events is applied to a projection's tables as one unit of
// work, in a few round trips whatever its size:
//
//  1. The reducers run in recording mode: every row they ask for that is
//     not loaded yet is noted, and what they write is thrown away. The rows
//     noted are loaded, one query per table, and the recording runs again
//     while it finds more to load (a key taken from another row's value:
//     the previous owner's row on a change of owner).
//  2. The reducers run for real over those rows in memory, event after
//     event in feed order. A row the recordings missed is loaded on the
//     spot, so the result never depends on what they saw, only the number
//     of round trips.
//  3. Every row the batch changed is written back: one statement per table
//     deletes, one upserts, one inserts.
//
// A row's in-memory value is what the table would hold had each event been
// applied by its own statements, which is what the tests of each
// projection, and of batches of every size against each other, check.

// rowKey is a row's primary key: one or two text columns (b is empty with
// one).
type rowKey struct{ a, b string }

// column is one column of a table as the unit of work moves it.
type column[R any] struct {
	name string
	// sqlType is the column's type where it is not the Go field's natural
	// one (uuid, jsonb): values then travel as text and are cast.
	sqlType string
	// field points into a row at the column's value: *string, **string
	// (NULL when nil), *int64, *int32, *bool, *time.Time or **time.Time.
	field func(*R) any
}

// col is a column whose values travel as the Go field's type.
func col[R any](name string, field func(*R) any) column[R] {
	return column[R]{name: name, field: field}
}

// tableSpec describes one table for the unit of work.
type tableSpec[R any] struct {
	name string
	// keyCols are the primary key's columns (one or two text columns);
	// key returns a row's key in the same order.
	keyCols []string
	key     func(*R) rowKey
	cols    []column[R]
	// propertyCol names the property column, for updates to every row of a
	// property; empty when the table has none.
	propertyCol string
	property    func(*R) string

	// SQL built once from the above.
	loadSQL, scanSQL, upsertSQL, deleteSQL string
}

// build fills in the statements. It panics on a malformed spec: specs are
// package-level values, so a mistake fails every test at once.
func (s *tableSpec[R]) build() *tableSpec[R] {
	if len(s.keyCols) < 1 || len(s.keyCols) > 2 {
		panic(fmt.Sprintf("table %s: a key of %d columns", s.name, len(s.keyCols)))
	}
	var zero R
	names := make([]string, len(s.cols))
	selects := make([]string, len(s.cols))
	params := make([]string, len(s.cols))
	values := make([]string, len(s.cols))
	var sets []string
	for i, c := range s.cols {
		names[i] = c.name
		selects[i] = "t." + c.name
		params[i] = fmt.Sprintf("$%d::%s[]", i+1, arrayType(c.field(&zero), c.sqlType))
		values[i] = "u." + c.name
		if c.sqlType != "" {
			selects[i] += "::text"
			values[i] += "::" + c.sqlType
		}
		if !slices.Contains(s.keyCols, c.name) {
			sets = append(sets, c.name+" = EXCLUDED."+c.name)
		}
	}
	cols := strings.Join(names, ", ")
	keyParams := make([]string, len(s.keyCols))
	match := make([]string, len(s.keyCols))
	for i, k := range s.keyCols {
		keyParams[i] = fmt.Sprintf("$%d::text[]", i+1)
		match[i] = fmt.Sprintf("t.%s = k.c%d", k, i)
	}
	keyAlias := "k(c0)"
	if len(s.keyCols) == 2 {
		keyAlias = "k(c0, c1)"
	}
	from := fmt.Sprintf("unnest(%s) AS %s", strings.Join(keyParams, ", "), keyAlias)
	s.loadSQL = fmt.Sprintf("SELECT %s FROM %s t JOIN %s ON %s", strings.Join(selects, ", "), s.name, from, strings.Join(match, " AND "))
	if s.propertyCol != "" {
		s.scanSQL = fmt.Sprintf("SELECT %s FROM %s t WHERE t.%s = ANY($1::text[])", strings.Join(selects, ", "), s.name, s.propertyCol)
	}
	conflict := "DO NOTHING"
	if len(sets) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(sets, ", ")
	}
	s.upsertSQL = fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM unnest(%s) AS u(%s) ON CONFLICT (%s) %s",
		s.name, cols, strings.Join(values, ", "), strings.Join(params, ", "), cols, strings.Join(s.keyCols, ", "), conflict)
	s.deleteSQL = fmt.Sprintf("DELETE FROM %s t USING %s WHERE %s", s.name, from, strings.Join(match, " AND "))
	return s
}

// arrayType is the SQL array type a column's values travel in.
func arrayType(field any, sqlType string) string {
	if sqlType != "" {
		return "text"
	}
	switch field.(type) {
	case *string, **string:
		return "text"
	case *int64:
		return "bigint"
	case *int32:
		return "integer"
	case *bool, **bool:
		return "boolean"
	case *time.Time, **time.Time:
		return "timestamptz"
	}
	panic(fmt.Sprintf("no SQL type for a column of Go type %T", field))
}

// columnArrays turns rows into one array per column, for unnest.
func columnArrays[R any](cols []column[R], rows []*R) []any {
	out := make([]any, len(cols))
	for i, c := range cols {
		switch c.field(new(R)).(type) {
		case *string:
			a := make([]string, len(rows))
			for j, r := range rows {
				a[j] = *c.field(r).(*string)
			}
			out[i] = a
		case **string:
			a := make([]*string, len(rows))
			for j, r := range rows {
				a[j] = *c.field(r).(**string)
			}
			out[i] = a
		case *int64:
			a := make([]int64, len(rows))
			for j, r := range rows {
				a[j] = *c.field(r).(*int64)
			}
			out[i] = a
		case *int32:
			a := make([]int32, len(rows))
			for j, r := range rows {
				a[j] = *c.field(r).(*int32)
			}
			out[i] = a
		case *bool:
			a := make([]bool, len(rows))
			for j, r := range rows {
				a[j] = *c.field(r).(*bool)
			}
			out[i] = a
		case **bool:
			a := make([]*bool, len(rows))
			for j, r := range rows {
				a[j] = *c.field(r).(**bool)
			}
			out[i] = a
		case *time.Time:
			a := make([]time.Time, len(rows))
			for j, r := range rows {
				a[j] = *c.field(r).(*time.Time)
			}
			out[i] = a
		case **time.Time:
			a := make([]*time.Time, len(rows))
			for j, r := range rows {
				a[j] = *c.field(r).(**time.Time)
			}
			out[i] = a
		}
	}
	return out
}

// keyArrays turns keys into one text array per key column.
func keyArrays(n int, keys []rowKey) []any {
	a := make([]string, len(keys))
	for i, k := range keys {
		a[i] = k.a
	}
	if n == 1 {
		return []any{a}
	}
	b := make([]string, len(keys))
	for i, k := range keys {
		b[i] = k.b
	}
	return []any{a, b}
}

// dbTime is t as a timestamptz column gives it back: to the microsecond,
// the precision pgx sends. Rows keep times this way, so a row read back in
// a later batch equals the one this batch computed.
func dbTime(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// unit is one batch's unit of work over the tables of a projection,
// inside one transaction.
type unit struct {
	ctx       context.Context
	tx        pgx.Tx
	recording bool
	// bulk says the tables are copies a rebuild is filling: rows that
	// cannot already be there may go in by COPY, into copies, after the
	// batch's other writes.
	bulk   bool
	copies []func() error
	// err is the first load that failed; the batch fails with it.
	err    error
	tables []tableState
}

// copyRows queues a COPY of rows into table's columns cols.
func (u *unit) copyRows(table string, cols []string, rows [][]any) {
	u.copies = append(u.copies, func() error {
		if _, err := u.tx.CopyFrom(u.ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
		return nil
	})
}

// tableState is a table inside a unit of work.
type tableState interface {
	// startPass forgets what an earlier pass wrote, keeping what was
	// loaded, before the reducers run again.
	startPass()
	// queueLoads queues the loads of what the last recording pass asked
	// for, and reports whether it queued any.
	queueLoads(b *pgx.Batch) bool
	// queueWrites queues the writes of what the batch changed.
	queueWrites(b *pgx.Batch)
}

func (u *unit) fail(err error) {
	if u.err == nil {
		u.err = err
	}
}

// stored is a row as the table holds it, or the knowledge that it holds
// none under a key.
type stored[R any] struct {
	row    R
	exists bool
}

// slot is a row as the batch stands: present or not, and changed or not.
type slot[R any] struct {
	row    R
	exists bool
	dirty  bool
}

// table is a keyed table inside a unit of work: rows are read through it,
// changed in memory, and written back at the end.
type table[R any] struct {
	spec *tableSpec[R]
	u    *unit
	// base holds rows as stored, loaded by key or by property; scanned
	// the properties whose every stored row is in base.
	base    map[rowKey]stored[R]
	scanned map[string]bool
	// rows is the current pass's working set, order its keys in the order
	// the pass first touched them, so writes are repeatable.
	rows  map[rowKey]*slot[R]
	order []rowKey
	// What a recording pass found missing from base, in order.
	asked      map[rowKey]bool
	askedOrder []rowKey
	askScan    []string
}

func newTable[R any](u *unit, spec *tableSpec[R]) *table[R] {
	t := &table[R]{spec: spec, u: u, base: map[rowKey]stored[R]{}, scanned: map[string]bool{},
		rows: map[rowKey]*slot[R]{}, asked: map[rowKey]bool{}}
	u.tables = append(u.tables, t)
	return t
}

// slot returns k's slot, loading the row when the batch has not seen it.
// While recording it notes k and returns nil.
func (t *table[R]) slot(k rowKey) *slot[R] {
	if s, ok := t.rows[k]; ok {
		return s
	}
	b, ok := t.base[k]
	if !ok {
		if t.u.recording {
			if !t.asked[k] {
				t.asked[k] = true
				t.askedOrder = append(t.askedOrder, k)
			}
			return nil
		}
		t.loadNow(t.spec.loadSQL, keyArrays(len(t.spec.keyCols), []rowKey{k}), fmt.Sprintf("%v", k))
		if b, ok = t.base[k]; !ok {
			t.base[k] = b // known absent
		}
	}
	s := &slot[R]{row: b.row, exists: b.exists}
	t.add(k, s)
	return s
}

func (t *table[R]) add(k rowKey, s *slot[R]) {
	t.rows[k] = s
	t.order = append(t.order, k)
}

// Get returns the row under k and whether there is one.
func (t *table[R]) Get(k rowKey) (R, bool) {
	s := t.slot(k)
	if s == nil || !s.exists {
		var zero R
		return zero, false
	}
	return s.row, true
}

// Put writes r, under its own key, whether or not a row was there.
func (t *table[R]) Put(r R) {
	k := t.spec.key(&r)
	s, ok := t.rows[k]
	if !ok {
		s = &slot[R]{}
		t.add(k, s)
	}
	s.row, s.exists, s.dirty = r, true, true
}

// Update changes the row under k with f, when there is one, and reports
// whether there was.
func (t *table[R]) Update(k rowKey, f func(*R)) bool {
	s := t.slot(k)
	if s == nil || !s.exists {
		return false
	}
	f(&s.row)
	s.dirty = true
	return true
}

// Delete removes the row under k and reports whether there was one.
func (t *table[R]) Delete(k rowKey) bool {
	s := t.slot(k)
	if s == nil || !s.exists {
		return false
	}
	s.exists, s.dirty = false, true
	return true
}

// Add inserts r unless a row has its key, and reports whether it did: the
// INSERT ... ON CONFLICT DO NOTHING of the sets behind counts.
func (t *table[R]) Add(r R) bool {
	if _, ok := t.Get(t.spec.key(&r)); ok {
		return false
	}
	t.Put(r)
	return true
}

// UpdateProperty calls f on every row of property pid, as an UPDATE ...
// WHERE property_id = pid would, and writes back those for which f reports
// a change. The first call for pid loads all of its rows.
func (t *table[R]) UpdateProperty(pid string, f func(*R) bool) {
	if !t.scanned[pid] {
		if t.u.recording {
			if !slices.Contains(t.askScan, pid) {
				t.askScan = append(t.askScan, pid)
			}
			return
		}
		t.loadNow(t.spec.scanSQL, []any{[]string{pid}}, "of property "+pid)
		t.scanned[pid] = true
	}
	var stored []rowKey
	for k, b := range t.base {
		if _, ok := t.rows[k]; !ok && b.exists && t.spec.property(&b.row) == pid {
			stored = append(stored, k)
		}
	}
	slices.SortFunc(stored, func(x, y rowKey) int { return strings.Compare(x.a+"\x00"+x.b, y.a+"\x00"+y.b) })
	for _, k := range stored {
		t.slot(k)
	}
	for _, k := range t.order {
		s := t.rows[k]
		if s.exists && t.spec.property(&s.row) == pid && f(&s.row) {
			s.dirty = true
		}
	}
}

// loadNow runs a load outside the batched ones: a row the recording did
// not foresee. A failure fails the unit.
func (t *table[R]) loadNow(sql string, args []any, what string) {
	if t.u.err != nil {
		return
	}
	rows, err := t.u.tx.Query(t.u.ctx, sql, args...)
	if err == nil {
		err = t.scan(rows, t.keep)
	}
	if err != nil {
		t.u.fail(fmt.Errorf("load %s %s: %w", t.spec.name, what, err))
	}
}

// keep records a loaded row in base.
func (t *table[R]) keep(r R) { t.base[t.spec.key(&r)] = stored[R]{row: r, exists: true} }

func (t *table[R]) scan(rows pgx.Rows, each func(R)) error {
	defer rows.Close()
	ptrs := make([]any, len(t.spec.cols))
	for rows.Next() {
		var r R
		for i, c := range t.spec.cols {
			ptrs[i] = c.field(&r)
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		each(r)
	}
	return rows.Err()
}

func (t *table[R]) startPass() { t.rows, t.order = map[rowKey]*slot[R]{}, nil }

func (t *table[R]) queueLoads(b *pgx.Batch) bool {
	keys, pids := t.askedOrder, t.askScan
	t.asked, t.askedOrder, t.askScan = map[rowKey]bool{}, nil, nil
	if len(keys) > 0 {
		// Every key asked for is known after the load: absent unless found.
		for _, k := range keys {
			t.base[k] = stored[R]{}
		}
		b.Queue(t.spec.loadSQL, keyArrays(len(t.spec.keyCols), keys)...).Query(func(rows pgx.Rows) error {
			return t.scan(rows, t.keep)
		})
	}
	if len(pids) > 0 {
		for _, p := range pids {
			t.scanned[p] = true
		}
		b.Queue(t.spec.scanSQL, pids).Query(func(rows pgx.Rows) error { return t.scan(rows, t.keep) })
	}
	return len(keys) > 0 || len(pids) > 0
}

func (t *table[R]) queueWrites(b *pgx.Batch) {
	var gone []rowKey
	var put []*R
	for _, k := range t.order {
		s := t.rows[k]
		switch {
		case !s.dirty:
		case s.exists:
			put = append(put, &s.row)
		default:
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		b.Queue(t.spec.deleteSQL, keyArrays(len(t.spec.keyCols), gone)...)
	}
	if len(put) > 0 {
		b.Queue(t.spec.upsertSQL, columnArrays(t.spec.cols, put)...)
	}
}

// inserts is a table the batch only adds rows to, never reading them back:
// INSERT ... ON CONFLICT, where conflict says what a row already there
// keeps (DO NOTHING, or DO UPDATE SET some columns).
type inserts[R any] struct {
	spec *insertSpec[R]
	u    *unit
	rows []R
	at   map[rowKey]int // where each key's row is in rows
}

// insertSpec describes an insert-only table.
type insertSpec[R any] struct {
	name string
	cols []column[R]
	// key identifies a row, as the table's primary key does; conflict is
	// the statement's ON CONFLICT clause and merge its effect on a row
	// the batch already added (nil: the first stays as it is).
	key      func(*R) rowKey
	conflict string
	merge    func(old *R, new R)
	// unique says no two batches ever add rows of the same key (each row
	// belongs to one event): a rebuild may then COPY them.
	unique bool

	insertSQL string
}

func (s *insertSpec[R]) build() *insertSpec[R] {
	var zero R
	names := make([]string, len(s.cols))
	params := make([]string, len(s.cols))
	values := make([]string, len(s.cols))
	for i, c := range s.cols {
		names[i] = c.name
		params[i] = fmt.Sprintf("$%d::%s[]", i+1, arrayType(c.field(&zero), c.sqlType))
		values[i] = "u." + c.name
		if c.sqlType != "" {
			values[i] += "::" + c.sqlType
		}
	}
	cols := strings.Join(names, ", ")
	s.insertSQL = fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM unnest(%s) AS u(%s) ON CONFLICT %s",
		s.name, cols, strings.Join(values, ", "), strings.Join(params, ", "), cols, s.conflict)
	return s
}

func newInserts[R any](u *unit, spec *insertSpec[R]) *inserts[R] {
	t := &inserts[R]{spec: spec, u: u, at: map[rowKey]int{}}
	u.tables = append(u.tables, t)
	return t
}

// Insert adds r, or merges it into the row of its key the batch added.
func (t *inserts[R]) Insert(r R) {
	if t.u.recording {
		return
	}
	k := t.spec.key(&r)
	if i, ok := t.at[k]; ok {
		if t.spec.merge != nil {
			t.spec.merge(&t.rows[i], r)
		}
		return
	}
	t.at[k] = len(t.rows)
	t.rows = append(t.rows, r)
}

func (t *inserts[R]) startPass()                   { t.rows, t.at = nil, map[rowKey]int{} }
func (t *inserts[R]) queueLoads(b *pgx.Batch) bool { return false }

func (t *inserts[R]) queueWrites(b *pgx.Batch) {
	if len(t.rows) == 0 {
		return
	}
	if t.u.bulk && t.spec.unique {
		names := make([]string, len(t.spec.cols))
		for i, c := range t.spec.cols {
			names[i] = c.name
		}
		rows := make([][]any, len(t.rows))
		for i := range t.rows {
			vals := make([]any, len(t.spec.cols))
			for j, c := range t.spec.cols {
				vals[j] = fieldValue(c.field(&t.rows[i]))
			}
			rows[i] = vals
		}
		t.u.copyRows(t.spec.name, names, rows)
		return
	}
	ptrs := make([]*R, len(t.rows))
	for i := range t.rows {
		ptrs[i] = &t.rows[i]
	}
	b.Queue(t.spec.insertSQL, columnArrays(t.spec.cols, ptrs)...)
}

// fieldValue is the value a column field points at, for COPY.
func fieldValue(field any) any {
	switch p := field.(type) {
	case *string:
		return *p
	case **string:
		return *p
	case *int64:
		return *p
	case *int32:
		return *p
	case *bool:
		return *p
	case **bool:
		return *p
	case *time.Time:
		return *p
	case **time.Time:
		return *p
	}
	panic(fmt.Sprintf("no value for a column of Go type %T", field))
}
