package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Failure is where a projection stopped: the event it could not apply,
// and why (see IsPoison). It stays until an operator skips the event
// (SkipEvent) or retries (Retry), or the projection gets past it.
type Failure struct {
	Projection string
	EventID    string
	StreamID   string
	EventType  string
	Position   eventstore.Position
	Error      string
	// Attempts is how many times the projection tried the event, on every
	// instance, before and since it stopped.
	Attempts      int
	FirstFailedAt time.Time
	LastFailedAt  time.Time
	// ID is the failure's row in projection_failures.
	ID int64
}

// Summary says in one line where and why the projection stopped.
func (f Failure) Summary() string {
	return fmt.Sprintf("stopped at event %s (%s in %s at %s) since %s after %d attempts: %s", f.EventID, f.EventType,
		f.StreamID, f.Position, f.FirstFailedAt.UTC().Format(time.RFC3339), f.Attempts, f.Error)
}

// Bounds of the text a failure keeps.
const (
	maxErrorBytes = 2000
	maxFieldBytes = 500
)

// sqlOpenFailures selects the failures that hold their projection now:
// open, and the projection's checkpoint short of the event (a projection
// that got past it otherwise, by a fixed release or a rebuild, is not held).
const sqlOpenFailures = `SELECT f.id, f.projection, f.event_id, f.stream_id, f.event_type, f.commit_position, f.prepare_position,
		f.error, f.attempts, f.first_failed_at, f.last_failed_at
	FROM projection_failures f LEFT JOIN projection_checkpoints c ON c.name = f.projection
	WHERE f.resolved_at IS NULL
		AND (c.name IS NULL OR (c.commit_position, c.prepare_position) < (f.commit_position, f.prepare_position))`

// Stopped returns the projections stopped now, by name. It is safe for
// concurrent use; it returns the database's error.
func Stopped(ctx context.Context, pool *pgxpool.Pool) (map[string]Failure, error) {
	rows, err := pool.Query(ctx, sqlOpenFailures)
	if err != nil {
		return nil, fmt.Errorf("read projection failures: %w", err)
	}
	out := map[string]Failure{}
	var (
		f    Failure
		c, p int64
	)
	_, err = pgx.ForEachRow(rows, []any{&f.ID, &f.Projection, &f.EventID, &f.StreamID, &f.EventType, &c, &p,
		&f.Error, &f.Attempts, &f.FirstFailedAt, &f.LastFailedAt}, func() error {
		f.Position = fromDB(c, p)
		f.FirstFailedAt, f.LastFailedAt = f.FirstFailedAt.UTC(), f.LastFailedAt.UTC()
		out[f.Projection] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read projection failures: %w", err)
	}
	return out, nil
}

// recordFailure makes ee the open failure of its projection, adding
// attempts to it when it is open already (another instance, or this one
// before a restart, stopped at the same event), and returns its id. An
// open failure at another event is resolved as passed: the projection got
// beyond it.
func recordFailure(ctx context.Context, pool *pgxpool.Pool, ee *EventError, attempts int) (int64, error) {
	c, p, err := toDB(ee.Position)
	if err != nil {
		return 0, err
	}
	var id int64
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE projection_failures SET resolved_at = now(), resolution = 'passed'
			WHERE projection = $1 AND resolved_at IS NULL AND event_id <> $2`, ee.Projection, storable(ee.EventID, maxFieldBytes)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO projection_failures AS f
			(projection, event_id, stream_id, event_type, commit_position, prepare_position, error, attempts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (projection) WHERE resolved_at IS NULL DO UPDATE
			SET attempts = f.attempts + EXCLUDED.attempts, error = EXCLUDED.error, last_failed_at = now()
			RETURNING id`,
			ee.Projection, storable(ee.EventID, maxFieldBytes), storable(ee.StreamID, maxFieldBytes), storable(ee.EventType, maxFieldBytes),
			c, p, storable(ee.Err.Error(), maxErrorBytes), max(attempts, 1)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("record the failure of %s at event %s: %w", ee.Projection, ee.EventID, err)
	}
	return id, nil
}

// released reports whether the failure id no longer holds its projection:
// it was resolved (a skip, a retry), or the checkpoint moved past its
// event (a rebuild switched over, another instance got past it).
func released(ctx context.Context, pool *pgxpool.Pool, id int64) (bool, error) {
	var held bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM (`+sqlOpenFailures+`) o WHERE o.id = $1)`, id).Scan(&held)
	if err != nil {
		return false, fmt.Errorf("read projection failure %d: %w", id, err)
	}
	return !held, nil
}

// resolveApplied closes the failure id, if still open, as got past.
func resolveApplied(ctx context.Context, pool *pgxpool.Pool, id int64) error {
	_, err := pool.Exec(ctx, `UPDATE projection_failures SET resolved_at = now(), resolution = 'applied'
		WHERE id = $1 AND resolved_at IS NULL`, id)
	return err
}

// queueSkips queues on b the query of the events skipped for the
// projections named, adding each to into. They are few (each is an
// operator's decision), so all of them are read, which costs less than
// sending the batch's IDs to match.
func queueSkips(b *pgx.Batch, names []string, into skipSet) {
	b.Queue(`SELECT projection, event_id FROM projection_skips WHERE projection = ANY($1)`, names).
		Query(func(rows pgx.Rows) error {
			var name, id string
			_, err := pgx.ForEachRow(rows, []any{&name, &id}, func() error {
				into.add(name, id)
				return nil
			})
			return err
		})
}

// loadSkips returns every event skipped for the projections named.
func loadSkips(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, names []string) (skipSet, error) {
	rows, err := q.Query(ctx, `SELECT projection, event_id FROM projection_skips WHERE projection = ANY($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("read skipped events: %w", err)
	}
	out := skipSet{}
	var name, id string
	_, err = pgx.ForEachRow(rows, []any{&name, &id}, func() error {
		out.add(name, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read skipped events: %w", err)
	}
	return out, nil
}
