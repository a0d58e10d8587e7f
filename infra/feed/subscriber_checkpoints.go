package feed

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
)

// PGCheckpoints keeps consumers' checkpoints in the consumer_checkpoints
// table, for the consumers whose checkpoint the Subscriber saves on Ack.
// It is safe for concurrent use.
type PGCheckpoints struct {
	pool *pgxpool.Pool
}

var _ Checkpoints = (*PGCheckpoints)(nil)

// NewPGCheckpoints returns the checkpoints kept in the database behind pool.
func NewPGCheckpoints(pool *pgxpool.Pool) *PGCheckpoints { return &PGCheckpoints{pool: pool} }

// Load returns consumer's checkpoint, eventstore.Start when it has none.
func (c *PGCheckpoints) Load(ctx context.Context, consumer string) (eventstore.Position, error) {
	var commit, prepare int64
	err := c.pool.QueryRow(ctx, `SELECT commit_position, prepare_position
		FROM consumer_checkpoints WHERE name = $1`, consumer).Scan(&commit, &prepare)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Start, nil
	}
	if err != nil {
		return eventstore.Start, fmt.Errorf("read checkpoint of %s: %w", consumer, err)
	}
	return eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}, nil
}

// Save moves consumer's checkpoint to pos; it never moves one backwards,
// so two subscriptions of one consumer cannot undo each other's progress.
func (c *PGCheckpoints) Save(ctx context.Context, consumer string, pos eventstore.Position) error {
	b := &pgx.Batch{}
	if err := QueueSave(b, consumer, pos); err != nil {
		return err
	}
	if err := c.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", consumer, err)
	}
	return nil
}

// QueueSave queues onto b the statement of Save, for a caller that saves
// the checkpoint in a transaction with more (a check of its lease).
func QueueSave(b *pgx.Batch, consumer string, pos eventstore.Position) error {
	if pos.Commit > math.MaxInt64 || pos.Prepare > math.MaxInt64 {
		return fmt.Errorf("position %s does not fit a checkpoint", pos)
	}
	b.Queue(`INSERT INTO consumer_checkpoints AS c (name, commit_position, prepare_position)
		VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET commit_position = EXCLUDED.commit_position,
			prepare_position = EXCLUDED.prepare_position, updated_at = now()
		WHERE (c.commit_position, c.prepare_position) < (EXCLUDED.commit_position, EXCLUDED.prepare_position)`,
		consumer, int64(pos.Commit), int64(pos.Prepare))
	return nil
}
