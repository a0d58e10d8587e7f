package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/recorded"
)

// Opener turns the sealed personal fields of recorded events back into
// plaintext, or into erased markers, rewriting recs' Data and Metadata in
// place, inside tx: the keys it reads stay locked until tx ends, so rows
// written from the plaintext in tx cannot outlive a forget of that person
// (infra/privacy's Vault is one). A projection calls it once per batch,
// after locking its checkpoint and before decoding; a nil Opener means the
// events are plaintext.
type Opener interface {
	OpenTx(ctx context.Context, tx pgx.Tx, recs []eventstore.RecordedEvent) error
}

// eventError is a failure pinned on one event of a batch: the events before
// it can still be applied without it.
type eventError struct {
	index int // in the batch handed to applyEvents
	// projections are those of the batch the event failed: the one whose
	// reducer failed, or every one that needed an event that does not
	// decode.
	projections []string
	err         error
}

func (e *eventError) Error() string { return e.err.Error() }
func (e *eventError) Unwrap() error { return e.err }

// failedAt returns the index of the event err is pinned on, or -1.
func failedAt(err error) int {
	var ee *eventError
	if errors.As(err, &ee) {
		return ee.index
	}
	return -1
}

// skipSet holds the events operators told projections to pass over
// (projection_skips): event IDs by projection name. The nil set is empty.
type skipSet map[string]map[string]bool

func (s skipSet) has(projection, eventID string) bool { return s[projection][eventID] }

func (s skipSet) add(projection, eventID string) {
	if s[projection] == nil {
		s[projection] = map[string]bool{}
	}
	s[projection][eventID] = true
}

// applyEvents applies recs, in feed order, to each of ps inside tx: the
// events any of them handles are opened (when open is not nil) and decoded
// once, then each projection runs its reducers over those of its types
// (see applyDecoded). last, when not nil, queues statements to send with
// the batch's writes (a checkpoint), saving a round trip. bulk says ps
// write to copies a rebuild is filling (see Batch).
//
// Events in streams other than properties', of types none of ps handles,
// or in skips for a projection, are passed over (by that projection). An
// error that one event causes (it does not decode, a reducer fails) is an
// *eventError naming it; a decode error wraps errUnreadable.
func applyEvents(ctx context.Context, tx pgx.Tx, bulk bool, open Opener, ps []Projection, recs []eventstore.RecordedEvent, skips skipSet, last func(*pgx.Batch)) error {
	var (
		at  []int // index in recs of each of sel
		sel []eventstore.RecordedEvent
	)
	for i, rec := range recs {
		if !strings.HasPrefix(rec.StreamID, domain.StreamPrefix) {
			continue
		}
		for _, p := range ps {
			if _, ok := p.Reducers[rec.Type]; ok && !skips.has(p.Name, rec.ID) {
				at, sel = append(at, i), append(sel, rec)
				break
			}
		}
	}
	if open != nil && len(sel) > 0 {
		if err := open.OpenTx(ctx, tx, sel); err != nil {
			return fmt.Errorf("open events: %w", err)
		}
	}
	envs := make([]recorded.Event, 0, len(sel))
	envAt := make([]int, 0, len(sel))
	for j, rec := range sel {
		env, err := recorded.Decode(rec)
		if errors.Is(err, recorded.ErrForeignStream) {
			continue
		}
		if err != nil {
			var failed []string
			for _, p := range ps {
				if _, ok := p.Reducers[rec.Type]; ok && !skips.has(p.Name, rec.ID) {
					failed = append(failed, p.Name)
				}
			}
			return &eventError{at[j], failed, fmt.Errorf("%w: %w", errUnreadable, err)}
		}
		envs, envAt = append(envs, env), append(envAt, at[j])
	}
	return applyDecoded(ctx, tx, bulk, ps, envs, envAt, skips, last)
}

