package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
)

// committed is an append that succeeded, as its writer saw it.
type committed struct {
	stream string
	ids    []string
	result eventstore.AppendResult
}

func testConcurrency(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Parallel()
	t.Run("with concurrent writers, readers of the feed see every committed event once, keeping each stream's order", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const writers = 8
		appendsPerWriter := 40
		if testing.Short() {
			appendsPerWriter = 10
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()

		// The followers start first, so they read while events commit.
		end := Event("End", `{}`)
		sub := subscribe(t, s, eventstore.Start)
		fromSub := make(chan followed, 1)
		fromReads := make(chan followed, 1)
		go func() { fromSub <- followSubscription(ctx, sub, end.ID) }()
		go func() { fromReads <- followReadAll(ctx, s, end.ID) }()

		var wg sync.WaitGroup
		var conflicts atomic.Int64
		appends := make([][]committed, writers)
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() { appends[w], errs[w] = write(ctx, s, w, appendsPerWriter, &conflicts) })
		}
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", w, err)
			}
		}
		t.Logf("%d writers, %d appends each, %d conflicts retried", writers, appendsPerWriter, conflicts.Load())

		// This append starts after every writer's commit, so it comes last
		// in the feed: a follower that reaches it has had every event.
		MustAppend(t, s, "property-end", eventstore.NoStream(), []eventstore.EventData{end})
		var all []committed
		for _, a := range appends {
			all = append(all, a...)
		}
		subFeed := (<-fromSub).check(t, "subscription", all, end.ID)
		readFeed := (<-fromReads).check(t, "ReadAll loop", all, end.ID)
		if diff := cmp.Diff(ids(subFeed), ids(readFeed)); diff != "" {
			t.Errorf("the subscription and the ReadAll loop saw different orders (-subscription +reads):\n%s", diff)
		}
		final := WaitForFeed(t, s, len(subFeed)+1)
		if diff := cmp.Diff(ids(subFeed), ids(final[:len(final)-1])); diff != "" {
			t.Errorf("the followers' order differs from a later full read (-followers +read):\n%s", diff)
		}
	})
}

// write makes n appends of 1 to 3 events for writer w: a third to its own
// stream, the rest to two streams every writer shares, some with Any. A
// conflict is retried against the actual revision, as a command handler
// would against fresh state.
func write(ctx context.Context, s eventstore.Store, w, n int, conflicts *atomic.Int64) ([]committed, error) {
	rng := rand.New(rand.NewPCG(uint64(w), 42))
	last := map[string]int64{}
	var out []committed
	for i := range n {
		stream := fmt.Sprintf("property-shared-%d", rng.IntN(2))
		if i%3 == 0 {
			stream = fmt.Sprintf("property-own-%d", w)
		}
		useAny := i%5 == 1
		events := Events(1 + rng.IntN(3))
		for {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			cur, seen := last[stream]
			expected := eventstore.Any()
			switch {
			case useAny:
			case !seen || cur < 0:
				expected = eventstore.NoStream()
			default:
				expected = eventstore.Exact(uint64(cur))
			}
			res, err := s.Append(ctx, stream, expected, events)
			if err == nil {
				out = append(out, committed{stream: stream, ids: ids(events), result: res})
				last[stream] = int64(res.Revision)
				break
			}
			actual, ok := conflictActual(err)
			if !ok {
				return out, fmt.Errorf("append to %s with %s: %w", stream, expected, err)
			}
			conflicts.Add(1)
			last[stream] = actual
		}
	}
	return out, nil
}

// followed is what a follower read before the end event, or its error.
type followed struct {
	events []eventstore.RecordedEvent
	err    error
}

func followSubscription(ctx context.Context, sub eventstore.Subscription, endID string) followed {
	var f followed
	for {
		batch, err := sub.Next(ctx)
		if err != nil {
			f.err = fmt.Errorf("sub.Next after %d events: %w", len(f.events), err)
			return f
		}
		f.events = append(f.events, batch...)
		if batch[len(batch)-1].ID == endID {
			return f
		}
	}
}

// followReadAll polls ReadAll in small batches, as a projector would.
func followReadAll(ctx context.Context, s eventstore.Store, endID string) followed {
	var f followed
	after := eventstore.Start
	for {
		batch, err := s.ReadAll(ctx, after, 16)
		if err != nil {
			f.err = fmt.Errorf("ReadAll after %d events: %w", len(f.events), err)
			return f
		}
		if len(batch) == 0 {
			time.Sleep(time.Millisecond) // only to yield; not an assertion
			continue
		}
		f.events = append(f.events, batch...)
		after = batch[len(batch)-1].Position
		if batch[len(batch)-1].ID == endID {
			return f
		}
	}
}
