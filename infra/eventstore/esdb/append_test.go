package esdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/esdb"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
)

// TestAppendFromAnotherProcess repeats appends through a second store on the
// same node, which has not seen the first appends: what it answers rests on
// the node's idempotency and on the stream, not on what a store remembers.
func TestAppendFromAnotherProcess(t *testing.T) {
	t.Parallel()
	type outcome int
	const (
		firstResult outcome = iota
		duplicate
		conflict
	)
	tests := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedRevision
		// build returns the append, given three events stored in
		// property-d (revisions 0-2) and one in property-other.
		build func(stored, other []eventstore.EventData) []eventstore.EventData
		want  outcome
	}{
		{"a repeat expecting no stream gets the first result", "property-d", eventstore.NoStream(),
			func(s, _ []eventstore.EventData) []eventstore.EventData { return s }, firstResult},
		{"a repeat with a stale exact revision gets the first result", "property-d", eventstore.Exact(7),
			func(s, _ []eventstore.EventData) []eventstore.EventData { return s }, firstResult},
		{"a repeat with any gets the first result", "property-d", eventstore.Any(),
			func(s, _ []eventstore.EventData) []eventstore.EventData { return s }, firstResult},
		{"a repeat of the later events alone gets their result", "property-d", eventstore.Exact(0),
			func(s, _ []eventstore.EventData) []eventstore.EventData { return s[1:] }, firstResult},
		{"a stored ID then a new one, with any, is a duplicate", "property-d", eventstore.Any(),
			func(s, _ []eventstore.EventData) []eventstore.EventData {
				return []eventstore.EventData{s[2], storetest.Event("New", `{}`)}
			}, duplicate},
		{"a stored ID then a new one, at its revision, is a duplicate", "property-d", eventstore.NoStream(),
			func(s, _ []eventstore.EventData) []eventstore.EventData {
				return []eventstore.EventData{s[0], storetest.Event("New", `{}`)}
			}, duplicate},
		{"stored IDs in another order, with any, are a duplicate", "property-d", eventstore.Any(),
			func(s, _ []eventstore.EventData) []eventstore.EventData { return []eventstore.EventData{s[1], s[0]} }, duplicate},
		{"stored IDs with a gap, with any, are a duplicate", "property-d", eventstore.Any(),
			func(s, _ []eventstore.EventData) []eventstore.EventData { return []eventstore.EventData{s[0], s[2]} }, duplicate},
		{"IDs stored in two streams are a duplicate", "property-d", eventstore.Any(),
			func(s, o []eventstore.EventData) []eventstore.EventData { return []eventstore.EventData{s[2], o[0]} }, duplicate},
		{"new IDs at a stale revision are a conflict", "property-d", eventstore.Exact(1),
			func(_, _ []eventstore.EventData) []eventstore.EventData { return storetest.Events(2) }, conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startDouble(t)
			first, second := openStore(t, srv, esdb.Config{}), openStore(t, srv, esdb.Config{})
			stored, other := storetest.Events(3), storetest.Events(1)
			want := storetest.MustAppend(t, first, "property-d", eventstore.NoStream(), stored)
			storetest.MustAppend(t, first, "property-other", eventstore.NoStream(), other)
			before := storetest.WaitForFeed(t, first, 4)
			events := tt.build(stored, other)
			if tt.want == firstResult {
				got, err := first.ReadStream(context.Background(), tt.stream, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range got {
					if e.ID == events[len(events)-1].ID {
						want = eventstore.AppendResult{Revision: e.Revision, Position: e.Position}
					}
				}
			}

			res, err := second.Append(context.Background(), tt.stream, tt.expected, events)
			switch tt.want {
			case firstResult:
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				if diff := cmp.Diff(want, res); diff != "" {
					t.Errorf("result (-first +repeat):\n%s", diff)
				}
			case duplicate:
				if !errors.Is(err, eventstore.ErrDuplicateEvent) || errors.Is(err, eventstore.ErrConflict) {
					t.Fatalf("Append error = %v, want ErrDuplicateEvent only", err)
				}
			case conflict:
				var ce *eventstore.ConflictError
				if !errors.As(err, &ce) || ce.Actual != 2 || errors.Is(err, eventstore.ErrDuplicateEvent) {
					t.Fatalf("Append error = %v, want a conflict at revision 2", err)
				}
			}
			after := storetest.WaitForFeed(t, first, len(before))
			if diff := cmp.Diff(ids(before), ids(after)); diff != "" {
				t.Errorf("the feed changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestFeedHoldsThePropertyStreams checks what the feed leaves out: other
// streams, system streams and system events, while positions keep
// increasing across what it skips.
func TestFeedHoldsThePropertyStreams(t *testing.T) {
	t.Parallel()
	srv := startDouble(t) // its log starts with system events
	s := openStore(t, srv, esdb.Config{})
	var want []eventstore.EventData
	for i, stream := range []string{"property-a", "other-a", "$stats-node", "property-b", "$$property-a", "audit-x", "property-a"} {
		events := storetest.Events(2)
		storetest.MustAppend(t, s, stream, eventstore.Any(), events)
		if stream == "property-a" || stream == "property-b" {
			want = append(want, events...)
		}
		if i == 3 {
			link := storetest.Event("$>", `{}`)
			storetest.MustAppend(t, s, "property-b", eventstore.Any(), []eventstore.EventData{link})
		}
	}
	feed := storetest.WaitForFeed(t, s, len(want))
	if diff := cmp.Diff(ids(want), ids(feed)); diff != "" {
		t.Errorf("ReadAll (-want +got):\n%s", diff)
	}
	sub, err := s.SubscribeAll(context.Background(), eventstore.Start)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if diff := cmp.Diff(ids(want), ids(collect(t, ctx, sub, len(want)))); diff != "" {
		t.Errorf("SubscribeAll (-want +got):\n%s", diff)
	}
	for i := 1; i < len(feed); i++ {
		if !feed[i-1].Position.Less(feed[i].Position) || feed[i].Position.Commit != feed[i].Position.Prepare {
			t.Errorf("event %d at %s after %s: want increasing positions with commit = prepare", i, feed[i].Position, feed[i-1].Position)
		}
	}
}

// TestFeedHead checks what operators read of the feed: its last event and
// how many events lie after a position, with other streams' events about.
func TestFeedHead(t *testing.T) {
	t.Parallel()
	srv := startDouble(t)
	s := openStore(t, srv, esdb.Config{})
	ctx := context.Background()
	head, err := s.Head(ctx)
	if err != nil || head != eventstore.Start {
		t.Fatalf("Head of an empty feed = %s, %v; want the start", head, err)
	}
	for i := range 300 {
		storetest.MustAppend(t, s, "other-x", eventstore.Any(), storetest.Events(1))
		if i%3 == 0 {
			storetest.MustAppend(t, s, "property-h", eventstore.Any(), storetest.Events(1))
		}
	}
	// More than a page of other events after the feed's last.
	storetest.MustAppend(t, s, "other-y", eventstore.Any(), storetest.Events(300))
	feed := storetest.WaitForFeed(t, s, 100)
	tests := []struct {
		name  string
		after eventstore.Position
		want  int64
	}{
		{"from the start", eventstore.Start, 100},
		{"from an event", feed[41].Position, 58},
		{"from the last event", feed[99].Position, 0},
	}
	for _, tt := range tests {
		if got, err := s.CountAfter(ctx, tt.after); err != nil || got != tt.want {
			t.Errorf("CountAfter %s = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
	if head, err := s.Head(ctx); err != nil || head != feed[99].Position {
		t.Errorf("Head = %s, %v; want %s, the last feed event before 302 others", head, err, feed[99].Position)
	}
}
