package consumers_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// TestAConsumerInBatchesIsRetriedWholeAndNeverPoisoned: a consumer added
// InBatches is given messages of several events; a message that keeps
// failing past the retries is sent again, never poisoned, until it goes
// through; every event is handled once it does, in order, and the
// checkpoint reaches the end of the feed.
func TestAConsumerInBatchesIsRetriedWholeAndNeverPoisoned(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := memory.New()
	last := pt.NewHistory(t, store).Add(pt.Script()...)
	events, err := store.ReadAll(context.Background(), eventstore.Start, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range events {
		want = append(want, e.ID)
	}
	bad := want[3]
	var (
		mu       sync.Mutex
		handled  []string
		failures int
		largest  int
	)
	handle := func(msg *message.Message) error {
		recs, err := feed.Events(msg)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.ID
		}
		// More failures than the retries allow: the router gives up on
		// the message, which must come back rather than be poisoned.
		if slices.Contains(ids, bad) && failures < 5 {
			failures++
			return errFailing
		}
		handled = append(handled, ids...)
		largest = max(largest, len(ids))
		return nil
	}
	c, err := consumers.New(quick(pool, store, "solo", consumers.DefaultLeaseTTL, nil))
	if err != nil {
		t.Fatal(err)
	}
	c.AddPersistent("batched", handle, consumers.InBatches(0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitUntil(t, "the batched consumer's checkpoint at the end of the feed", func() bool {
		cp, err := feed.NewPGCheckpoints(pool).Load(context.Background(), "batched")
		if err != nil {
			t.Fatal(err)
		}
		return cp == last
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, handled); diff != "" {
		t.Errorf("events handled, in order (-want +got):\n%s", diff)
	}
	if failures != 5 || largest < 2 {
		t.Errorf("%d failures and at most %d events in a message, want 5 and batches", failures, largest)
	}
	var poisoned int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM poison_messages`).Scan(&poisoned); err != nil || poisoned != 0 {
		t.Errorf("%d poisoned messages (%v), want none", poisoned, err)
	}
}

var errFailing = errors.New("the handler fails")
