package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// Handler applies one projection to the feed's messages (see feed.ToMessage)
// as a watermill handler, one transaction per event.
//
// The transaction locks the projection's checkpoint row FOR UPDATE, skips
// the event when the checkpoint is at or after it (applied already, by an
// earlier delivery, another instance or a rebuild's switch-over), applies
// it, moves the checkpoint to it and commits: at-least-once delivery, an
// exactly-once effect. A checkpoint found ahead of the last event this
// handler saw was moved by another runner (a rebuild): the events up to it
// are skipped, the ones after it applied, so nothing is applied twice or
// skipped.
//
// Handle is safe for concurrent use, though a subscription calls it for one
// event at a time.
type Handler struct {
	pool *pgxpool.Pool
	p    Projection
	log  zerolog.Logger

	mu    sync.Mutex
	last  eventstore.Position // the checkpoint as this handler last knew it
	known bool
}

// NewHandler returns the handler of p writing to the database behind pool.
func NewHandler(pool *pgxpool.Pool, p Projection, log zerolog.Logger) *Handler {
	return &Handler{pool: pool, p: p, log: log.With().Str("projection", p.Name).Logger()}
}

// Handle applies the event msg carries. It returns an error (the message is
// then Nacked and sent again) when msg is not a feed message, the event
// cannot be decoded, a reducer fails or the database does.
func (h *Handler) Handle(msg *message.Message) error {
	rec, err := feed.FromMessage(msg)
	if err != nil {
		return err
	}
	ctx := msg.Context()
	reduce, ok := h.p.Reducers[rec.Type]
	if !ok {
		return h.advance(ctx, rec.Position)
	}
	// Decoding before the transaction keeps the checkpoint's lock short.
	env, err := Decode(rec)
	if errors.Is(err, ErrForeignStream) {
		return h.advance(ctx, rec.Position)
	}
	if err != nil {
		return err
	}
	return h.apply(ctx, rec, func(tx pgx.Tx) error { return reduce(ctx, tx, env) })
}

// beginSQL opens every transaction of a handler. synchronous_commit off
// lets the commit return before its WAL reaches the disk: a crash may lose
// the last few commits, but each loses its rows and its checkpoint
// together, so the events are applied again after the restart. It spares
// the wait for a flush per event, which is most of an event's cost.
const beginSQL = `SET LOCAL synchronous_commit = off`

// apply runs reduce in the transaction that moves the checkpoint to rec.
func (h *Handler) apply(ctx context.Context, rec eventstore.RecordedEvent, reduce func(pgx.Tx) error) error {
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", h.p.Name, err)
	}
	// Rollback after Commit does nothing; otherwise it discards the event.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// One round trip: make sure the row exists, relax the commit, lock.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, h.p.Name)
	b.Queue(beginSQL)
	var c, p int64
	b.Queue(`SELECT commit_position, prepare_position FROM projection_checkpoints WHERE name = $1 FOR UPDATE`,
		h.p.Name).QueryRow(func(row pgx.Row) error { return row.Scan(&c, &p) })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("%s: lock checkpoint: %w", h.p.Name, err)
	}
	stored := fromDB(c, p)
	if !stored.Less(rec.Position) {
		h.saw(stored, rec.Position)
		return nil
	}
	h.noticeMove(stored)
	if err := reduce(tx); err != nil {
		return fmt.Errorf("apply %s %s at %s: %w", rec.Type, rec.ID, rec.Position, err)
	}
	if err := writeCheckpoint(ctx, tx, h.p.Name, rec.Position); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", h.p.Name, err)
	}
	h.set(rec.Position)
	return nil
}

// advance moves the checkpoint past an event the projection does not
// handle, so a reader waiting for a position gets there. One conditional
// UPDATE does it, never moving the checkpoint backwards; it finds no row
// to update when the checkpoint is there already.
func (h *Handler) advance(ctx context.Context, pos eventstore.Position) error {
	c, pr, err := toDB(pos)
	if err != nil {
		return err
	}
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", h.p.Name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	b := &pgx.Batch{}
	b.Queue(beginSQL)
	b.Queue(`INSERT INTO projection_checkpoints AS k (name, commit_position, prepare_position) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET commit_position = EXCLUDED.commit_position,
			prepare_position = EXCLUDED.prepare_position, updated_at = now()
		WHERE (k.commit_position, k.prepare_position) < (EXCLUDED.commit_position, EXCLUDED.prepare_position)`,
		h.p.Name, c, pr)
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return fmt.Errorf("%s: %w", h.p.Name, err)
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: advance checkpoint: %w", h.p.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", h.p.Name, err)
	}
	if tag.RowsAffected() == 0 {
		h.saw(pos, pos) // the checkpoint is at pos or beyond
		return nil
	}
	h.set(pos)
	return nil
}

// saw records that the checkpoint is at or after at, found while skipping
// the event at pos; a checkpoint that moved past what this handler last
// knew was moved by another runner.
func (h *Handler) saw(stored, pos eventstore.Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known && h.last.Less(pos) {
		h.log.Warn().Stringer("checkpoint", stored).Stringer("from", h.last).
			Msg("checkpoint moved by another runner; skipping the events up to it")
	}
	h.last, h.known = stored, true
}

// noticeMove logs a checkpoint found ahead of what this handler last knew
// though still before the event in hand.
func (h *Handler) noticeMove(stored eventstore.Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known && h.last.Less(stored) {
		h.log.Warn().Stringer("checkpoint", stored).Stringer("from", h.last).
			Msg("checkpoint moved by another runner; going on from it")
	}
	h.last, h.known = stored, true
}

func (h *Handler) set(pos eventstore.Position) {
	h.mu.Lock()
	h.last, h.known = pos, true
	h.mu.Unlock()
}

// writeCheckpoint moves the locked checkpoint row of name to pos.
func writeCheckpoint(ctx context.Context, tx pgx.Tx, name string, pos eventstore.Position) error {
	c, pr, err := toDB(pos)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE projection_checkpoints
		SET commit_position = $2, prepare_position = $3, updated_at = now() WHERE name = $1`, name, c, pr); err != nil {
		return fmt.Errorf("%s: write checkpoint: %w", name, err)
	}
	return nil
}

// StoredCheckpoints reads projections' checkpoints for a feed.Subscriber:
// a projection's Handler writes its own, so the subscriber never saves it.
// It is safe for concurrent use.
type StoredCheckpoints struct{ Pool *pgxpool.Pool }

var _ feed.CheckpointReader = StoredCheckpoints{}

// Load returns the projection's checkpoint, eventstore.Start when it has none.
func (s StoredCheckpoints) Load(ctx context.Context, name string) (eventstore.Position, error) {
	return checkpoint(ctx, s.Pool, name)
}
