package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
)

// patience bounds every wait for something that must happen; a test never
// sleeps to make something happen.
const patience = 30 * time.Second

func testSubscription(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Parallel()

	t.Run("a subscription catches up, then receives live events once each in feed order", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		past := Events(3)
		MustAppend(t, s, "property-s", eventstore.NoStream(), past)
		sub := subscribe(t, s, eventstore.Start)

		got := collectN(t, sub, 3)
		if diff := cmp.Diff(ids(past), ids(got)); diff != "" {
			t.Errorf("catch-up (-want +got):\n%s", diff)
		}
		// Live: Next blocks until these commit.
		live := Events(2)
		done := make(chan []eventstore.RecordedEvent, 1)
		go func() { done <- collectNoFail(sub, 2) }()
		MustAppend(t, s, "property-s", eventstore.Exact(2), live[:1])
		MustAppend(t, s, "property-t", eventstore.NoStream(), live[1:])
		select {
		case got = <-done:
		case <-time.After(patience):
			t.Fatalf("no live events after %s", patience)
		}
		if diff := cmp.Diff(ids(live), ids(got)); diff != "" {
			t.Errorf("live (-want +got):\n%s", diff)
		}
		// Nothing more: a Next with a short deadline must end empty.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if extra, err := sub.Next(ctx); len(extra) > 0 || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next after every event = %v, %v; want nothing and a deadline error", ids(extra), err)
		}
	})

	t.Run("a subscription from a position starts after it", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		MustAppend(t, s, "property-s", eventstore.NoStream(), Events(2))
		later := Events(2)
		MustAppend(t, s, "property-s", eventstore.Exact(1), later)
		feed := WaitForFeed(t, s, 4)

		got := collectN(t, subscribe(t, s, feed[1].Position), 2)
		if diff := cmp.Diff(ids(later), ids(got)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})

	t.Run("Next returns when its context is cancelled", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		sub := subscribe(t, s, eventstore.Start)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := sub.Next(ctx)
			errc <- err
		}()
		cancel()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Next error = %v, want context.Canceled", err)
			}
		case <-time.After(patience):
			t.Fatalf("Next still blocked %s after its context was cancelled", patience)
		}
	})

	t.Run("Next returns when its deadline passes", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		sub := subscribe(t, s, eventstore.Start)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next error = %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("Close ends a waiting Next, later Nexts fail, and a second Close is harmless", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		sub, err := s.SubscribeAll(context.Background(), eventstore.Start)
		if err != nil {
			t.Fatalf("SubscribeAll: %v", err)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := sub.Next(context.Background())
			errc <- err
		}()
		if err := sub.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, eventstore.ErrClosed) {
				t.Errorf("waiting Next error = %v, want ErrClosed", err)
			}
		case <-time.After(patience):
			t.Fatalf("Next still blocked %s after Close", patience)
		}
		MustAppend(t, s, "property-s", eventstore.NoStream(), Events(1))
		if got, err := sub.Next(context.Background()); !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("Next after Close = %v, %v; want ErrClosed", ids(got), err)
		}
		if err := sub.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// subscribe opens a subscription closed when the test ends.
func subscribe(t *testing.T, s eventstore.Store, after eventstore.Position) eventstore.Subscription {
	t.Helper()
	sub, err := s.SubscribeAll(context.Background(), after)
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

// collectN reads exactly n events from sub, failing the test on an error,
// on more than n, or when patience runs out.
func collectN(t *testing.T, sub eventstore.Subscription, n int) []eventstore.RecordedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var got []eventstore.RecordedEvent
	for len(got) < n {
		batch, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d events: %v", len(got), n, err)
		}
		got = append(got, batch...)
	}
	if len(got) > n {
		t.Fatalf("subscription delivered %d events, want %d: %v", len(got), n, ids(got))
	}
	return got
}

// collectNoFail is collectN for another goroutine: it returns what it has
// when Next fails, and the caller compares.
func collectNoFail(sub eventstore.Subscription, n int) []eventstore.RecordedEvent {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var got []eventstore.RecordedEvent
	for len(got) < n {
		batch, err := sub.Next(ctx)
		if err != nil {
			return got
		}
		got = append(got, batch...)
	}
	return got
}
