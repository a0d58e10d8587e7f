package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	DefaultRebuildWorkers  = 2
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
	// transaction per worker. Zero means DefaultRebuildBatch.
	BatchSize int
	// Workers is how many connections replay the feed at once, each into
	// the rows of its own share of the properties (every read model row
	// belongs to one property). Zero means DefaultRebuildWorkers.
	Workers int
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
	// Opener, when set, opens each batch of events inside the transaction
	// that applies it, before decoding (see Opener); nil: events are
	// plaintext.
	Opener Opener
	// Log receives a line per switch-over retry; the zero Logger discards.
	Log zerolog.Logger
}

func (c *RebuildConfig) setDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultRebuildBatch
	}
	if c.Workers <= 0 {
		c.Workers = DefaultRebuildWorkers
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
// checkpoint. It is RebuildAll of p alone.
func Rebuild(ctx context.Context, pool *pgxpool.Pool, feed eventstore.FeedReader, p Projection, cfg RebuildConfig) (eventstore.Position, error) {
	pos, err := RebuildAll(ctx, pool, feed, []Projection{p}, cfg)
	if err != nil {
		return eventstore.Start, err
	}
	return pos[0], nil
}

// RebuildAll rebuilds the projections ps together, reading and decoding the
// feed once for all of them, and returns the position each reached, which
// is also its new checkpoint.
//
// The copies live in a schema per projection (rebuild_<name>_<random>),
// made with CREATE TABLE ... (LIKE live INCLUDING ALL) and given the live
// tables' index and constraint names; indexes that back no key are dropped
// while the events are replayed and built again afterwards, which is
// cheaper than keeping them up to date row by row. Events are applied with
// those schemas first on the search_path, so the projections write there
// unchanged. The replay runs on Workers connections, each applying every
// projection to its own share of the properties, a transaction per batch.
// Then each projection in turn catches up and switches over: one
// transaction locks its checkpoint row (the live runner's next batch waits
// on it), applies the events that arrived since, drops the live tables,
// moves the copies into their schema, and writes the checkpoint. The live
// runner then finds its checkpoint moved and follows the feed from the new
// one, so no event is applied twice or skipped.
//
// The events an operator skipped for a projection (projection_skips, see
// SkipEvent) before the rebuild began are passed over by that projection
// alone, as its live runner does. A projection that meets an event it
// cannot apply (see IsPoison) is given up, its live tables and checkpoint
// left as they were, while the others go on and switch over: RebuildAll
// then returns a *PartialRebuildError naming each projection given up and
// its event, and the positions of the others (Start for those given up).
//
// Any other failure, a cancelled ctx included, leaves the live tables and
// the checkpoint of every projection not yet switched over as they were;
// the rebuild schemas are dropped on the way out (a schema left by a crash
// is dropped by the next rebuild of its projection). It returns an error
// wrapping ErrRebuildRunning when one of ps is being rebuilt already, and
// the first database, feed or reducer error otherwise. Different
// projections may be rebuilt concurrently.
func RebuildAll(ctx context.Context, pool *pgxpool.Pool, feed eventstore.FeedReader, ps []Projection, cfg RebuildConfig) ([]eventstore.Position, error) {
	cfg.setDefaults()
	for _, p := range ps {
		if p.Name == "" || len(p.Tables) == 0 {
			return nil, fmt.Errorf("rebuild %q: a projection needs a name and tables", p.Name)
		}
	}
	if err := CheckNames(ps...); err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	defer conn.Release()
	var live, path string
	if err := conn.QueryRow(ctx, `SELECT current_schema(), current_setting('search_path')`).Scan(&live, &path); err != nil {
		return nil, fmt.Errorf("rebuild: read the live schema (is the search_path empty?): %w", err)
	}
	total := int64(-1)
	if fh, ok := feed.(FeedHead); ok {
		if total, err = fh.CountAfter(ctx, eventstore.Start); err != nil {
			cfg.Log.Warn().Err(err).Msg("cannot count the events to replay")
			total = -1
		}
	}
	rs := make([]*rebuilder, 0, len(ps))
	var unlocks []func()
	// The schemas go before the locks that keep them from other rebuilds.
	defer func() {
		for _, r := range rs {
			r.dropSchema(ctx)
		}
		for _, unlock := range slices.Backward(unlocks) {
			unlock()
		}
	}()
	for _, p := range ps {
		unlock, err := lockRebuild(ctx, conn, p.Name)
		if err != nil {
			return nil, err
		}
		unlocks = append(unlocks, unlock)
		r := &rebuilder{pool: pool, conn: conn, feed: feed, p: p, cfg: cfg, live: live, path: path, total: total}
		if err := r.dropLeftovers(ctx); err != nil {
			return nil, err
		}
		r.schema = newRebuildSchema(p.Name)
		rs = append(rs, r)
		if err := r.prepare(ctx); err != nil {
			return nil, err
		}
	}
	named := make([]string, len(ps))
	for i, p := range ps {
		named[i] = p.Name
	}
	skips, err := loadSkips(ctx, conn, named)
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	for _, r := range rs {
		r.skips = skips
	}
	gaveUp := &givenUp{log: cfg.Log, by: map[string]*EventError{}}
	progress := func() {
		if cfg.Progress != nil {
			var done int64
			for _, r := range rs {
				done = max(done, r.done)
			}
			cfg.Progress(done, total)
		}
	}
	progress() // 0 of total: the replay starts now
	if err := replay(ctx, pool, feed, rs, cfg, skips, gaveUp, progress); err != nil {
		return nil, err
	}
	if err := finishCopies(ctx, pool, gaveUp.others(rs), cfg.Workers); err != nil {
		return nil, err
	}
	out := make([]eventstore.Position, len(rs))
	for i, r := range rs {
		if gaveUp.has(r.p.Name) {
			continue
		}
		err := r.finish(ctx, progress)
		var ee *EventError
		if errors.As(err, &ee) && ee.Poison() && ctx.Err() == nil {
			gaveUp.add(ee)
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = r.pos
	}
	return out, gaveUp.err(ps)
}

// finish catches r up with the feed and switches it over, trying again
// while the switch-over cannot take its locks in time. A failure an event
// of the projection's own causes is an *EventError naming it.
func (r *rebuilder) finish(ctx context.Context, progress func()) error {
	err := r.catchUpAndSwitch(ctx, progress)
	var ee *EventError
	if err == nil || errors.As(err, &ee) || !IsPoison(err) || ctx.Err() != nil {
		return err
	}
	found, lerr := r.locate(ctx)
	if lerr != nil || found == nil {
		return err
	}
	return fmt.Errorf("rebuild %s: %w", r.p.Name, found)
}

// locate finds the event after r.pos the projection cannot apply, in a
// transaction rolled back afterwards (see locate), or nil when every event
// applies one by one.
func (r *rebuilder) locate(ctx context.Context) (*EventError, error) {
	tx, err := r.conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := setSearchPath(ctx, tx, []*rebuilder{r}); err != nil {
		return nil, err
	}
	for after := r.pos; ; {
		batch, err := r.feed.ReadAll(ctx, after, r.cfg.BatchSize)
		if err != nil {
			return nil, err
		}
		found, err := locate(ctx, tx, false, r.cfg.Opener, []Projection{r.p}, batch, r.skips)
		if err != nil {
			return nil, err
		}
		if len(found) > 0 {
			return newEventError(r.p.Name, batch[found[0].index], found[0].err), nil
		}
		if len(batch) < r.cfg.BatchSize {
			return nil, nil
		}
		after = batch[len(batch)-1].Position
	}
}

func (r *rebuilder) catchUpAndSwitch(ctx context.Context, progress func()) error {
	for attempt := 1; ; attempt++ {
		if err := r.catchUp(ctx, progress); err != nil {
			return err
		}
		err := r.switchOver(ctx)
		if err == nil {
			progress()
			return nil
		}
		var pgErr *pgconn.PgError
		retry := errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "40P01") // lock_not_available, deadlock_detected
		if !retry || attempt == r.cfg.SwitchAttempts || ctx.Err() != nil {
			return err
		}
		r.cfg.Log.Warn().Err(err).Str("projection", r.p.Name).Int("attempt", attempt).
			Msg("switch-over could not take its locks in time; catching up and trying again")
	}
}

// lockRebuild takes the rebuild lock of the projection name: a session
// lock, held on conn for the whole rebuild, which keeps two rebuilds of one
// projection apart so that neither takes the other's schema for a
// leftover. It ends with the session should the process die. unlock
// releases it.
func lockRebuild(ctx context.Context, conn *pgxpool.Conn, name string) (unlock func(), err error) {
	var locked bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('roster.rebuild'), hashtext($1))`, name).Scan(&locked)
	if err != nil || !locked {
		if err == nil {
			err = ErrRebuildRunning
		}
		return nil, fmt.Errorf("rebuild %s: %w", name, err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtext('roster.rebuild'), hashtext($1))`, name); err != nil {
			_ = conn.Conn().Close(ctx) // which ends the session and its lock
		}
	}, nil
}

