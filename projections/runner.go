package projections

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Feed is the part of the event store the runner reads: the global feed,
// followed from a position.
type Feed interface {
	SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error)
}

// Backoff bounds between restarts of a failing projection. A projection that
// keeps failing on the same event waits longer each time, up to the cap.
const (
	defaultMinBackoff = 100 * time.Millisecond
	defaultMaxBackoff = 30 * time.Second
)

// Runner keeps projections up to date with the feed, each in its own
// goroutine with its own checkpoint.
type Runner struct {
	pool       *pgxpool.Pool
	feed       Feed
	log        zerolog.Logger
	ps         []Projection
	minBackoff time.Duration
	maxBackoff time.Duration
}

// NewRunner returns a runner of the projections ps over feed, writing to the
// database behind pool.
func NewRunner(pool *pgxpool.Pool, feed Feed, log zerolog.Logger, ps ...Projection) *Runner {
	return &Runner{pool: pool, feed: feed, log: log, ps: ps,
		minBackoff: defaultMinBackoff, maxBackoff: defaultMaxBackoff}
}

// Run follows the feed for every projection concurrently until ctx ends, and
// then returns nil. A projection that fails (a reducer error, a lost
// database or feed) is logged and restarted from its stored checkpoint after
// a capped backoff; the others carry on. Run returns an error at once only
// when the projections are misconfigured (an empty or repeated name). Call
// it once per Runner.
func (r *Runner) Run(ctx context.Context) error {
	seen := make(map[string]bool, len(r.ps))
	for _, p := range r.ps {
		if p.Name == "" || seen[p.Name] {
			return fmt.Errorf("projection name %q is empty or repeated", p.Name)
		}
		seen[p.Name] = true
	}
	var wg sync.WaitGroup
	for _, p := range r.ps {
		wg.Go(func() { r.keep(ctx, p) })
	}
	wg.Wait()
	return nil
}

// keep runs one projection, restarting it after each failure until ctx ends.
func (r *Runner) keep(ctx context.Context, p Projection) {
	log := r.log.With().Str("projection", p.Name).Logger()
	backoff := r.minBackoff
	for {
		progressed, err := r.follow(ctx, p, log)
		if ctx.Err() != nil {
			return
		}
		if progressed {
			backoff = r.minBackoff
		}
		log.Error().Err(err).Dur("retry_in", backoff).Msg("projection failed; restarting from its checkpoint")
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, r.maxBackoff)
	}
}

// movedError says another runner moved the checkpoint since this one read it.
type movedError struct{ stored eventstore.Position }

func (e *movedError) Error() string {
	return "checkpoint moved to " + e.stored.String() + " by another runner"
}

// follow subscribes from the stored checkpoint and applies batches until an
// error. progressed reports whether any batch was committed.
func (r *Runner) follow(ctx context.Context, p Projection, log zerolog.Logger) (progressed bool, err error) {
	from, err := checkpoint(ctx, r.pool, p.Name)
	if err != nil {
		return false, err
	}
	for {
		log.Debug().Stringer("after", from).Msg("projection subscribing")
		sub, err := r.feed.SubscribeAll(ctx, from)
		if err != nil {
			return progressed, fmt.Errorf("subscribe after %s: %w", from, err)
		}
		err = r.consume(ctx, p, sub, &from, &progressed)
		_ = sub.Close()
		var moved *movedError
		if !errors.As(err, &moved) {
			return progressed, err
		}
		log.Warn().Stringer("checkpoint", moved.stored).Msg("checkpoint moved by another runner; resubscribing from it")
		from = moved.stored
	}
}

// consume applies each batch of sub, moving *from past every committed one.
func (r *Runner) consume(ctx context.Context, p Projection, sub eventstore.Subscription, from *eventstore.Position, progressed *bool) error {
	for {
		batch, err := sub.Next(ctx)
		if err != nil {
			return fmt.Errorf("read feed after %s: %w", *from, err)
		}
		next, err := r.applyBatch(ctx, p, *from, batch)
		if err != nil {
			return err
		}
		if next != *from {
			*from, *progressed = next, true
		}
	}
}

