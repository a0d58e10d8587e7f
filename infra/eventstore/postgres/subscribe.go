package postgres

import (
	"context"
	"fmt"
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
// ReadAll in batches of 500, then follows the feed live, woken by LISTEN on a
// connection of its own (outside the pool, so that subscribers never starve
// writers of connections). Close releases that connection. It returns an
// error when the listening connection cannot be opened.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	cfg := s.pool.Config().ConnConfig
	conn, err := listen(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("subscribe to all: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &listener{
		cfg:    cfg,
		wake:   make(chan struct{}, 1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go l.run(lctx, conn)
	return eventstore.NewPollingSubscription(s, after, l.wake, subscriptionPoll, l.close), nil
}

// listen opens a connection that listens on notifyChannel. LISTEN runs
// before the subscription's first read, so no commit after that read goes
// unnoticed.
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

// listener turns notifications into wake-ups for one subscription.
type listener struct {
	cfg    *pgx.ConnConfig
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// run waits for notifications until ctx ends, reconnecting when the
// connection fails; meanwhile the subscription's polling keeps it going.
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

// signal wakes the subscription without blocking: a pending wake-up already
// means "read again".
func (l *listener) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// close stops the listener and waits until its connection is closed.
func (l *listener) close() error {
	l.cancel()
	<-l.done
	return nil
}
