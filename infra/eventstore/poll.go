package eventstore

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is returned by a subscription's Next once Close has been called.
var ErrClosed = errors.New("subscription closed")

// FeedReader reads the global feed. Every Store is one.
type FeedReader interface {
	ReadAll(ctx context.Context, after Position, limit int) ([]RecordedEvent, error)
}

// DefaultBatchSize is how many events a PollingSubscription reads at once
// when PollConfig.BatchSize is zero.
const DefaultBatchSize = 500

// PollConfig tunes a PollingSubscription.
type PollConfig struct {
	// BatchSize is the most events one Next returns. Zero means
	// DefaultBatchSize.
	BatchSize int
	// MinBackoff is how long Next waits for a wake-up after a read that
	// found nothing before it reads again anyway. Zero means Next waits for a
	// wake-up only, which suits a store whose wake-ups are never early or
	// lost (the memory adapter).
	MinBackoff time.Duration
	// MaxBackoff caps the wait, which doubles after each empty read and
	// falls back to MinBackoff after a wake-up or a read that found events.
	// Zero means MinBackoff.
	MaxBackoff time.Duration
}

// PollingSubscription is a Subscription built on ReadAll: it reads the feed in
// batches, and when it has caught up it waits for a wake-up from the store,
// a backoff timer, the caller's context or Close before it reads again.
// Because every delivery comes from ReadAll, it inherits ReadAll's promise
// never to skip an event that commits late.
//
// Close may be called from any goroutine; Next must not be called from two
// goroutines at once.
type PollingSubscription struct {
	feed    FeedReader
	cfg     PollConfig
	wake    <-chan struct{}
	after   Position
	backoff time.Duration

	closed    context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	onClose   func() error
	closeErr  error
}

var _ Subscription = (*PollingSubscription)(nil)

// NewPollingSubscription follows feed from after. A receive on wake means new
// events may be readable; the store should send without blocking on a
// channel with a buffer of one, so that a wake-up is never lost while Next
// is reading. wake may be nil when the backoff alone drives reads. onClose,
// when not nil, runs once on the first Close and its error is Close's.
func NewPollingSubscription(feed FeedReader, after Position, wake <-chan struct{}, cfg PollConfig, onClose func() error) *PollingSubscription {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	closed, cancel := context.WithCancel(context.Background())
	return &PollingSubscription{
		feed:    feed,
		cfg:     cfg,
		wake:    wake,
		after:   after,
		backoff: cfg.MinBackoff,
		closed:  closed,
		cancel:  cancel,
		onClose: onClose,
	}
}

// Next returns the next batch of events after the last one delivered. It
// blocks until there is at least one, and returns ctx's error when ctx ends
// first, ErrClosed after Close, or the store's read error.
func (s *PollingSubscription) Next(ctx context.Context) ([]RecordedEvent, error) {
	if s.closed.Err() != nil {
		return nil, ErrClosed
	}
	// Close must interrupt a Next that is waiting or reading.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.closed, cancel)
	defer stop()

	for {
		events, err := s.feed.ReadAll(ctx, s.after, s.cfg.BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return nil, s.ctxErr(ctx)
			}
			return nil, err
		}
		if len(events) > 0 {
			s.after = events[len(events)-1].Position
			s.backoff = s.cfg.MinBackoff
			return events, nil
		}
		if err := s.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// wait blocks until a wake-up, the backoff timer or the end of ctx.
func (s *PollingSubscription) wait(ctx context.Context) error {
	var timeout <-chan time.Time
	if s.backoff > 0 {
		t := time.NewTimer(s.backoff)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
		return s.ctxErr(ctx)
	case <-s.wake:
		s.backoff = s.cfg.MinBackoff
	case <-timeout:
		s.backoff = min(2*s.backoff, s.cfg.MaxBackoff)
	}
	return nil
}

func (s *PollingSubscription) ctxErr(ctx context.Context) error {
	if s.closed.Err() != nil {
		return ErrClosed
	}
	return ctx.Err()
}

// Position is the position of the last event Next delivered, or the position
// the subscription started after. Call it from the goroutine that calls Next.
func (s *PollingSubscription) Position() Position { return s.after }

// Close stops the subscription: a waiting Next returns ErrClosed. It is safe
// to call more than once; later calls return the first call's error.
func (s *PollingSubscription) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		if s.onClose != nil {
			s.closeErr = s.onClose()
		}
	})
	return s.closeErr
}