// rebuilder holds one projection's rebuild. pos and done move only when a
// transaction that applied events commits.
//
// Its own statements all go through conn, the connection that holds the
// rebuild locks: while the switch-over holds the checkpoint row, the live
// runner waits on it with a connection of its pool, and a rebuild that
// needed more than one connection of that same pool (besides what the
// feed's reads take) could wait for it in turn. The replay's workers take
// connections of their own before any checkpoint is locked, and give them
// back before.
type rebuilder struct {
	pool   *pgxpool.Pool
	conn   *pgxpool.Conn
	feed   eventstore.FeedReader
	p      Projection
	cfg    RebuildConfig
	live   string // the schema of the live tables
	path   string // the search_path the session started with
	schema string // the rebuild schema
	// deferred are the definitions of the indexes dropped from the copy
	// of each table while the feed is replayed, built again before the
	// switch-over.
	deferred map[string][]string
	skips    skipSet
	pos      eventstore.Position
	done     int64
	total    int64
}

// catchUp applies the feed after r.pos to the copies, a batch per
// transaction, until a read comes back short: the copies are then at the
// head, give or take what was appended meanwhile.
func (r *rebuilder) catchUp(ctx context.Context, progress func()) error {
	for {
		batch, err := r.feed.ReadAll(ctx, r.pos, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("rebuild %s: read the feed after %s: %w", r.p.Name, r.pos, err)
		}
		if len(batch) > 0 {
			if err := r.applyBatch(ctx, batch); err != nil {
				return err
			}
			progress()
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
	if err := setSearchPath(ctx, tx, []*rebuilder{r}); err != nil {
		return err
	}
	if err := r.apply(ctx, tx, batch); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("rebuild %s: commit batch: %w", r.p.Name, err)
	}
	r.pos = batch[len(batch)-1].Position
	r.done += int64(len(batch))
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
	if err := setSearchPath(ctx, tx, []*rebuilder{r}); err != nil {
		return err
	}
	pos, done := r.pos, r.done
	for {
		batch, err := r.feed.ReadAll(ctx, pos, r.cfg.BatchSize)
		if err != nil {
			return fmt.Errorf("rebuild %s: read the feed after %s: %w", r.p.Name, pos, err)
		}
		if len(batch) > 0 {
			if err := r.apply(ctx, tx, batch); err != nil {
				return err
			}
			pos = batch[len(batch)-1].Position
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
	return nil
}

// apply runs the projection over batch, which must come after r.pos, in
// tx, as the live handler does. An error an event caused is an *EventError.
func (r *rebuilder) apply(ctx context.Context, tx pgx.Tx, batch []eventstore.RecordedEvent) error {
	err := applyEvents(ctx, tx, false, r.cfg.Opener, []Projection{r.p}, batch, r.skips, nil)
	var ee *eventError
	if errors.As(err, &ee) {
		err = newEventError(r.p.Name, batch[ee.index], ee.err)
	}
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", r.p.Name, err)
	}
	return nil
}

// setSearchPath puts the rebuild schemas of rs first on the search_path for
// the rest of tx, so unqualified names resolve to their copies (no two
// projections share a table name), and sets tx up as the handler's are: a
// relaxed commit (a crash loses the rebuild anyway) and plans made for
// each statement's arguments.
func setSearchPath(ctx context.Context, tx pgx.Tx, rs []*rebuilder) error {
	schemas := make([]string, 0, len(rs)+1)
	for _, r := range rs {
		schemas = append(schemas, ident(r.schema))
	}
	if rs[0].path != "" {
		schemas = append(schemas, rs[0].path)
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('search_path', $1, true)`, strings.Join(schemas, ", "))
	b.Queue(beginSQL)
	b.Queue(planSQL)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("rebuild: set search_path: %w", err)
	}
	return nil
}

// searchRebuildFirst puts r's rebuild schema first on the search_path for
// the rest of tx.
func (r *rebuilder) searchRebuildFirst(ctx context.Context, tx pgx.Tx) error {
	return setSearchPath(ctx, tx, []*rebuilder{r})
}
