package consumers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/projections"
)

// clockBase anchors the terms' deadlines to the monotonic clock, so a
// change of the wall clock cannot stretch a lease.
var clockBase = time.Now()

// term is one leadership of one consumer by this instance: the lease's
// epoch, the handler that runs while it lasts, and the fence of its writes.
//
// The fence is twofold. Locally, the handler takes no message once the
// lease may have run out (its last renewal started more than a TTL ago),
// which stops a stalled leader that wakes up before it touches anything.
// In the database, every transaction that writes a checkpoint first checks
// that the lease row still names this instance and epoch and has not run
// out, and holds it FOR KEY SHARE until it commits: a takeover locks the
// row FOR UPDATE SKIP LOCKED, so it comes only after that commit, and any
// write after it finds another holder and fails with projections.ErrFenced.
type term struct {
	consumer string
	holder   string
	epoch    int64
	ttl      time.Duration
	since    time.Time
	// projection is the consumer's projection, for the group; nil for a
	// consumer that is none.
	projection *projections.Projection

	// hmu guards handler, the term's own handler (nil while a projection
	// runs in the group), and ending, set once end began: no handler of
	// its own starts after it.
	hmu     sync.Mutex
	handler *message.Handler
	ending  bool
	// alone counts the times the projection left the group, naming its
	// handlers.
	alone int
	// over is set once the term ended, for the group.
	over atomic.Bool

	// deadline is when the lease may run out, as time since clockBase.
	deadline atomic.Int64

	// mu is held shared by every delivery in progress and exclusively by
	// end, which so waits for them.
	mu    sync.RWMutex
	ended bool

	// stopWork ends the work beside the handler, if any; workDone is
	// closed when it has returned.
	stopWork context.CancelFunc
	workDone chan struct{}
}

// startWork runs work beside the handler until the term ends.
func (t *term) startWork(parent context.Context, work func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(parent)
	t.stopWork, t.workDone = cancel, make(chan struct{})
	go func() {
		defer close(t.workDone)
		work(ctx)
	}()
}

// renewed records a renewal of the lease that was sent at start.
func (t *term) renewed(start time.Time) {
	t.deadline.Store(int64(start.Sub(clockBase) + t.ttl))
}

// valid reports whether the lease cannot have run out yet.
func (t *term) valid() bool { return int64(time.Since(clockBase)) < t.deadline.Load() }

// fenced is the error of a write refused by the fence.
func (t *term) fenced() error {
	return fmt.Errorf("%s, lease epoch %d: %w", t.consumer, t.epoch, projections.ErrFenced)
}

// guard is the outermost middleware of the term's handler: it refuses a
// message once the term ended or its lease may have run out, and holds the
// term open while a message is handled.
func (t *term) guard(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		t.mu.RLock()
		defer t.mu.RUnlock()
		if t.ended || !t.valid() {
			return nil, t.fenced()
		}
		return h(msg)
	}
}

// check is guard's test without the hold, for each attempt inside the
// retries of a consumer whose writes the database cannot fence (the mail
// ledger, the broker): a stalled leader stops there at least.
func (t *term) check(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		if !t.valid() {
			return nil, t.fenced()
		}
		return h(msg)
	}
}

// Queue implements projections.Fence. idle_in_transaction_session_timeout
// ends the transaction of a leader that stalls inside it, so the row locks
// it holds (the lease's, the checkpoint's) cannot hold a takeover up for
// longer than a lease.
func (t *term) Queue(b *pgx.Batch) {
	t.queueCheck(b, func(held bool) error {
		if !held {
			return t.fenced()
		}
		return nil
	})
}

// QueueHeld implements projections.GroupFence: Queue's check, whose
// failure tells the group that this member drops out instead of failing
// the others' transaction.
func (t *term) QueueHeld(b *pgx.Batch, held *bool) {
	t.queueCheck(b, func(h bool) error { *held = h; return nil })
}

// queueCheck queues the lease's check, holding its row, and gives found
// whether the lease is still this term's; found's error is the check's.
func (t *term) queueCheck(b *pgx.Batch, found func(held bool) error) {
	b.Queue(fmt.Sprintf("SET LOCAL idle_in_transaction_session_timeout = %d", max(t.ttl.Milliseconds(), 1)))
	b.Queue(`SELECT 1 FROM consumer_leases
		WHERE consumer = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp() FOR KEY SHARE`,
		t.consumer, t.holder, t.epoch).QueryRow(func(row pgx.Row) error {
		var one int
		switch err := row.Scan(&one); {
		case err == nil:
			return found(true)
		case errors.Is(err, pgx.ErrNoRows):
			return found(false)
		default:
			return err
		}
	})
}

var (
	_ projections.Fence      = (*term)(nil)
	_ projections.GroupFence = (*term)(nil)
)

// end stops the term's handler and waits until no delivery is in progress,
// the group's included; a message after it is refused.
func (t *term) end() {
	if t.stopWork != nil {
		t.stopWork()
		<-t.workDone
	}
	t.hmu.Lock()
	t.ending = true
	h := t.handler
	t.hmu.Unlock()
	if h != nil {
		h.Stop()
		<-h.Stopped()
	}
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
	t.over.Store(true)
}

// fencedCheckpoints are the checkpoints the subscriber saves on Ack (the
// mail consumer's, the broker forwarder's), saved only under the lease of
// the term in progress.
type fencedCheckpoints struct {
	c  *Consumers
	pg *feed.PGCheckpoints
}

func (f fencedCheckpoints) Load(ctx context.Context, consumer string) (eventstore.Position, error) {
	return f.pg.Load(ctx, consumer)
}

func (f fencedCheckpoints) Save(ctx context.Context, consumer string, pos eventstore.Position) error {
	f.c.mu.Lock()
	t := f.c.terms[consumer]
	f.c.mu.Unlock()
	if t == nil {
		return fmt.Errorf("%s: %w", consumer, projections.ErrFenced)
	}
	if !t.valid() {
		return t.fenced()
	}
	tx, err := f.c.cfg.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", consumer, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	b := &pgx.Batch{}
	t.Queue(b)
	if err := feed.QueueSave(b, consumer, pos); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", consumer, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", consumer, err)
	}
	return nil
}

// resubscribing is the subscriber of a term's handler: the router
// subscribes once, when the term starts, and a failure then (the
// checkpoint or the feed cannot be read) is tried again after a pause
// until the term ends, rather than leave the handler without messages.
type resubscribing struct {
	sub     message.Subscriber
	backoff time.Duration
	log     func(error)
}

func (r resubscribing) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for {
			in, err := r.sub.Subscribe(ctx, topic)
			if err == nil {
				for msg := range in {
					select {
					case out <- msg:
					case <-ctx.Done():
						return
					}
				}
				return
			}
			r.log(err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.backoff):
			}
		}
	}()
	return out, nil
}

func (resubscribing) Close() error { return nil }
