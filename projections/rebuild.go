package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Defaults of RebuildConfig.
const (
	DefaultRebuildBatch    = 5000
	DefaultSwitchLockWait  = 5 * time.Second
	DefaultSwitchAttempts  = 5
	rebuildSchemaPrefix    = "rebuild_"
	rebuildSchemaNameBytes = 38 // keeps prefix, name and suffix within PostgreSQL's 63
)

// ErrRebuildRunning is returned by Rebuild when another rebuild of the same
// projection holds its lock, in this process or another.
var ErrRebuildRunning = errors.New("another rebuild of this projection is running")

// RebuildConfig tunes Rebuild. The zero value uses the defaults.
type RebuildConfig struct {
	// BatchSize is how many events are read at once and applied in one
	// transaction. Zero means DefaultRebuildBatch.
	BatchSize int
	// LockWait bounds how long the switch-over waits for a lock (the live
	// checkpoint, held by the live runner's batch; a live table, held by a
	// long query) before it gives up that attempt, catches up again and
	// retries. It keeps a slow reader from stalling the API behind the
	// switch-over's lock request. Zero means DefaultSwitchLockWait.
	LockWait time.Duration
	// SwitchAttempts is how many switch-overs are tried before Rebuild
	// gives up. Zero means DefaultSwitchAttempts.
	SwitchAttempts int
	// Progress, when set, is called as the replay starts and after each
	// batch, with the events read so far and the events the feed held when
	// the rebuild started (-1 when the feed cannot count them). done can
	// pass total when events are appended meanwhile. It is called from
	// Rebuild's goroutine.
	Progress func(done, total int64)
	// Log receives a line per switch-over retry; the zero Logger discards.
	Log zerolog.Logger
}

func (c *RebuildConfig) setDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultRebuildBatch
	}
	if c.LockWait <= 0 {
		c.LockWait = DefaultSwitchLockWait
	}
	if c.SwitchAttempts <= 0 {
		c.SwitchAttempts = DefaultSwitchAttempts
	}
}

// Rebuild replays the whole feed into fresh copies of p's tables while the
// live tables keep serving, then switches over in one transaction and
// returns the position the new tables reached, which is also p's new
// checkpoint.
//
// The copies live in a schema of their own (rebuild_<name>_<random>), made
// with CREATE TABLE ... (LIKE live INCLUDING ALL) and given the live
// tables' index and constraint names. Events are applied with that schema
// first on the search_path, so p's reducers write there unchanged. Once the
// copies have caught up, one transaction locks p's checkpoint row (the live
// runner's next batch waits on it), applies the events that arrived since,
// drops the live tables, moves the copies into their schema, and writes the
// checkpoint. The live runner then finds its checkpoint moved and follows
// the feed from the new one, so no event is applied twice or skipped.
//
// Any failure, a cancelled ctx included, leaves the live tables and the
// checkpoint as they were; the rebuild schema is dropped on the way out (a
// schema left by a crash is dropped by the next rebuild of p). It returns
// an error wrapping ErrRebuildRunning when p is being rebuilt already, and
// the first database, feed or reducer error otherwise. Different
// projections may be rebuilt concurrently.
func Rebuild(ctx context.Context, pool *pgxpool.Pool, feed eventstore.FeedReader, p Projection, cfg RebuildConfig) (eventstore.Position, error) {
	cfg.setDefaults()
	if p.Name == "" || len(p.Tables) == 0 {
		return eventstore.Start, fmt.Errorf("rebuild %q: a projection needs a name and tables", p.Name)
	}
	conn, unlock, err := lockRebuild(ctx, pool, p.Name)
	if err != nil {
		return eventstore.Start, err
	}
	defer unlock()

	r := &rebuilder{pool: pool, conn: conn, feed: feed, p: p, cfg: cfg, total: -1}
	if err := conn.QueryRow(ctx, `SELECT current_schema(), current_setting('search_path')`).Scan(&r.live, &r.path); err != nil {
		return eventstore.Start, fmt.Errorf("rebuild %s: read the live schema (is the search_path empty?): %w", p.Name, err)
	}
	if err := r.dropLeftovers(ctx); err != nil {
		return eventstore.Start, err
	}
	if fh, ok := feed.(FeedHead); ok {
		if r.total, err = fh.CountAfter(ctx, eventstore.Start); err != nil {
			cfg.Log.Warn().Err(err).Str("projection", p.Name).Msg("cannot count the events to replay")
			r.total = -1
		}
	}
	r.schema = newRebuildSchema(p.Name)
	defer r.dropSchema(ctx)
	if err := r.prepare(ctx); err != nil {
		return eventstore.Start, err
	}
	r.progress() // 0 of total: the replay starts now
	if err := r.catchUp(ctx); err != nil {
		return eventstore.Start, err
	}
	if err := r.analyze(ctx); err != nil {
		return eventstore.Start, err
	}
	for attempt := 1; ; attempt++ {
		err := r.switchOver(ctx)
		if err == nil {
			return r.pos, nil
		}
		var pgErr *pgconn.PgError
		retry := errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "40P01") // lock_not_available, deadlock_detected
		if !retry || attempt == cfg.SwitchAttempts || ctx.Err() != nil {
			return eventstore.Start, err
		}
		cfg.Log.Warn().Err(err).Str("projection", p.Name).Int("attempt", attempt).
			Msg("switch-over could not take its locks in time; catching up and trying again")
		if err := r.catchUp(ctx); err != nil {
			return eventstore.Start, err
		}
	}
}