// applyBatch applies batch and moves the checkpoint past it in one
// transaction. It refuses with a *movedError when the stored checkpoint is
// not from: another runner got there first, and the batch may overlap what
// it applied. It returns the new checkpoint.
func (r *Runner) applyBatch(ctx context.Context, p Projection, from eventstore.Position, batch []eventstore.RecordedEvent) (eventstore.Position, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return from, fmt.Errorf("begin batch: %w", err)
	}
	// Rollback after Commit does nothing; after a failure it discards the batch.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	stored, err := lockCheckpoint(ctx, tx, p.Name)
	if err != nil {
		return from, err
	}
	if stored != from {
		return from, &movedError{stored: stored}
	}
	last, err := p.apply(ctx, tx, from, batch)
	if err != nil {
		return from, err
	}
	if last == from {
		return from, nil
	}
	c, pr, err := toDB(last)
	if err != nil {
		return from, err
	}
	if _, err := tx.Exec(ctx, `UPDATE projection_checkpoints
		SET commit_position = $2, prepare_position = $3, updated_at = now() WHERE name = $1`, p.Name, c, pr); err != nil {
		return from, fmt.Errorf("write checkpoint: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return from, fmt.Errorf("commit batch: %w", err)
	}
	return last, nil
}

// lockCheckpoint reads the projection's checkpoint and holds its row until
// the transaction ends, creating the row at the start of the feed if need be.
func lockCheckpoint(ctx context.Context, tx pgx.Tx, name string) (eventstore.Position, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO projection_checkpoints (name) VALUES ($1)
		ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return eventstore.Start, fmt.Errorf("create checkpoint %s: %w", name, err)
	}
	var c, p int64
	err := tx.QueryRow(ctx, `SELECT commit_position, prepare_position
		FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, name).Scan(&c, &p)
	if err != nil {
		return eventstore.Start, fmt.Errorf("lock checkpoint %s: %w", name, err)
	}
	return fromDB(c, p), nil
}

// checkpoint reads one projection's checkpoint; a projection that has never
// run is at the start of the feed.
func checkpoint(ctx context.Context, pool *pgxpool.Pool, name string) (eventstore.Position, error) {
	var c, p int64
	err := pool.QueryRow(ctx, `SELECT commit_position, prepare_position
		FROM projection_checkpoints WHERE name = $1`, name).Scan(&c, &p)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Start, nil
	}
	if err != nil {
		return eventstore.Start, fmt.Errorf("read checkpoint %s: %w", name, err)
	}
	return fromDB(c, p), nil
}

// Checkpoints returns the stored checkpoint of every projection that has
// written one, by name. A projection missing from the map is at the start.
// It is safe for concurrent use.
func Checkpoints(ctx context.Context, pool *pgxpool.Pool) (map[string]eventstore.Position, error) {
	rows, err := pool.Query(ctx, `SELECT name, commit_position, prepare_position FROM projection_checkpoints`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	out := map[string]eventstore.Position{}
	var (
		name string
		c, p int64
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &c, &p}, func() error {
		out[name] = fromDB(c, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return out, nil
}

// toDB converts a position to the signed columns that store it. Both
// EventStoreDB and PostgreSQL positions are signed 64-bit numbers at heart,
// so a larger one means a broken feed.
func toDB(p eventstore.Position) (int64, int64, error) {
	if p.Commit > math.MaxInt64 || p.Prepare > math.MaxInt64 {
		return 0, 0, fmt.Errorf("position %s does not fit a checkpoint", p)
	}
	return int64(p.Commit), int64(p.Prepare), nil
}

func fromDB(c, p int64) eventstore.Position {
	return eventstore.Position{Commit: uint64(c), Prepare: uint64(p)}
}

// apply runs the projection's reducers over the events of batch after from,
// in tx, and returns the position of the last event it passed. Events at or
// before from were applied already; events of types the projection does not
// handle, or of streams that are not properties', only move the position.
func (p Projection) apply(ctx context.Context, tx pgx.Tx, from eventstore.Position, batch []eventstore.RecordedEvent) (eventstore.Position, error) {
	last := from
	for _, rec := range batch {
		if !last.Less(rec.Position) {
			continue
		}
		last = rec.Position
		reduce, ok := p.Reducers[rec.Type]
		if !ok {
			continue
		}
		env, err := Decode(rec)
		if errors.Is(err, ErrForeignStream) {
			continue
		}
		if err != nil {
			return from, err
		}
		if err := reduce(ctx, tx, env); err != nil {
			return from, fmt.Errorf("apply %s %s at %s: %w", rec.Type, rec.ID, rec.Position, err)
		}
	}
	return last, nil
}
