package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// Handler applies one projection to the feed's messages as a watermill
// handler: a batch message (feed.ToBatchMessage) in one transaction, or a
// message of one event (feed.ToMessage).
//
// The transaction locks the projection's checkpoint row FOR UPDATE, passes
// over the events at or before the checkpoint (applied already, by an
// earlier delivery, another instance or a rebuild's switch-over), opens and
// decodes the rest, applies them in feed order, moves the checkpoint to the
// last and commits: at-least-once delivery, an exactly-once effect. A
// checkpoint found ahead of the last position this handler knew was moved
// by another runner (a rebuild): the events up to it are skipped, the ones
// after it applied, so nothing is applied twice or skipped.
//
// When one event of a batch fails, the events before it are applied and
// committed without it before Handle returns the error: the checkpoint, and
// the lag, show where the projection is stuck, and the redelivery starts
// at the failing event. The error is then an *EventError naming the event;
// StopOnPoison stops the projection there when the event itself is at fault.
//
// Events an operator skipped for this projection (projection_skips, see
// SkipEvent) are passed over as if it did not handle them: the checkpoint
// moves past them and nothing else happens.
//
// Handle is safe for concurrent use, though a subscription calls it for one
// message at a time.
type Handler struct {
	pool  *pgxpool.Pool
	p     Projection
	open  Opener
	fence Fence
	log   zerolog.Logger

	mu    sync.Mutex
	last  eventstore.Position // the checkpoint as this handler last knew it
	known bool
	// fails counts the calls in a row that failed on one event.
	fails failStreak
}

// HandlerOption configures a Handler.
type HandlerOption func(*Handler)

// WithOpener makes the handler open every batch with o, inside the batch's
// transaction, before decoding it. Without it events are read as stored.
func WithOpener(o Opener) HandlerOption { return func(h *Handler) { h.open = o } }

// WithFence makes every transaction of the handler hold f first: it writes
// only while f says its instance leads the projection, and fails with an
// error wrapping ErrFenced once it does not. Without it the handler always
// writes.
func WithFence(f Fence) HandlerOption { return func(h *Handler) { h.fence = f } }

// Fence is the lease a handler's writes depend on when many instances share
// the projections (docs/ARCHITECTURE.md section 9).
type Fence interface {
	// Queue queues onto b, the first statements of a handler's
	// transaction, the check that the lease is still this instance's,
	// holding it until the transaction ends so that no other instance
	// takes it over meanwhile. b's results fail with an error wrapping
	// ErrFenced when the lease is gone.
	Queue(b *pgx.Batch)
}

// ErrFenced is the failure of a write by an instance that no longer leads
// the consumer: another one took it over, and goes on from the checkpoint.
var ErrFenced = errors.New("this instance no longer leads the consumer")

