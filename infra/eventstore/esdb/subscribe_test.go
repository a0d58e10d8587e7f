package esdb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/esdb"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
)

// fastRetry resubscribes at once and keeps retrying quickly, so that the
// tests spend their time on events, not on waiting.
var fastRetry = esdb.Config{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}

// TestSubscriptionSurvivesDrops follows the feed while events are appended
// and the subscription is broken under it, and checks that the subscriber
// saw the feed exactly: every event once, in order, nothing skipped or
// repeated across a resubscribe.
func TestSubscriptionSurvivesDrops(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// history events are appended before subscribing, live ones while
		// following; from is how many history events the subscription
		// starts after (a stored checkpoint).
		history, live, from int
		// breakAt are the numbers of events received after which the
		// double breaks the subscription.
		breakAt []int
		// restart stops the whole node and starts it again, instead of
		// dropping the subscriptions only.
		restart bool
	}{
		{name: "drops during catch-up resume after the last event received", history: 400, live: 0, breakAt: []int{1, 50, 51, 200, 399}},
		{name: "drops during live delivery resume after the last event received", history: 0, live: 300, breakAt: []int{1, 2, 100, 250}},
		{name: "drops in catch-up and live, from a stored position", history: 200, live: 200, from: 77, breakAt: []int{10, 150, 151, 300}},
		{name: "node restarts in catch-up and live are followed by a resubscribe", history: 200, live: 200, breakAt: []int{30, 250}, restart: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startDouble(t)
			s := openStore(t, srv, fastRetry)
			ctx := context.Background()
			appendMixed(t, s, "h", tt.history)
			start := eventstore.Start
			if tt.from > 0 {
				start = storetest.WaitForFeed(t, s, tt.from)[tt.from-1].Position
			}
			sub, err := s.SubscribeAll(ctx, start)
			if err != nil {
				t.Fatalf("SubscribeAll: %v", err)
			}
			defer sub.Close()

			end := storetest.Event("End", `{}`)
			writerDone := make(chan error, 1)
			go func() { writerDone <- appendLive(s, tt.live, end) }()

			var got []eventstore.RecordedEvent
			broken := 0
			ctx, cancel := context.WithTimeout(ctx, patience)
			defer cancel()
			for len(got) == 0 || got[len(got)-1].ID != end.ID {
				batch, err := sub.Next(ctx)
				if err != nil {
					t.Fatalf("Next after %d events (%d breaks): %v", len(got), broken, err)
				}
				got = append(got, batch...)
				for broken < len(tt.breakAt) && len(got) >= tt.breakAt[broken] {
					if tt.restart {
						srv.Stop()
						if err := srv.Restart(); err != nil {
							t.Fatal(err)
						}
					} else {
						srv.DropSubscriptions()
					}
					broken++
				}
			}
			if err := <-writerDone; err != nil {
				t.Fatalf("writer: %v", err)
			}
			feed := storetest.WaitForFeed(t, s, tt.history+tt.live+1)
			want := feed[tt.from:]
			if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
				t.Errorf("subscriber saw (-feed +subscriber):\n%s", diff)
			}
			if opened := srv.SubscriptionsOpened(); opened < 2 {
				t.Errorf("the double confirmed %d subscriptions, want a resubscribe at least", opened)
			}
		})
	}
}

// TestStoreOutlivesAnOutage stops the node for longer than the client's
// discovery attempts would last (one attempt is asked for here; Open lifts
// the limit, as the client would otherwise stop for good): calls fail or
// wait meanwhile, and afterwards the appends and the subscription carry on.
func TestStoreOutlivesAnOutage(t *testing.T) {
	t.Parallel()
	srv := startDouble(t)
	s := openURL(t, srv.URL()+"&maxDiscoverAttempts=1&discoveryInterval=1", fastRetry)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	before := storetest.Events(3)
	storetest.MustAppend(t, s, "property-x", eventstore.NoStream(), before)
	sub, err := s.SubscribeAll(ctx, eventstore.Start)
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	defer sub.Close()
	got := collect(t, ctx, sub, 3)

	srv.Stop()
	// The first call meets the broken connection; the next ones wait in
	// the client's rediscovery until their context ends.
	for range 3 {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err := s.Append(short, "property-x", eventstore.Exact(2), storetest.Events(1))
		cancel()
		if err == nil {
			t.Fatal("Append succeeded with the node down")
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	after := storetest.Events(2)
	storetest.MustAppend(t, s, "property-x", eventstore.Exact(2), after)
	got = append(got, collect(t, ctx, sub, 2)...)
	if diff := cmp.Diff(ids(append(before, after...)), ids(got)); diff != "" {
		t.Errorf("subscriber saw (-appended +subscriber):\n%s", diff)
	}
}

// appendMixed appends n feed events in small appends to a few property
// streams, with events of other streams between them that the feed leaves
// out, so the filter and its checkpoints are in play.
func appendMixed(tb testing.TB, s *esdb.Store, tag string, n int) {
	tb.Helper()
	for i := 0; i < n; {
		k := min(1+i%3, n-i)
		storetest.MustAppend(tb, s, fmt.Sprintf("property-%s-%d", tag, i%4), eventstore.Any(), storetest.Events(k))
		storetest.MustAppend(tb, s, fmt.Sprintf("$stats-%s", tag), eventstore.Any(), storetest.Events(2))
		storetest.MustAppend(tb, s, fmt.Sprintf("other-%s", tag), eventstore.Any(), storetest.Events(1))
		i += k
	}
}

// appendLive appends n feed events, then end. An append that fails (the
// node may be restarting) is sent again with the same events until it
// succeeds, as a writer that cannot tell whether it went through must: the
// event IDs make the repeat harmless.
func appendLive(s *esdb.Store, n int, end eventstore.EventData) error {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	send := func(stream string, events []eventstore.EventData) error {
		for {
			_, err := s.Append(ctx, stream, eventstore.Any(), events)
			if err == nil || ctx.Err() != nil {
				return err
			}
		}
	}
	for i := range n {
		if err := send(fmt.Sprintf("property-l-%d", i%5), storetest.Events(1)); err != nil {
			return err
		}
		if i%10 == 0 {
			if err := send("other-l", storetest.Events(3)); err != nil {
				return err
			}
		}
	}
	return send("property-end", []eventstore.EventData{end})
}

// collect reads exactly n events from sub.
func collect(t *testing.T, ctx context.Context, sub eventstore.Subscription, n int) []eventstore.RecordedEvent {
	t.Helper()
	var got []eventstore.RecordedEvent
	for len(got) < n {
		batch, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d events: %v", len(got), n, err)
		}
		got = append(got, batch...)
	}
	if len(got) > n {
		t.Fatalf("received %d events, want %d", len(got), n)
	}
	return got
}

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
