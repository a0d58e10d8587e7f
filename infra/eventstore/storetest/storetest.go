// Package storetest is the contract suite of the event store port: every
// adapter's tests call Run with a constructor, and pass the same rules.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Run runs the contract suite. newStore must return an empty store of its
// own for each call; it may register cleanups on t. Subtests run in
// parallel.
func Run(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Run("Append", func(t *testing.T) { testAppend(t, newStore) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, newStore) })
	t.Run("Validation", func(t *testing.T) { testValidation(t, newStore) })
	t.Run("ReadStream", func(t *testing.T) { testReadStream(t, newStore) })
	t.Run("ReadAll", func(t *testing.T) { testReadAll(t, newStore) })
	t.Run("Subscription", func(t *testing.T) { testSubscription(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
}

// NewEventID returns a random (version 4) UUID in the canonical lower-case
// form event IDs take.
func NewEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Event returns an event of type typ with a fresh ID, data as given and a
// small metadata document.
func Event(typ, data string) eventstore.EventData {
	return eventstore.EventData{
		ID:       NewEventID(),
		Type:     typ,
		Data:     []byte(data),
		Metadata: []byte(`{"correlation_id":"storetest"}`),
	}
}

// Events returns n events with fresh IDs.
func Events(n int) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = Event("Tested", fmt.Sprintf(`{"n":%d}`, i))
	}
	return out
}

// MustAppend appends events and fails the test on any error.
func MustAppend(tb testing.TB, s eventstore.Store, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) eventstore.AppendResult {
	tb.Helper()
	res, err := s.Append(context.Background(), stream, expected, events)
	if err != nil {
		tb.Fatalf("Append(%s, %s, %d events): %v", stream, expected, len(events), err)
	}
	return res
}

// WaitForFeed reads the whole feed until it holds at least n events and
// returns it. A store may hold back committed events while an older
// transaction is open anywhere on its server (other tests included), so
// tests that read right after appending wait for them here rather than
// assume they are readable at once. It fails the test after 30 seconds.
func WaitForFeed(tb testing.TB, s eventstore.Store, n int) []eventstore.RecordedEvent {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		all, err := readWholeFeed(context.Background(), s)
		if err != nil {
			tb.Fatalf("ReadAll: %v", err)
		}
		if len(all) >= n {
			return all
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the feed holds %d events after 30s, want %d", len(all), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readWholeFeed reads the feed from the start in small batches, so that
// batching itself is exercised.
func readWholeFeed(ctx context.Context, s eventstore.Store) ([]eventstore.RecordedEvent, error) {
	var all []eventstore.RecordedEvent
	after := eventstore.Start
	for {
		batch, err := s.ReadAll(ctx, after, 7)
		if err != nil {
			return nil, err
		}
		all = append(all, batch...)
		if len(batch) < 7 {
			return all, nil
		}
		after = batch[len(batch)-1].Position
	}
}

// ids lists the events' IDs in order, for readable diffs.
func ids[E eventstore.EventData | eventstore.RecordedEvent](events []E) []string {
	out := make([]string, len(events))
	for i, e := range events {
		switch e := any(e).(type) {
		case eventstore.EventData:
			out[i] = e.ID
		case eventstore.RecordedEvent:
			out[i] = e.ID
		}
	}
	return out
}

// conflictActual returns the Actual revision of a *ConflictError, and false
// when err is not one.
func conflictActual(err error) (int64, bool) {
	var ce *eventstore.ConflictError
	if !errors.As(err, &ce) {
		return 0, false
	}
	return ce.Actual, true
}