// lockRebuild takes p's rebuild lock: a session lock, held on a pooled
// connection of its own for the whole rebuild, which keeps two rebuilds of
// one projection apart so that neither takes the other's schema for a
// leftover. It ends with the session should the process die. unlock
// releases the lock and the connection.
func lockRebuild(ctx context.Context, pool *pgxpool.Pool, name string) (conn *pgxpool.Conn, unlock func(), err error) {
	conn, err = pool.Acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("rebuild %s: %w", name, err)
	}
	var locked bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('roster.rebuild'), hashtext($1))`, name).Scan(&locked)
	if err != nil || !locked {
		conn.Release()
		if err == nil {
			err = ErrRebuildRunning
		}
		return nil, nil, fmt.Errorf("rebuild %s: %w", name, err)
	}
	return conn, func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtext('roster.rebuild'), hashtext($1))`, name); err != nil {
			_ = conn.Conn().Close(ctx) // which ends the session and its lock
		}
		conn.Release()
	}, nil
}

// rebuilder holds one rebuild's state. pos and done move only when a
// transaction that applied events commits.
//
// Its own statements all go through conn, the connection that holds the
// rebuild lock: while the switch-over holds the checkpoint row, the live
// runner waits on it with a connection of its pool, and a rebuild that
// needed more than one connection of that same pool (besides what the
// feed's reads take) could wait for it in turn.
type rebuilder struct {
	pool   *pgxpool.Pool
	conn   *pgxpool.Conn
	feed   eventstore.FeedReader
	p      Projection
	cfg    RebuildConfig
	live   string // the schema of the live tables
	path   string // the search_path the session started with
	schema string // the rebuild schema
	pos    eventstore.Position
	done   int64
	total  int64
}

// catchUp applies the feed after r.pos to the copies, a batch per
// transaction, until a read comes back short: the copies are then at the
// head, give or take what was appended meanwhile.
func (r *rebuilder) catchUp(ctx context.Context) error {
	for {
		batch, err := r.feed.ReadAll(ctx, r.pos, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("rebuild %s: read the feed after %s: %w", r.p.Name, r.pos, err)
		}
		if len(batch) > 0 {
			if err := r.applyBatch(ctx, batch); err != nil {
				return err
			}
		}
		if len(batch) < r.cfg.BatchSize {
			return nil
		}
	}
}

