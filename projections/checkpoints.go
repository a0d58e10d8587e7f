package projections

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// Feed is the part of the event store the projections follow: the global
// feed, from a position.
type Feed = feed.Feed

// DefaultMaxBatch is the most events a projection applies in one
// transaction while it follows the feed: enough to catch up fast, few
// enough that a batch's rows stay small in memory and its transaction
// short (a PostgreSQL feed holds back events committed after an open
// transaction began, so long ones delay every reader).
const DefaultMaxBatch = 500

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
