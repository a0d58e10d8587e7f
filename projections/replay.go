package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/rosterhq/roster/infra/eventstore"
)

// lane is one worker of a replay and the events it applies: the share of
// the properties numbered part out of parts, or every event. It takes a
// connection of the pool for each batch only: held throughout, the lanes
// could leave none for the feed's reads.
type lane struct {
	pool        *pgxpool.Pool
	rs          []*rebuilder
	ps          []Projection
	part, parts uint32
	skips       skipSet
	gaveUp      *givenUp
}

// replay applies the whole feed, as it stands, to the copies of rs, and
// moves their positions to the last event it read.
//
// Each batch of the feed is read once. The projections that keep a batch's
// rows in memory (every one this package builds, see Projection.rows) are
// applied together by cfg.Workers lanes, each to the events of its share
// of the properties: their rows belong to one property each, so the lanes
// never touch the same row, and an event is opened and decoded once. A
// projection whose reducers write through the transaction themselves may
// read across properties, so it gets a lane of its own with every event,
// in feed order. The lanes apply a batch at the same time, each in its own
// transaction, while the next batch is read. A projection that cannot apply
// an event is given up (added to gaveUp) and the lanes go on without it.
func replay(ctx context.Context, pool *pgxpool.Pool, feed eventstore.FeedReader, rs []*rebuilder, cfg RebuildConfig,
	skips skipSet, gaveUp *givenUp, progress func()) error {
	var set, plain []*rebuilder
	for _, r := range rs {
		if r.p.rows != nil {
			set = append(set, r)
		} else {
			plain = append(plain, r)
		}
	}
	var lanes []*lane
	if len(set) > 0 {
		for i := range cfg.Workers {
			lanes = append(lanes, &lane{rs: set, part: uint32(i), parts: uint32(cfg.Workers)})
		}
	}
	for _, r := range plain {
		lanes = append(lanes, &lane{rs: []*rebuilder{r}, parts: 1})
	}
	for _, l := range lanes {
		l.pool, l.skips, l.gaveUp = pool, skips, gaveUp
		for _, r := range l.rs {
			l.ps = append(l.ps, r.p)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []eventstore.RecordedEvent, 1)
	var readErr error
	go func() {
		defer close(batches)
		after := eventstore.Start
		for {
			batch, err := feed.ReadAll(ctx, after, cfg.BatchSize)
			if err != nil {
				readErr = fmt.Errorf("rebuild: read the feed after %s: %w", after, err)
				return
			}
			if len(batch) > 0 {
				select {
				case batches <- batch:
				case <-ctx.Done():
					return
				}
				after = batch[len(batch)-1].Position
			}
			if len(batch) < cfg.BatchSize {
				return
			}
		}
	}()
	drain := func() {
		cancel()
		for range batches {
		}
	}
	var done int64
	for batch := range batches {
		g, gctx := errgroup.WithContext(ctx)
		for _, l := range lanes {
			part := l.pick(batch)
			if len(part) == 0 {
				continue
			}
			g.Go(func() error { return l.apply(gctx, cfg.Opener, part) })
		}
		if err := g.Wait(); err != nil {
			drain()
			return err
		}
		done += int64(len(batch))
		for _, r := range rs {
			r.pos, r.done = batch[len(batch)-1].Position, done
		}
		progress()
	}
	if readErr != nil {
		return readErr
	}
	return ctx.Err()
}

// pick returns the events of batch in l's share.
func (l *lane) pick(batch []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	if l.parts == 1 {
		return batch
	}
	out := make([]eventstore.RecordedEvent, 0, len(batch)/int(l.parts)+1)
	for _, rec := range batch {
		if streamHash(rec.StreamID)%l.parts == l.part {
			out = append(out, rec)
		}
	}
	return out
}

// streamHash is FNV-1a of a stream's name: every event of a property goes
// to the same lane.
func streamHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// apply applies recs to the copies of l's projections in one transaction.
// When an event fails projections in a way that retrying cannot mend (see
// IsPoison), they are given up and the others apply recs again without
// them.
func (l *lane) apply(ctx context.Context, open Opener, recs []eventstore.RecordedEvent) error {
	for {
		ps := make([]Projection, 0, len(l.ps))
		for _, p := range l.ps {
			if !l.gaveUp.has(p.Name) {
				ps = append(ps, p)
			}
		}
		if len(ps) == 0 {
			return nil
		}
		err := l.applyTo(ctx, open, ps, recs)
		if err == nil || !IsPoison(err) || ctx.Err() != nil {
			return err
		}
		culprits, lerr := l.culprits(ctx, open, ps, recs, err)
		if lerr != nil {
			return errors.Join(err, lerr)
		}
		added := false
		for _, c := range culprits {
			added = l.gaveUp.add(newEventError(c.projection, recs[c.index], c.err)) || added
		}
		if !added {
			return err
		}
	}
}

// culprits returns the projections of ps that cannot apply an event of
// recs, which failed them with err: those err names, or, when it names
// none, those locate finds in a transaction rolled back afterwards.
func (l *lane) culprits(ctx context.Context, open Opener, ps []Projection, recs []eventstore.RecordedEvent, err error) ([]culprit, error) {
	var ee *eventError
	if errors.As(err, &ee) {
		out := make([]culprit, len(ee.projections))
		for i, name := range ee.projections {
			out[i] = culprit{name, ee.index, ee.err}
		}
		return out, nil
	}
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild %s: begin: %w", names(ps), err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := setSearchPath(ctx, tx, l.rs); err != nil {
		return nil, err
	}
	return locate(ctx, tx, true, open, ps, recs, l.skips)
}

func (l *lane) applyTo(ctx context.Context, open Opener, ps []Projection, recs []eventstore.RecordedEvent) error {
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("rebuild %s: begin batch: %w", names(ps), err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := setSearchPath(ctx, tx, l.rs); err != nil {
		return err
	}
	if err := applyEvents(ctx, tx, true, open, ps, recs, l.skips, nil); err != nil {
		return fmt.Errorf("rebuild %s: %w", names(ps), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("rebuild %s: commit batch: %w", names(ps), err)
	}
	return nil
}

func names(ps []Projection) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return strings.Join(out, ", ")
}

// finishCopies readies the copies for the switch-over, a table at a time
// on up to workers connections at once: it gives the copy the default
// fillfactor again (see prepare), builds the indexes the table
// went without during the replay, with the memory to sort it in one go,
// and gathers the planner's statistics (a fresh table has none until
// autovacuum comes by, and the queries of the first minutes after the
// switch-over would be planned blind).
func finishCopies(ctx context.Context, pool *pgxpool.Pool, rs []*rebuilder, workers int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, r := range rs {
		for _, t := range r.p.Tables {
			g.Go(func() error {
				tx, err := pool.Begin(ctx)
				if err != nil {
					return fmt.Errorf("rebuild %s: %w", r.p.Name, err)
				}
				defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
				stmts := []string{`SET LOCAL maintenance_work_mem = '256MB'`}
				if r.updated(t) {
					stmts = append(stmts, `ALTER TABLE `+r.qualified(r.schema, t)+` RESET (fillfactor)`)
				}
				stmts = append(stmts, r.deferred[t]...)
				stmts = append(stmts, `ANALYZE `+r.qualified(r.schema, t))
				for _, s := range stmts {
					if _, err := tx.Exec(ctx, s); err != nil {
						return fmt.Errorf("rebuild %s: %s: %w", r.p.Name, s, err)
					}
				}
				if err := tx.Commit(ctx); err != nil {
					return fmt.Errorf("rebuild %s: ready the copy of %s: %w", r.p.Name, t, err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}
