package esdb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/rosterhq/roster/infra/eventstore"
)

// SubscribeAll implements eventstore.Store with a catch-up subscription to
// $all from after, filtered on the node to the feed's stream prefix. ctx
// bounds the first subscribe only; the subscription lives until Close.
//
// The subscription keeps itself up: when it drops (the node restarts, the
// connection breaks, the node drops its subscribers) it subscribes again
// from the last position it received, after MinBackoff, doubling up to
// MaxBackoff while attempts fail. A subscription from a position starts
// after it, and events at or before the last position are dropped should
// they come again, so nothing is skipped or repeated across a resubscribe.
// The checkpoints the node sends while it scans events the filter leaves
// out move that position too, so a resubscribe does not scan them again.
// Only a refusal (access denied, unauthenticated, a closed store or client)
// ends it: Next then returns the error.
//
// Next returns what has arrived, up to Config.BatchSize events.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	closed, cancel := context.WithCancel(context.Background())
	sub := &subscription{
		store:  s,
		events: make(chan eventstore.RecordedEvent, s.cfg.BatchSize),
		failed: make(chan struct{}),
		closed: closed,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	// The first subscribe answers to ctx as well as to Close.
	first, stop := context.WithCancel(closed)
	unbind := context.AfterFunc(ctx, stop)
	es, err := s.subscribe(first, after)
	if !unbind() && err == nil {
		_ = es.Close()
		err = ctx.Err()
	}
	if err != nil {
		stop()
		cancel()
		return nil, fmt.Errorf("subscribe to $all after %s: %w", after, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = es.Close()
		stop()
		cancel()
		return nil, errStoreClosed
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	go sub.run(es, stop, after)
	return sub, nil
}

// subscribe opens one catch-up subscription to $all after the position,
// bound to ctx, and waits for the node to confirm it, for
// Config.SubscribeTimeout at most.
func (s *Store) subscribe(ctx context.Context, after eventstore.Position) (*esdbclient.Subscription, error) {
	confirm, cancel := context.WithTimeout(ctx, s.cfg.SubscribeTimeout)
	defer cancel()
	var es *esdbclient.Subscription
	err := s.client.do(confirm, func(c *esdbclient.Client) error {
		var err error
		es, err = c.SubscribeToAll(ctx, esdbclient.SubscribeToAllOptions{
			From:               fromPosition(after),
			Filter:             &esdbclient.SubscriptionFilter{Type: esdbclient.StreamFilterType, Prefixes: []string{s.cfg.FeedPrefix}},
			MaxSearchWindow:    32,
			CheckpointInterval: 1,
		})
		if err != nil {
			return err
		}
		if confirm.Err() != nil {
			// Confirmed too late: the caller has moved on.
			_ = es.Close()
			return confirm.Err()
		}
		return nil
	})
	if err != nil {
		// es may still be written by op: leave it. Its context is the
		// caller's, who cancels it on this error.
		return nil, err
	}
	return es, nil
}

// subscription is the port's Subscription over a self-renewing catch-up
// subscription. One goroutine receives into events; Next takes from it.
type subscription struct {
	store  *Store
	events chan eventstore.RecordedEvent
	failed chan struct{} // closed when the subscription stops for good; err says why
	err    error
	closed context.Context // done after Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the receiving goroutine has returned
	once   sync.Once
}

var _ eventstore.Subscription = (*subscription)(nil)

// Next implements eventstore.Subscription. It returns ErrClosed after
// Close, ctx's error when ctx ends first, and the error that ended the
// subscription once what arrived before it has been delivered.
func (sub *subscription) Next(ctx context.Context) ([]eventstore.RecordedEvent, error) {
	if sub.closed.Err() != nil {
		return nil, eventstore.ErrClosed
	}
	var first eventstore.RecordedEvent
	select {
	case first = <-sub.events:
	default:
		select {
		case first = <-sub.events:
		case <-sub.failed:
			select {
			case first = <-sub.events:
			default:
				return nil, sub.err
			}
		case <-sub.closed.Done():
			return nil, eventstore.ErrClosed
		case <-ctx.Done():
			if sub.closed.Err() != nil {
				return nil, eventstore.ErrClosed
			}
			return nil, ctx.Err()
		}
	}
	batch := []eventstore.RecordedEvent{first}
	for len(batch) < sub.store.cfg.BatchSize {
		select {
		case e := <-sub.events:
			batch = append(batch, e)
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// Close implements eventstore.Subscription: it ends the subscription and
// waits for its goroutine. It is safe to call more than once.
func (sub *subscription) Close() error {
	sub.once.Do(func() {
		sub.cancel()
		<-sub.done
		sub.store.mu.Lock()
		delete(sub.store.subs, sub)
		sub.store.mu.Unlock()
	})
	return nil
}

// run receives from es, and from each subscription that replaces it when it
// drops, until Close or a refusal. release ends es's context.
func (sub *subscription) run(es *esdbclient.Subscription, release context.CancelFunc, after eventstore.Position) {
	defer close(sub.done)
	s := sub.store
	last := after // the last position received: where a resubscribe starts
	backoff := s.cfg.MinBackoff
	for {
		progressed := sub.receive(es, &last)
		_ = es.Close()
		release()
		if sub.closed.Err() != nil {
			return
		}
		if progressed {
			backoff = s.cfg.MinBackoff
		}
		for {
			if !sub.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, s.cfg.MaxBackoff)
			ctx, cancel := context.WithCancel(sub.closed)
			next, err := s.subscribe(ctx, last)
			if err == nil {
				es, release = next, cancel
				break
			}
			cancel()
			if sub.closed.Err() != nil {
				return
			}
			if refused(err) {
				sub.err = fmt.Errorf("subscribe to $all after %s: %w", last, err)
				close(sub.failed)
				return
			}
		}
	}
}

// receive passes the feed's events from es to Next until es drops or the
// subscription closes, and moves *last past everything received. It
// reports whether anything arrived.
func (sub *subscription) receive(es *esdbclient.Subscription, last *eventstore.Position) (progressed bool) {
	for {
		m := es.Recv()
		switch {
		case m.SubscriptionDropped != nil:
			return progressed
		case m.EventAppeared != nil:
			progressed = true
			e := m.EventAppeared.Event
			if e == nil {
				continue
			}
			p := toPosition(e.Position)
			if !last.Less(p) {
				continue // delivered already
			}
			*last = p
			if !sub.store.inFeed(e) {
				continue
			}
			select {
			case sub.events <- toRecorded(e):
			case <-sub.closed.Done():
				return progressed
			}
		case m.CheckPointReached != nil:
			progressed = true
			if p := toPosition(*m.CheckPointReached); last.Less(p) {
				*last = p
			}
		default: // caught up, fell behind
			progressed = true
		}
	}
}

// sleep waits d, and reports false when the subscription closes first.
func (sub *subscription) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-sub.closed.Done():
		return false
	}
}

// refused reports whether err will not go away by subscribing again.
func refused(err error) bool {
	if errors.Is(err, errStoreClosed) {
		return true
	}
	var e *esdbclient.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case esdbclient.ErrorCodeAccessDenied, esdbclient.ErrorCodeUnauthenticated, esdbclient.ErrorCodeConnectionClosed:
			return true
		}
	}
	return false
}
