package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
)

// ErrSubscriberClosed is returned by Subscribe after Close.
var ErrSubscriberClosed = errors.New("feed subscriber closed")

// Feed is the part of the event store a Subscriber follows.
type Feed interface {
	SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error)
}

// CheckpointReader reads a consumer's checkpoint: the position of the last
// event it is done with, eventstore.Start when it has none.
type CheckpointReader interface {
	Load(ctx context.Context, consumer string) (eventstore.Position, error)
}

// Checkpoints keeps the checkpoints the Subscriber saves itself on Ack.
type Checkpoints interface {
	CheckpointReader
	Save(ctx context.Context, consumer string, pos eventstore.Position) error
}

// SubscriberConfig tunes a Subscriber. The zero value is usable once
// Checkpoints or SelfCheckpointed answers for every topic subscribed.
type SubscriberConfig struct {
	// Checkpoints loads, and saves on each Ack, the checkpoint of every
	// topic SelfCheckpointed does not claim.
	Checkpoints Checkpoints
	// SelfCheckpointed returns, for the topic of a consumer that writes its
	// own checkpoint in the transaction that handles an event (a
	// projector), where to read that checkpoint; nil for the others. The
	// Subscriber never saves such a checkpoint: a save after the commit
	// would only add a write, and one before it could skip an event.
	SelfCheckpointed func(topic string) CheckpointReader
	// Filter, when set, says whether an event is for topic; events it
	// refuses are passed over without a message. Nil delivers every event.
	Filter func(topic string, rec eventstore.RecordedEvent) bool
	// MaxBatch, when set, returns for topic the most events one message
	// may carry. Above one, the topic's consumer gets batch messages
	// (ToBatchMessage): the events the store has ready, consecutive in the
	// feed (less those Filter refuses), up to that many per message, so a
	// consumer that applies them together pays once per batch. A batch is
	// never held back to fill up: what one read of the feed returns goes
	// out at once. Nil, or zero or one, delivers one event per message
	// (ToMessage).
	MaxBatch func(topic string) int
	// NackBackoff is the wait before a Nacked message is sent again; it
	// doubles with each Nack of the same event up to MaxNackBackoff.
	// Zero means 100ms.
	NackBackoff time.Duration
	// MaxNackBackoff caps the wait between redeliveries. Zero means 10s.
	MaxNackBackoff time.Duration
	// ResubscribeBackoff is the wait before following the feed again after
	// the store failed a read. Zero means 1s.
	ResubscribeBackoff time.Duration
}

func (c *SubscriberConfig) setDefaults() {
	if c.NackBackoff <= 0 {
		c.NackBackoff = 100 * time.Millisecond
	}
	if c.MaxNackBackoff < c.NackBackoff {
		c.MaxNackBackoff = max(10*time.Second, c.NackBackoff)
	}
	if c.ResubscribeBackoff <= 0 {
		c.ResubscribeBackoff = time.Second
	}
}

// Subscriber is a watermill Subscriber over the event store's global feed.
//
// A topic names a consumer: its checkpoint, and (through Config.Filter)
// which events it reads; without a filter every topic reads the whole feed.
// Subscribe loads the consumer's checkpoint and follows the feed from there,
// catch-up then live, one message per event in feed order (or per batch of
// events, see SubscriberConfig.MaxBatch). The next message is sent only once
// the last one is Acked; a Nacked one is sent again, as a fresh copy of the
// same events, after a backoff. Delivery is at least once: a crash between a
// handler's work and the checkpoint's save sends the events again.
//
// It is safe for concurrent use. Close ends every subscription and closes
// their channels.
type Subscriber struct {
	feed Feed
	cfg  SubscriberConfig
	log  zerolog.Logger

	closing context.Context
	close   context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex // guards wg.Add against Close's wg.Wait
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a Subscriber following store, saving checkpoints
// in checkpoints (which may be nil when cfg.SelfCheckpointed claims every
// topic; it overrides cfg.Checkpoints when not nil).
func NewSubscriber(store Feed, checkpoints Checkpoints, cfg SubscriberConfig, log zerolog.Logger) *Subscriber {
	cfg.setDefaults()
	if checkpoints != nil {
		cfg.Checkpoints = checkpoints
	}
	closing, cancel := context.WithCancel(context.Background())
	return &Subscriber{feed: store, cfg: cfg, log: log, closing: closing, close: cancel}
}

// Subscribe follows the feed for the consumer named topic from its
// checkpoint. The channel closes when ctx ends or the Subscriber closes. It
// returns ErrSubscriberClosed after Close, and the error of reading the
// checkpoint or of subscribing.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	reader, save := s.policy(topic)
	if reader == nil {
		return nil, fmt.Errorf("subscribe %s: no checkpoint store for this topic", topic)
	}
	if s.closing.Err() != nil {
		return nil, ErrSubscriberClosed
	}
	from, err := reader.Load(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: load checkpoint: %w", topic, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.closing, cancel)
	sub, err := s.feed.SubscribeAll(runCtx, from)
	if err != nil {
		stop()
		cancel()
		return nil, fmt.Errorf("subscribe %s after %s: %w", topic, from, err)
	}
	// Close waits for the goroutines it knows of: none may start after it.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Err() != nil {
		_ = sub.Close()
		stop()
		cancel()
		return nil, ErrSubscriberClosed
	}
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer cancel()
		defer stop()
		c := &consumer{s: s, topic: topic, out: out, after: from, batch: 1, log: s.log.With().Str("consumer", topic).Logger()}
		if s.cfg.MaxBatch != nil {
			c.batch = max(1, s.cfg.MaxBatch(topic))
		}
		if save {
			c.save = s.cfg.Checkpoints
		}
		c.run(runCtx, sub)
	}()
	return out, nil
}

