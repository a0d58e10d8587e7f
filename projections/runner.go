package projections

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// Feed is the part of the event store the runner reads: the global feed,
// followed from a position.
type Feed = feed.Feed

// Backoff bounds between redeliveries of an event a projection failed. A
// projection that keeps failing on the same event waits longer each time,
// up to the cap.
const (
	defaultMinBackoff = 100 * time.Millisecond
	defaultMaxBackoff = 30 * time.Second
)

// DefaultMaxBatch is the most events a projection applies in one
// transaction while it follows the feed: enough to catch up fast, few
// enough that a batch's rows stay small in memory and its transaction
// short (a PostgreSQL feed holds back events committed after an open
// transaction began, so long ones delay every reader).
const DefaultMaxBatch = 500

// Runner keeps projections up to date with the feed: a watermill router
// with one Handler per projection, each on its own subscription of the
// feed from its own checkpoint, given batches of up to DefaultMaxBatch
// events. The application runs its projections on its own router, beside
// its other consumers; Runner is the router of projections alone, for
// tools and tests.
type Runner struct {
	pool       *pgxpool.Pool
	feed       Feed
	log        zerolog.Logger
	ps         []Projection
	open       Opener
	minBackoff time.Duration
	maxBackoff time.Duration
}

// NewRunner returns a runner of the projections ps over feed, writing to the
// database behind pool.
func NewRunner(pool *pgxpool.Pool, feed Feed, log zerolog.Logger, ps ...Projection) *Runner {
	return &Runner{pool: pool, feed: feed, log: log, ps: ps,
		minBackoff: defaultMinBackoff, maxBackoff: defaultMaxBackoff}
}

// SetOpener makes the runner's handlers open each batch with o (see
// WithOpener). Call it before Run.
func (r *Runner) SetOpener(o Opener) { r.open = o }

// CheckNames returns an error when a projection of ps has an empty name or
// the name of another.
func CheckNames(ps ...Projection) error {
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		if p.Name == "" || seen[p.Name] {
			return fmt.Errorf("projection name %q is empty or repeated", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// Run follows the feed for every projection concurrently until ctx ends, and
// then returns nil. An event a projection fails on (a reducer error, a lost
// database) is logged and sent again after a capped backoff, for as long as
// it fails: a projection never skips an event, and the others carry on. Run
// returns an error at once only when the projections are misconfigured (an
// empty or repeated name) or the router cannot start. Call it once per
// Runner.
func (r *Runner) Run(ctx context.Context) error {
	if err := CheckNames(r.ps...); err != nil {
		return err
	}
	sub := feed.NewSubscriber(r.feed, nil, feed.SubscriberConfig{
		SelfCheckpointed: func(string) feed.CheckpointReader { return StoredCheckpoints{Pool: r.pool} },
		MaxBatch:         func(string) int { return DefaultMaxBatch },
		NackBackoff:      r.minBackoff, MaxNackBackoff: r.maxBackoff,
	}, r.log)
	defer sub.Close()
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, feed.Logger(r.log))
	if err != nil {
		return fmt.Errorf("projections router: %w", err)
	}
	router.AddMiddleware(middleware.Recoverer)
	for _, p := range r.ps {
		router.AddConsumerHandler(p.Name, p.Name, sub, NewHandler(r.pool, p, r.log, WithOpener(r.open)).Handle)
	}
	if err := router.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("projections router: %w", err)
	}
	return nil
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
