package projections

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

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
// once, then each projection runs its reducers over those of its types,
// set-wise where it has a fold. last, when not nil, queues statements to
// send with the batch's writes (a checkpoint), saving a round trip. bulk
// says ps write to copies a rebuild is filling (see unit.bulk).
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
// each of envs in the caller's batch, for errors.
func applyDecoded(ctx context.Context, tx pgx.Tx, bulk bool, ps []Projection, envs []recorded.Event, envAt []int, skips skipSet, last func(*pgx.Batch)) error {
	// Set-wise projections record what they need, and it is loaded for
	// all of them in one round trip.
	type run struct {
		u    *unit
		step func(recorded.Event) error
	}
	runs := make([]run, len(ps))
	for i, p := range ps {
		if f := p.folded(); f != nil {
			u := &unit{ctx: ctx, tx: tx, bulk: bulk}
			runs[i] = run{u, f.begin(u)}
		}
	}
	// Keys found in loaded rows need another round; three cover every
	// projection here, and a fourth would only save a lazy load.
	for round := 0; round < 3; round++ {
		loads := &pgx.Batch{}
		for i, p := range ps {
			r := runs[i]
			if r.u == nil {
				continue
			}
			r.u.recording = true
			for _, t := range r.u.tables {
				t.startPass()
			}
			for _, e := range envs {
				if _, ok := p.Reducers[e.Type]; ok && !skips.has(p.Name, e.ID) {
					_ = r.step(e) // a failure shows again, for real, below
				}
			}
			r.u.recording = false
			for _, t := range r.u.tables {
				t.queueLoads(loads)
				t.startPass()
			}
		}
		if loads.Len() == 0 {
			break
		}
		if err := tx.SendBatch(ctx, loads).Close(); err != nil {
			return fmt.Errorf("load rows: %w", err)
		}
	}
	writes := &pgx.Batch{}
	for i, p := range ps {
		for j, e := range envs {
			reduce, ok := p.Reducers[e.Type]
			if !ok || skips.has(p.Name, e.ID) {
				continue
			}
			var err error
			if r := runs[i]; r.u != nil {
				err = r.step(e)
				if err == nil {
					err = r.u.err
				}
			} else {
				err = reduce(ctx, tx, e)
			}
			if err != nil {
				return &eventError{envAt[j], []string{p.Name}, fmt.Errorf("%s: apply %s %s at %s: %w", p.Name, e.Type, e.ID, e.Position, err)}
			}
		}
		if r := runs[i]; r.u != nil {
			for _, t := range r.u.tables {
				t.queueWrites(writes)
			}
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
	for _, r := range runs {
		if r.u == nil {
			continue
		}
		for _, c := range r.u.copies {
			if err := c(); err != nil {
				return err
			}
		}
	}
	return nil
}

// fold is a projection's set-wise form: the tables a batch works on, and
// a step per event type over them.
type fold interface {
	// begin starts a batch's unit of work in u and returns the step that
	// applies one event to it.
	begin(u *unit) func(recorded.Event) error
}

// folder is a fold whose batch state is S: the projection's tables.
type folder[S any] struct {
	state    func(u *unit) S
	steps    map[string]step[S]
	reducers map[string]Reducer // the projection's, as built
}

// step applies one event to a batch's state.
type step[S any] func(s S, e recorded.Event) error

func (f *folder[S]) begin(u *unit) func(recorded.Event) error {
	s := f.state(u)
	return func(e recorded.Event) error {
		st, ok := f.steps[e.Type]
		if !ok {
			return nil
		}
		return st(s, e)
	}
}

// onEvent adapts a step of one concrete event type, as On does for Reducers.
func onEvent[S any, T domain.Event](f func(s S, e recorded.Event, ev T) error) step[S] {
	return func(s S, e recorded.Event) error {
		ev, ok := e.Event.(T)
		if !ok {
			var want T
			return fmt.Errorf("%w: step for %T got %T for event type %s", errUnreadable, want, e.Event, e.Type)
		}
		return f(s, e, ev)
	}
}

// setwise returns the projection whose batches apply steps over the state
// that state builds. Its Reducers apply one event at a time the same way,
// for callers that hand events over one by one.
func setwise[S any](name string, tables []string, state func(u *unit) S, steps map[string]step[S]) Projection {
	f := &folder[S]{state: state, steps: steps, reducers: make(map[string]Reducer, len(steps))}
	for typ := range steps {
		f.reducers[typ] = func(ctx context.Context, tx pgx.Tx, e recorded.Event) error {
			p := Projection{Name: name, Reducers: f.reducers, set: f}
			return applyDecoded(ctx, tx, false, []Projection{p}, []recorded.Event{e}, []int{0}, nil, nil)
		}
	}
	return Projection{Name: name, Tables: tables, Reducers: f.reducers, set: f}
}

// folded returns p's set-wise form, or nil when p has none or its Reducers
// are no longer the ones the form was built with (a caller wrapped them):
// the Reducers then apply the events, one statement after another.
func (p Projection) folded() fold {
	f, ok := p.set.(interface{ builtWith() map[string]Reducer })
	if !ok || reflect.ValueOf(f.builtWith()).UnsafePointer() != reflect.ValueOf(p.Reducers).UnsafePointer() {
		return nil
	}
	return p.set
}

func (f *folder[S]) builtWith() map[string]Reducer { return f.reducers }
