package projections

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Group applies the projections one instance leads to one subscription of
// the feed: each batch is read, opened and decoded once, and applied by
// every member in one transaction that holds each member's lease, locks
// each member's checkpoint and moves them together (docs/ARCHITECTURE.md
// section 4). Eight projections so pay for one read, one opening and one
// transaction per batch instead of eight.
//
// A member that cannot go on with the others leaves the group: one of its
// events fails (a reducer, or an event it needs that does not decode), its
// lease is gone, its checkpoint is behind the batch (it would miss the
// events between), or it still fails alone after a fault the group could
// not pin on anyone. The others commit without it; the caller runs it
// alone with a Handler, which retries, pins and stops as it always does.
//
// Apply is safe for concurrent use, though a subscription calls it for one
// batch at a time.
type Group struct {
	pool *pgxpool.Pool
	open Opener
	log  zerolog.Logger

	// fails counts the calls in a row whose batch, starting with the same
	// event, failed with a fault no member could be blamed for.
	fails failStreak
	mu    sync.Mutex
	// last is each member's checkpoint as the group last knew it.
	last map[string]eventstore.Position
}

// Member is one projection of a Group's batch.
type Member struct {
	Projection Projection
	// Fence, when not nil, is the lease the member's writes depend on: a
	// member whose lease is gone leaves the group.
	Fence GroupFence
}

// GroupFence is a Fence a group can check for one member without failing
// the transaction of the others.
type GroupFence interface {
	// QueueHeld queues onto b the check of Fence.Queue, holding the lease
	// until the transaction ends likewise, but reports through held
	// whether the lease is still this instance's instead of failing.
	QueueHeld(b *pgx.Batch, held *bool)
}

// ErrBehind is why a member leaves a group whose batch starts after the
// member's checkpoint: applying it would skip the events between.
var ErrBehind = errors.New("the projection's checkpoint is behind the group's batch")

// groupPatience is how many calls in a row may fail on one batch with a
// fault no member is blamed for (the database went away, or a write that
// one member's rows fail) before each member is tried alone, and those
// that still fail leave the group.
const groupPatience = 3

// NewGroup returns a group writing to the database behind pool, opening
// every batch with open (nil: the events are read as stored).
func NewGroup(pool *pgxpool.Pool, open Opener, log zerolog.Logger) *Group {
	return &Group{pool: pool, open: open, log: log, last: map[string]eventstore.Position{}}
}

// Apply applies recs, consecutive events of the feed that follow after,
// to members. It returns the members that leave the group, by name, with
// why (an error wrapping ErrFenced or ErrBehind, or the failure of one of
// their events), and the others have applied recs and committed their
// checkpoints at its end. A member that left on an event of its own
// applied, in the same transaction, the events before it, as a Handler
// does, so its checkpoint stops right before the event.
//
// The error is a fault no member is blamed for (the database's, or
// ctx's): nothing was committed, and the batch should be delivered again;
// after groupPatience such calls in a row on one batch each member is
// tried alone instead, and those that fail leave.
func (g *Group) Apply(ctx context.Context, recs []eventstore.RecordedEvent, members []Member, after eventstore.Position) (map[string]error, error) {
	out := map[string]error{}    // fenced or behind: they apply nothing
	failed := map[string]error{} // an event of theirs failed
	upTo := map[string]int{}     // how many of recs each of failed applies
	left := func() map[string]error {
		all := maps.Clone(out)
		maps.Copy(all, failed)
		// What a member does alone is no other runner's doing.
		g.mu.Lock()
		for name := range all {
			delete(g.last, name)
		}
		g.mu.Unlock()
		return all
	}
	if len(recs) == 0 {
		return out, nil
	}
	for {
		active := slices.DeleteFunc(slices.Clone(members), func(m Member) bool {
			n, ok := upTo[m.Projection.Name]
			return out[m.Projection.Name] != nil || ok && n == 0
		})
		if len(active) == 0 {
			return left(), nil
		}
		err := g.applyOnce(ctx, recs, active, after, upTo, out)
		var ee *eventError
		switch {
		case err == nil:
			g.failedOn("")
			return left(), nil
		case ctx.Err() != nil:
			// The batch was abandoned (the subscription closes): whatever
			// failed with it, no member is to blame.
			return left(), err
		case errors.As(err, &ee):
			moved := false
			for _, name := range ee.projections {
				if n, ok := upTo[name]; !ok || ee.index < n {
					upTo[name], failed[name], moved = ee.index, err, true
				}
			}
			if !moved {
				return left(), err // pinned on no member: never so, but no loop
			}
			// What is before the event is committed even while the
			// subscription closes, as a Handler does: a few
			// milliseconds' work.
			ctx = context.WithoutCancel(ctx)
		case g.failedOn(recs[0].ID) < groupPatience:
			return left(), err
		default:
			g.alone(ctx, recs, active, after, upTo, out, failed)
			return left(), ctx.Err()
		}
	}
}

