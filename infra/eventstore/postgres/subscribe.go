package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
)

// subscriptionPoll tunes subscriptions. A notification only says that some
// append committed; its events may not be readable yet while an older
// transaction is open (see readAllSQL), and no notification comes when that
// one ends. So after a read that found nothing the subscription reads again
// after a short backoff, 5ms doubling to 200ms, as well as on every
// notification. The same polling covers notifications lost while the
// listening connection reconnects.
var subscriptionPoll = eventstore.PollConfig{
	BatchSize:  500,
	MinBackoff: 5 * time.Millisecond,
	MaxBackoff: 200 * time.Millisecond,
}

// reconnectDelay is how long a listener waits before it reconnects after
// losing its connection.
const reconnectDelay = time.Second

// SubscribeAll implements eventstore.Store. The subscription catches up with
// ReadAll in batches of 500, then follows the feed live, woken by LISTEN.
// The store's subscriptions share one listening connection, outside the
// pool (so that subscribers never starve writers of connections), opened
// by the first and closed with the last: a NOTIFY wakes one PostgreSQL
// session, not one per consumer. Appends through this store wake them in
// memory as well (announce). Close releases the
// subscription's share. It returns an error when the listening connection
// cannot be opened.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	w, err := s.listen(ctx)
	if err != nil {
		return nil, fmt.Errorf("subscribe to all: %w", err)
	}
	return eventstore.NewPollingSubscription(s, after, w.wake, subscriptionPoll, w.close), nil
}

// listen gives a subscription its wake-ups from the store's listener,
// starting the listener when none runs.
func (s *Store) listen(ctx context.Context) (*waker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listener.Load()
	if l == nil {
		cfg := s.pool.Config().ConnConfig
		conn, err := listen(ctx, cfg)
		if err != nil {
			return nil, err
		}
		lctx, cancel := context.WithCancel(context.Background())
		l = &listener{cfg: cfg, wakers: map[*waker]struct{}{}, cancel: cancel, done: make(chan struct{})}
		go l.run(lctx, conn)
		s.listener.Store(l)
	}
	w := &waker{s: s, l: l, wake: make(chan struct{}, 1)}
	l.add(w)
	return w, nil
}

// listen opens a connection that listens on notifyChannel. LISTEN runs
// before the first subscription's first read, and a later subscription
// joins a connection listening already, so no commit after a
// subscription's first read goes unnoticed (but while it reconnects).
func listen(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen on %s: %w", notifyChannel, err)
	}
	return conn, nil
}

// listener turns notifications into wake-ups for the store's subscriptions.
type listener struct {
	cfg    *pgx.ConnConfig
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	wakers map[*waker]struct{}
}

// waker is one subscription's share of the listener.
type waker struct {
	s    *Store
	l    *listener
	wake chan struct{}
	once sync.Once
}

// close ends the subscription's share, and the listener with the last.
func (w *waker) close() error {
	w.once.Do(func() {
		w.s.mu.Lock()
		defer w.s.mu.Unlock()
		if w.l.remove(w) > 0 {
			return
		}
		w.s.listener.CompareAndSwap(w.l, nil)
		w.l.cancel()
		<-w.l.done
	})
	return nil
}

func (l *listener) add(w *waker) {
	l.mu.Lock()
	l.wakers[w] = struct{}{}
	l.mu.Unlock()
}

// remove takes w out and says how many are left.
func (l *listener) remove(w *waker) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.wakers, w)
	return len(l.wakers)
}

// run waits for notifications until ctx ends, reconnecting when the
// connection fails; meanwhile the subscriptions' polling keeps them going.
func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	for {
		if conn == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(reconnectDelay):
			}
			var err error
			if conn, err = listen(ctx, l.cfg); err != nil {
				continue
			}
			// Notifications may have been missed while disconnected.
			l.signal()
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			conn.Close(closeCtx)
			cancel()
			conn = nil
			if ctx.Err() != nil {
				return
			}
			continue
		}
		l.signal()
	}
}

// signal wakes every subscription without blocking: a pending wake-up
// already means "read again".
func (l *listener) signal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for w := range l.wakers {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}