// applyDecoded is applyEvents after decoding: envAt holds the index of
// each of envs in the caller's batch, for errors. It is the one way events
// reach the tables, live, in a rebuild and in tests (docs/ARCHITECTURE.md
// section 4):
//
//  1. Each projection with rows (p.rows) starts its batch state and
//     queues the loads of the rows its events will need; the loads of all
//     of ps go in one round trip.
//  2. The reducers run, event after event in feed order, over that state
//     in memory; a row the loads did not foresee is read on the spot.
//  3. Each projection queues the writes of what changed, a statement or
//     two per table, sent with last in one round trip; a rebuild's COPYs
//     follow.
func applyDecoded(ctx context.Context, tx pgx.Tx, bulk bool, ps []Projection, envs []recorded.Event, envAt []int, skips skipSet, last func(*pgx.Batch)) error {
	batches := make([]*Batch, len(ps))
	mine := make([][]int, len(ps)) // index in envs of the events each of ps applies
	loads := &pgx.Batch{}
	for i, p := range ps {
		for j, e := range envs {
			if _, ok := p.Reducers[e.Type]; ok && !skips.has(p.Name, e.ID) {
				mine[i] = append(mine[i], j)
			}
		}
		b := &Batch{ctx: ctx, tx: tx, bulk: bulk}
		if p.rows != nil && len(mine[i]) > 0 {
			b.rows = p.rows(b)
			evs := make([]recorded.Event, len(mine[i]))
			for k, j := range mine[i] {
				evs[k] = envs[j]
			}
			b.rows.load(loads, evs)
		}
		batches[i] = b
	}
	if loads.Len() > 0 {
		if err := tx.SendBatch(ctx, loads).Close(); err != nil {
			return fmt.Errorf("load rows: %w", err)
		}
	}
	writes := &pgx.Batch{}
	for i, p := range ps {
		b := batches[i]
		for _, j := range mine[i] {
			e := envs[j]
			err := p.Reducers[e.Type](b, e)
			if err == nil {
				err = b.err
			}
			if err != nil {
				return &eventError{envAt[j], []string{p.Name}, fmt.Errorf("%s: apply %s %s at %s: %w", p.Name, e.Type, e.ID, e.Position, err)}
			}
		}
		if b.rows != nil {
			b.rows.flush(writes)
		}
	}
	if last != nil {
		last(writes)
	}
	if writes.Len() > 0 {
		if err := tx.SendBatch(ctx, writes).Close(); err != nil {
			return fmt.Errorf("write rows: %w", err)
		}
	}
	for _, b := range batches {
		for _, c := range b.copies {
			if err := c(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Batch is one batch of events on its way to a projection's tables,
// inside one transaction: what its reducers are handed.
type Batch struct {
	ctx context.Context
	tx  pgx.Tx
	// bulk says the tables are copies a rebuild is filling: rows that
	// cannot already be there may go in by COPY, after the batch's other
	// writes (queued in copies).
	bulk   bool
	copies []func() error
	// rows is the projection's batch state, from Projection.rows; nil for
	// a projection without.
	rows batchRows
	// err is the first load on the spot that failed; the event that
	// asked for it fails with it.
	err error
}

// Context is the batch's context.
func (b *Batch) Context() context.Context { return b.ctx }

// Tx is the batch's transaction, for a reducer writing rows itself.
func (b *Batch) Tx() pgx.Tx { return b.tx }

// batchRows is a projection's rows as one batch reads and changes them:
// plain maps keyed by primary key, with the SQL that fills and writes them.
type batchRows interface {
	// load queues in b the loads of the rows events (the batch's events
	// of the projection's types) will need.
	load(b *pgx.Batch, events []recorded.Event)
	// flush queues in b the writes of every row the batch changed.
	flush(b *pgx.Batch)
}

// query runs a load on the spot, outside the batched ones: a row the
// loads did not foresee. A failure fails the event being applied.
func (b *Batch) query(what, sql string, scan func(pgx.Rows) error, args ...any) {
	if b.err != nil {
		return
	}
	for _, a := range args {
		if ks, ok := a.([]string); ok && len(storableKeys(slices.Clone(ks))) < len(ks) {
			return // no row has the key
		}
	}
	rows, err := b.tx.Query(b.ctx, sql, args...)
	if err == nil {
		err = scan(rows)
		rows.Close()
	}
	if err != nil {
		b.err = fmt.Errorf("load %s: %w", what, err)
	}
}

// copyRows queues a COPY of rows into table's columns cols.
func (b *Batch) copyRows(table string, cols []string, rows [][]any) {
	b.copies = append(b.copies, func() error {
		if _, err := b.tx.CopyFrom(b.ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
		return nil
	})
}

// on adapts a reducer of one projection's batch state S and one concrete
// event type T to a Reducer.
func on[S batchRows, T domain.Event](f func(s S, e recorded.Event, ev T) error) Reducer {
	return func(b *Batch, e recorded.Event) error {
		s, ok := b.rows.(S)
		if !ok {
			return fmt.Errorf("reducer for %T handed a batch of %T", s, b.rows)
		}
		ev, ok := e.Event.(T)
		if !ok {
			var want T
			return fmt.Errorf("%w: reducer for %T got %T for event type %s", errUnreadable, want, e.Event, e.Type)
		}
		return f(s, e, ev)
	}
}

// onAny adapts a reducer of S that needs no more than the envelope.
func onAny[S batchRows](f func(s S, e recorded.Event) error) Reducer {
	return func(b *Batch, e recorded.Event) error {
		s, ok := b.rows.(S)
		if !ok {
			return fmt.Errorf("reducer for %T handed a batch of %T", s, b.rows)
		}
		return f(s, e)
	}
}

// pair is a primary key of two text columns.
type pair struct{ a, b string }

// changedRows splits the rows a batch changed into those to write and the
// keys of those it removed (a nil row).
func changedRows[R any](rows map[pair]*R, changed map[pair]bool) (put []*R, gone []pair) {
	for k := range changed {
		if r := rows[k]; r != nil {
			put = append(put, r)
		} else {
			gone = append(gone, k)
		}
	}
	return put, gone
}

// queueDeletes queues sql, which deletes the rows of unnested key arrays,
// for the keys gone, when there are any.
func queueDeletes(b *pgx.Batch, sql string, gone []pair) {
	if len(gone) > 0 {
		a, c := pairArrays(gone)
		b.Queue(sql, a, c)
	}
}

// pairArrays turns keys into one text array per key column, for the
// unnest of a load or a delete, leaving out the keys no row can have.
func pairArrays(keys []pair) ([]string, []string) {
	a, b := make([]string, 0, len(keys)), make([]string, 0, len(keys))
	for _, k := range keys {
		if storableKey(k.a) && storableKey(k.b) {
			a, b = append(a, k.a), append(b, k.b)
		}
	}
	return a, b
}

// storableKeys is keys without those no row can have, for a load.
func storableKeys(keys []string) []string {
	return slices.DeleteFunc(keys, func(k string) bool { return !storableKey(k) })
}

// storableKey reports whether a text column can hold k: a key holding
// U+0000 or bytes that are not UTF-8 is in no row, and sent in a load it
// would fail the whole batch before the event that carries it is reached
// (the event fails where it writes the key, if it does).
func storableKey(k string) bool { return utf8.ValidString(k) && !strings.ContainsRune(k, 0) }

// updateRow changes with f the row of k in rows, a table's rows in the
// batch, and marks it changed; the row is read on the spot (load, scanned
// by scan into rows) when the batch has not, and a key with no row is left
// alone.
func updateRow[R any](b *Batch, table, load string, scan func(pgx.Rows) error, rows map[pair]*R, changed map[pair]bool, k pair, f func(*R)) {
	if !known(rows, k) {
		rows[k] = nil
		b.query(table, load, scan, []string{k.a}, []string{k.b})
	}
	if r := rows[k]; r != nil {
		f(r)
		changed[k] = true
	}
}

// askRow appends k to keys, the rows a batch's load reads, unless the
// batch knows the row already; it then counts as known, with no row until
// the load finds one.
func askRow[R any](rows map[pair]*R, keys []pair, k pair) []pair {
	if known(rows, k) {
		return keys
	}
	rows[k] = nil
	return append(keys, k)
}

// known reports whether the batch read or wrote the row under k.
func known[K comparable, R any](rows map[K]*R, k K) bool {
	_, ok := rows[k]
	return ok
}

// dbTime is t as a timestamptz column gives it back: to the microsecond,
// the precision pgx sends. Rows keep times this way, so a row read back in
// a later batch equals the one this batch computed.
func dbTime(t time.Time) time.Time { return t.Truncate(time.Microsecond) }