// alone applies recs to each of active in a transaction of its own, after
// a fault the group could not pin, calls in a row: those that fail leave
// the group, to be retried, pinned or stopped by a Handler of their own.
func (g *Group) alone(ctx context.Context, recs []eventstore.RecordedEvent, active []Member, after eventstore.Position, upTo map[string]int, out, failed map[string]error) {
	for _, m := range active {
		err := g.applyOnce(ctx, recs, []Member{m}, after, upTo, out)
		if ctx.Err() != nil {
			return
		}
		if err != nil && out[m.Projection.Name] == nil {
			failed[m.Projection.Name] = err
		}
	}
	g.failedOn("")
}

// failedOn records that the last call failed on the batch starting with
// the event id ("": it succeeded) and returns how many calls in a row did.
func (g *Group) failedOn(id string) int { return g.fails.on(id) }

// applyOnce applies recs to ms in one transaction, adding to out the
// members found fenced or behind, which apply nothing; a member in upTo
// applies only that many of recs, and its checkpoint stops at the last of
// them. An *eventError's index is into recs.
func (g *Group) applyOnce(ctx context.Context, recs []eventstore.RecordedEvent, ms []Member, after eventstore.Position, upTo map[string]int, out map[string]error) error {
	if _, _, err := toDB(recs[len(recs)-1].Position); err != nil {
		return err
	}
	tx, err := g.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("projections group: begin: %w", err)
	}
	// Rollback after Commit does nothing; otherwise it discards the batch.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// One round trip, as a Handler's: the leases first, then the
	// checkpoints in name order, the order erasure locks them in (then
	// the keys, which the opener reads, then the rows).
	b := &pgx.Batch{}
	held := make([]bool, len(ms))
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Projection.Name
		if m.Fence != nil {
			m.Fence.QueueHeld(b, &held[i])
		} else {
			held[i] = true
		}
	}
	sorted := slices.Sorted(slices.Values(names))
	b.Queue(`INSERT INTO projection_checkpoints (name) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (name) DO NOTHING`, sorted)
	b.Queue(beginSQL)
	b.Queue(planSQL)
	stored := map[string]eventstore.Position{}
	b.Queue(`SELECT name, commit_position, prepare_position FROM projection_checkpoints
		WHERE name = ANY($1) ORDER BY name FOR UPDATE`, sorted).Query(func(rows pgx.Rows) error {
		var (
			name string
			c, p int64
		)
		_, err := pgx.ForEachRow(rows, []any{&name, &c, &p}, func() error {
			stored[name] = fromDB(c, p)
			return nil
		})
		return err
	})
	skips := skipSet{}
	queueSkips(b, sorted, skips)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("projections group: lock checkpoints: %w", err)
	}

	var (
		ps     []Projection
		writes []checkpointWrite
	)
	for i, m := range ms {
		name := m.Projection.Name
		at := stored[name]
		n, limited := upTo[name]
		if !limited {
			n = len(recs)
		}
		if !held[i] {
			out[name] = fmt.Errorf("%s: %w", name, ErrFenced)
			continue
		}
		g.noticeMove(name, at)
		switch {
		case at.Less(after):
			out[name] = fmt.Errorf("%s at %s, the batch after %s: %w", name, at, after, ErrBehind)
			continue
		case n == 0 || !at.Less(recs[n-1].Position):
			continue // nothing to apply, or a rebuild took it past the batch
		}
		// The events at or before the member's checkpoint are applied
		// already, and those from a failed one on are not its to apply
		// now: both are passed over like an operator's skips.
		for j, rec := range recs {
			if j >= n || !at.Less(rec.Position) {
				skips.add(name, rec.ID)
			}
		}
		c, p, _ := toDB(recs[n-1].Position)
		ps = append(ps, m.Projection)
		writes = append(writes, checkpointWrite{name, c, p})
	}
	if len(ps) == 0 {
		return tx.Commit(ctx)
	}
	err = applyEvents(ctx, tx, false, g.open, ps, recs, skips, func(b *pgx.Batch) {
		for _, w := range writes {
			b.Queue(sqlWriteCheckpoint, w.name, w.commit, w.prepare)
		}
	})
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("projections group: commit: %w", err)
	}
	g.mu.Lock()
	for _, w := range writes {
		g.last[w.name] = fromDB(w.commit, w.prepare)
	}
	g.mu.Unlock()
	return nil
}

// noticeMove logs a member's locked checkpoint found ahead of what the
// group last knew: another runner (a rebuild) moved it, and the member
// goes on from it.
func (g *Group) noticeMove(name string, stored eventstore.Position) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if last, ok := g.last[name]; ok && last.Less(stored) {
		g.log.Warn().Str("projection", name).Stringer("checkpoint", stored).Stringer("from", last).
			Msg("checkpoint moved by another runner; going on from it")
	}
	g.last[name] = stored
}

// checkpointWrite is a member's checkpoint as a group's batch moves it.
type checkpointWrite struct {
	name            string
	commit, prepare int64
}