// NewHandler returns the handler of p writing to the database behind pool.
func NewHandler(pool *pgxpool.Pool, p Projection, log zerolog.Logger, opts ...HandlerOption) *Handler {
	h := &Handler{pool: pool, p: p, log: log.With().Str("projection", p.Name).Logger()}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Handle applies the events msg carries. It returns an error (the message
// is then Nacked and sent again) when msg is not a feed message, an event
// cannot be opened or decoded, a reducer fails or the database does; an
// *EventError when it can tell which event failed.
func (h *Handler) Handle(msg *message.Message) error {
	recs, err := feed.Events(msg)
	if err != nil {
		return err
	}
	ctx := msg.Context()
	err = h.apply(ctx, recs)
	if err == nil {
		h.failedOn("")
		return nil
	}
	if errors.Is(err, ErrFenced) {
		return err // the new leader applies the batch; nothing here may
	}
	if len(recs) == 1 {
		return h.pin(recs[0], err)
	}
	if i := failedAt(err); i >= 0 {
		if i > 0 {
			// The events before it applied once in this call already: they
			// are committed even while the subscription closes, a few
			// milliseconds' work, so the checkpoint stops right before the
			// failing event.
			if perr := h.apply(context.WithoutCancel(ctx), recs[:i]); perr != nil {
				return errors.Join(err, perr)
			}
		}
		return h.pin(recs[i], err)
	}
	if ctx.Err() != nil {
		return err
	}
	// A failure the batch cannot pin on an event (a write, the opener):
	// one event per transaction finds it, or gets past a passing fault.
	for i := range recs {
		if err := h.apply(ctx, recs[i:i+1]); err != nil {
			return h.pin(recs[i], err)
		}
	}
	h.failedOn("")
	return nil
}

// pin pins err on rec, counting the calls in a row that failed on it.
func (h *Handler) pin(rec eventstore.RecordedEvent, err error) *EventError {
	ee := newEventError(h.p.Name, rec, err)
	ee.Attempts = h.failedOn(rec.ID)
	return ee
}

// failedOn records that the last call failed on the event id ("": it
// succeeded) and returns how many calls in a row failed on it.
func (h *Handler) failedOn(id string) int { return h.fails.on(id) }

// failStreak counts the calls in a row that failed on one event. It is
// safe for concurrent use.
type failStreak struct {
	mu       sync.Mutex
	failing  string
	attempts int
}

// on records that the last call failed on id ("": it succeeded) and
// returns how many calls in a row failed on it.
func (f *failStreak) on(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" || id != f.failing {
		f.failing, f.attempts = id, 0
	}
	if id != "" {
		f.attempts++
	}
	return f.attempts
}

// beginSQL opens every transaction of a handler. synchronous_commit off
// lets the commit return before its WAL reaches the disk: a crash may lose
// the last few commits, but each loses its rows and its checkpoint
// together, so the events are applied again after the restart. It spares
// the wait for a flush per batch.
const beginSQL = `SET LOCAL synchronous_commit = off`

// planSQL makes the batch's statements planned for their arguments each
// time. A batch's loads join arrays of a few keys or of thousands to
// tables that grow from nothing during a rebuild; a plan cached for one
// size (a hash join over the whole table) is ruinous for the other.
const planSQL = `SET LOCAL plan_cache_mode = force_custom_plan`

// apply applies recs, consecutive events of the feed, in one transaction.
// An *eventError's index is into recs.
func (h *Handler) apply(ctx context.Context, recs []eventstore.RecordedEvent) error {
	lastPos := recs[len(recs)-1].Position
	if !h.handlesAny(recs) {
		return h.advance(ctx, lastPos)
	}
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", h.p.Name, err)
	}
	// Rollback after Commit does nothing; otherwise it discards the batch.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// One round trip: make sure the row exists, relax the commit, lock,
	// and read the events an operator skipped. A skip commits with the
	// release of the failure it answers, so the batch a released runner
	// applies next sees it.
	b := &pgx.Batch{}
	h.queueFence(b)
	b.Queue(`INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, h.p.Name)
	b.Queue(beginSQL)
	b.Queue(planSQL)
	var c, p int64
	b.Queue(`SELECT commit_position, prepare_position FROM projection_checkpoints WHERE name = $1 FOR UPDATE`,
		h.p.Name).QueryRow(func(row pgx.Row) error { return row.Scan(&c, &p) })
	skips := skipSet{}
	queueSkips(b, []string{h.p.Name}, skips)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("%s: lock checkpoint: %w", h.p.Name, err)
	}
	stored := fromDB(c, p)
	h.noticeMove(stored)
	skip := 0
	for skip < len(recs) && !stored.Less(recs[skip].Position) {
		skip++
	}
	if skip == len(recs) {
		return nil
	}
	pc, pp, err := toDB(lastPos)
	if err != nil {
		return err
	}
	err = applyEvents(ctx, tx, false, h.open, []Projection{h.p}, recs[skip:], skips, func(b *pgx.Batch) {
		b.Queue(sqlWriteCheckpoint, h.p.Name, pc, pp)
	})
	var ee *eventError
	if errors.As(err, &ee) {
		ee.index += skip
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", h.p.Name, err)
	}
	h.set(lastPos)
	return nil
}

// queueFence queues the fence's check first in b, when the handler has one.
func (h *Handler) queueFence(b *pgx.Batch) {
	if h.fence != nil {
		h.fence.Queue(b)
	}
}

// handlesAny reports whether p has a reducer for one of recs.
func (h *Handler) handlesAny(recs []eventstore.RecordedEvent) bool {
	for _, r := range recs {
		if _, ok := h.p.Reducers[r.Type]; ok {
			return true
		}
	}
	return false
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
	h.queueFence(b)
	b.Queue(beginSQL)
	var tag pgconn.CommandTag
	b.Queue(`INSERT INTO projection_checkpoints AS k (name, commit_position, prepare_position) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET commit_position = EXCLUDED.commit_position,
			prepare_position = EXCLUDED.prepare_position, updated_at = now()
		WHERE (k.commit_position, k.prepare_position) < (EXCLUDED.commit_position, EXCLUDED.prepare_position)`,
		h.p.Name, c, pr).Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("%s: advance checkpoint: %w", h.p.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", h.p.Name, err)
	}
	if tag.RowsAffected() == 0 {
		h.saw(pos) // the checkpoint is at pos or beyond
		return nil
	}
	h.set(pos)
	return nil
}

// saw records that the checkpoint is at or after pos, found when an
// advance to pos changed nothing; a checkpoint that moved past what this
// handler last knew was moved by another runner.
func (h *Handler) saw(pos eventstore.Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known && h.last.Less(pos) {
		h.log.Warn().Stringer("checkpoint", pos).Stringer("from", h.last).
			Msg("checkpoint moved by another runner; skipping the events up to it")
	}
	h.last, h.known = pos, true
}

// noticeMove logs a locked checkpoint found ahead of what this handler
// last knew: another runner moved it, and the handler goes on from it.
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

// sqlWriteCheckpoint moves the locked checkpoint row of $1 to ($2, $3).
const sqlWriteCheckpoint = `UPDATE projection_checkpoints
	SET commit_position = $2, prepare_position = $3, updated_at = now() WHERE name = $1`

// StoredCheckpoints reads projections' checkpoints for a feed.Subscriber:
// a projection's Handler writes its own, so the subscriber never saves it.
// It is safe for concurrent use.
type StoredCheckpoints struct{ Pool *pgxpool.Pool }

var _ feed.CheckpointReader = StoredCheckpoints{}

// Load returns the projection's checkpoint, eventstore.Start when it has none.
func (s StoredCheckpoints) Load(ctx context.Context, name string) (eventstore.Position, error) {
	return checkpoint(ctx, s.Pool, name)
}