// policy says where topic's checkpoint is read and whether it is saved on Ack.
func (s *Subscriber) policy(topic string) (CheckpointReader, bool) {
	if s.cfg.SelfCheckpointed != nil {
		if r := s.cfg.SelfCheckpointed(topic); r != nil {
			return r, false
		}
	}
	if s.cfg.Checkpoints == nil {
		return nil, false
	}
	return s.cfg.Checkpoints, true
}

// Close ends every subscription, waits until their channels are closed and
// their goroutines gone, and returns nil. It is safe to call more than once.
// A message handed out and not yet acknowledged is abandoned: its context
// is cancelled and it is sent again to the consumer's next subscription.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.close()
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// consumer is one subscription's state, owned by its goroutine.
type consumer struct {
	s     *Subscriber
	topic string
	out   chan<- *message.Message
	save  Checkpoints // nil when the consumer saves its own
	after eventstore.Position
	batch int // the most events per message; 1: ToMessage's format
	log   zerolog.Logger
}

// run delivers the feed until ctx ends, following it again from the last
// acknowledged event when the store fails.
func (c *consumer) run(ctx context.Context, sub eventstore.Subscription) {
	for {
		err := c.follow(ctx, sub)
		_ = sub.Close()
		if ctx.Err() != nil {
			return
		}
		c.log.Warn().Err(err).Stringer("after", c.after).Msg("feed read failed; following it again")
		for {
			if !sleep(ctx, c.s.cfg.ResubscribeBackoff) {
				return
			}
			if sub, err = c.s.feed.SubscribeAll(ctx, c.after); err == nil {
				break
			}
			c.log.Warn().Err(err).Msg("cannot follow the feed")
		}
	}
}

// follow delivers each batch of sub; it returns the first read error, or
// nil when ctx ended.
func (c *consumer) follow(ctx context.Context, sub eventstore.Subscription) error {
	for {
		batch, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		// A new slice: the store may share batch's array with others.
		kept := make([]eventstore.RecordedEvent, 0, len(batch))
		for _, rec := range batch {
			if !c.after.Less(rec.Position) {
				continue // a resubscription's overlap
			}
			if c.s.cfg.Filter != nil && !c.s.cfg.Filter(c.topic, rec) {
				continue
			}
			kept = append(kept, rec)
		}
		for len(kept) > 0 {
			n := min(len(kept), c.batch)
			if !c.deliver(ctx, kept[:n]) {
				return nil
			}
			last := kept[n-1].Position
			kept = kept[n:]
			c.after = last
			if c.save != nil {
				// A save that fails only means a redelivery after a
				// restart, which at-least-once allows; the next Ack
				// saves a later position anyway.
				if err := c.save.Save(context.WithoutCancel(ctx), c.topic, last); err != nil {
					c.log.Warn().Err(err).Stringer("position", last).Msg("cannot save checkpoint")
				}
			}
		}
	}
}

// deliver sends recs, as one message or one event's, until it is Acked, and
// reports false when ctx ended first.
func (c *consumer) deliver(ctx context.Context, recs []eventstore.RecordedEvent) bool {
	backoff := c.s.cfg.NackBackoff
	for {
		var msg *message.Message
		if c.batch > 1 {
			msg = ToBatchMessage(recs)
		} else {
			msg = newMessage(recs[0])
		}
		msgCtx, cancel := context.WithCancel(ctx)
		msg.SetContext(msgCtx)
		select {
		case c.out <- msg:
		case <-ctx.Done():
			cancel()
			return false
		}
		select {
		case <-msg.Acked():
			cancel()
			return true
		case <-msg.Nacked():
			cancel()
		case <-ctx.Done():
			cancel()
			// An Ack racing the close still counts: select picks at random
			// among ready cases, and an acked event left unsaved would be
			// delivered again after a restart for no reason.
			select {
			case <-msg.Acked():
				return true
			default:
				return false
			}
		}
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, c.s.cfg.MaxNackBackoff)
	}
}

// newMessage is ToMessage plus the event metadata's string fields lifted
// into the message's metadata (correlation_id among them, which watermill's
// CorrelationID middleware reads). The roster_ keys are never overwritten.
func newMessage(rec eventstore.RecordedEvent) *message.Message {
	msg := ToMessage(rec)
	if len(rec.Metadata) == 0 || rec.Metadata[0] != '{' {
		return msg
	}
	var fields map[string]any
	if json.Unmarshal(rec.Metadata, &fields) != nil {
		return msg
	}
	for k, v := range fields {
		if s, ok := v.(string); ok && msg.Metadata.Get(k) == "" {
			msg.Metadata.Set(k, s)
		}
	}
	return msg
}

// sleep waits d, and reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