func (r *rebuilder) applyBatch(ctx context.Context, batch []eventstore.RecordedEvent) error {
	tx, err := r.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("rebuild %s: begin batch: %w", r.p.Name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := r.searchRebuildFirst(ctx, tx); err != nil {
		return err
	}
	next, err := r.apply(ctx, tx, r.pos, batch)
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("rebuild %s: commit batch: %w", r.p.Name, err)
	}
	r.pos = next
	r.done += int64(len(batch))
	r.progress()
	return nil
}

// analyze gathers the planner's statistics of the copies before they go
// live: a fresh table has none until autovacuum comes by, and the queries
// of the first minutes after the switch-over would be planned blind.
func (r *rebuilder) analyze(ctx context.Context) error {
	copies := make([]string, len(r.p.Tables))
	for i, t := range r.p.Tables {
		copies[i] = r.qualified(r.schema, t)
	}
	if _, err := r.conn.Exec(ctx, `ANALYZE `+strings.Join(copies, ", ")); err != nil {
		return fmt.Errorf("rebuild %s: analyze the new tables: %w", r.p.Name, err)
	}
	return nil
}

// switchOver applies what arrived since the last batch and swaps the copies
// in, in one transaction that holds the live checkpoint row throughout, so
// the live runner cannot apply a batch in between. Its ReadAll calls see
// at least as far as the live checkpoint: the runner was given those
// events before this transaction began.
func (r *rebuilder) switchOver(ctx context.Context) error {
	tx, err := r.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("rebuild %s: begin switch-over: %w", r.p.Name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`,
		fmt.Sprintf("%dms", max(r.cfg.LockWait.Milliseconds(), 1))); err != nil {
		return fmt.Errorf("rebuild %s: set lock_timeout: %w", r.p.Name, err)
	}
	live, err := lockCheckpoint(ctx, tx, r.p.Name)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", r.p.Name, err)
	}
	if err := r.searchRebuildFirst(ctx, tx); err != nil {
		return err
	}
	pos, done := r.pos, r.done
	for {
		batch, err := r.feed.ReadAll(ctx, pos, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("rebuild %s: read the feed after %s: %w", r.p.Name, pos, err)
		}
		if len(batch) > 0 {
			if pos, err = r.apply(ctx, tx, pos, batch); err != nil {
				return err
			}
			done += int64(len(batch))
		}
		// Short of the live checkpoint the new tables would briefly show
		// less than the old ones did, so read on while the feed has more.
		if len(batch) == 0 || (len(batch) < r.cfg.BatchSize && !pos.Less(live)) {
			break
		}
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, r.path); err != nil {
		return fmt.Errorf("rebuild %s: restore search_path: %w", r.p.Name, err)
	}
	if err := r.swap(ctx, tx); err != nil {
		return err
	}
	c, pr, err := toDB(pos)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", r.p.Name, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE projection_checkpoints
		SET commit_position = $2, prepare_position = $3, updated_at = now() WHERE name = $1`, r.p.Name, c, pr); err != nil {
		return fmt.Errorf("rebuild %s: write checkpoint: %w", r.p.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("rebuild %s: commit switch-over: %w", r.p.Name, err)
	}
	r.pos, r.done = pos, done
	r.progress()
	return nil
}

// apply runs the projection over batch, as the runner's batches do.
func (r *rebuilder) apply(ctx context.Context, tx pgx.Tx, from eventstore.Position, batch []eventstore.RecordedEvent) (eventstore.Position, error) {
	last, err := r.p.apply(ctx, tx, from, batch)
	if err != nil {
		return from, fmt.Errorf("rebuild %s: %w", r.p.Name, err)
	}
	return last, nil
}

// searchRebuildFirst puts the rebuild schema first on the search_path for
// the rest of tx, so unqualified names resolve to the copies.
func (r *rebuilder) searchRebuildFirst(ctx context.Context, tx pgx.Tx) error {
	path := ident(r.schema)
	if r.path != "" {
		path += ", " + r.path
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, path); err != nil {
		return fmt.Errorf("rebuild %s: set search_path: %w", r.p.Name, err)
	}
	return nil
}

func (r *rebuilder) progress() {
	if r.cfg.Progress != nil {
		r.cfg.Progress(r.done, r.total)
	}
}
