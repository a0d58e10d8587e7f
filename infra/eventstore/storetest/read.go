package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rosterhq/roster/infra/eventstore"
)

func testReadStream(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Parallel()
	tests := []struct {
		name   string
		stream string
		from   uint64
		limit  int      // 0 reads with ReadStream, otherwise ReadStreamPage
		want   []uint64 // revisions
	}{
		{"from 0 returns the whole stream in revision order", "property-r", 0, 0, []uint64{0, 1, 2, 3, 4}},
		{"from a revision returns it and the ones after it", "property-r", 2, 0, []uint64{2, 3, 4}},
		{"from the last revision returns the last event", "property-r", 4, 0, []uint64{4}},
		{"from past the end returns an empty slice", "property-r", 5, 0, []uint64{}},
		{"from far past the end returns an empty slice", "property-r", 1 << 63, 0, []uint64{}},
		{"a stream without events returns an empty slice", "property-none", 0, 0, []uint64{}},
		{"a page stops at its limit", "property-r", 1, 2, []uint64{1, 2}},
		{"a page past the end returns what is left", "property-r", 3, 10, []uint64{3, 4}},
		{"a page of one returns one event", "property-r", 0, 1, []uint64{0}},
		{"a page of an empty stream returns an empty slice", "property-none", 0, 3, []uint64{}},
	}
	t.Run("a page limit below 1 is an error", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		MustAppend(t, s, "property-r", eventstore.NoStream(), Events(1))
		for _, limit := range []int{0, -1} {
			if _, err := s.ReadStreamPage(context.Background(), "property-r", 0, limit); err == nil {
				t.Errorf("ReadStreamPage with limit %d: no error", limit)
			}
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			appended := Events(5)
			MustAppend(t, s, "property-r", eventstore.NoStream(), appended[:2])
			MustAppend(t, s, "property-other", eventstore.NoStream(), Events(1))
			MustAppend(t, s, "property-r", eventstore.Exact(1), appended[2:])

			var got []eventstore.RecordedEvent
			var err error
			if tt.limit == 0 {
				got, err = s.ReadStream(context.Background(), tt.stream, tt.from)
			} else {
				got, err = s.ReadStreamPage(context.Background(), tt.stream, tt.from, tt.limit)
			}
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			if got == nil {
				t.Errorf("ReadStream returned nil, want an empty slice")
			}
			revisions := make([]uint64, len(got))
			for i, e := range got {
				revisions[i] = e.Revision
				if e.StreamID != tt.stream || e.ID != appended[e.Revision].ID {
					t.Errorf("event %d is %s in %s, want %s in %s", i, e.ID, e.StreamID, appended[e.Revision].ID, tt.stream)
				}
			}
			if diff := cmp.Diff(tt.want, revisions); diff != "" {
				t.Errorf("revisions (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("recorded events carry what was appended, with a recording time", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		appended := []eventstore.EventData{Event("PropertyCreated", `{"schema":1}`), Event("MemberInvited", `{"schema":1,"email":"a@b.c"}`)}
		appended[1].Metadata = nil
		res := MustAppend(t, s, "property-f", eventstore.NoStream(), appended)

		got, err := s.ReadStream(context.Background(), "property-f", 0)
		if err != nil {
			t.Fatalf("ReadStream: %v", err)
		}
		want := make([]eventstore.RecordedEvent, len(appended))
		for i, e := range appended {
			want[i] = eventstore.RecordedEvent{ID: e.ID, StreamID: "property-f", Revision: uint64(i), Type: e.Type, Data: e.Data, Metadata: e.Metadata}
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(eventstore.RecordedEvent{}, "Position", "RecordedAt")); diff != "" {
			t.Errorf("recorded events (-want +got):\n%s", diff)
		}
		if len(got) == 2 && got[1].Position != res.Position {
			t.Errorf("last event at %s, Append said %s", got[1].Position, res.Position)
		}
		for _, e := range got {
			if d := time.Since(e.RecordedAt); d < -time.Hour || d > time.Hour {
				t.Errorf("event %s recorded at %s, not around now", e.ID, e.RecordedAt)
			}
		}
	})
}

func testReadAll(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Parallel()
	// Appends across streams, in this order: a(2), b(1), a(1), c(3).
	fill := func(t *testing.T, s eventstore.Store) (appended []eventstore.EventData, feed []eventstore.RecordedEvent) {
		t.Helper()
		batches := []struct {
			stream   string
			expected eventstore.ExpectedRevision
			n        int
		}{
			{"property-a", eventstore.NoStream(), 2},
			{"property-b", eventstore.NoStream(), 1},
			{"property-a", eventstore.Exact(1), 1},
			{"property-c", eventstore.Any(), 3},
		}
		for _, b := range batches {
			events := Events(b.n)
			MustAppend(t, s, b.stream, b.expected, events)
			appended = append(appended, events...)
		}
		return appended, WaitForFeed(t, s, len(appended))
	}

	t.Run("the feed holds every event once in append order across streams", func(t *testing.T) {
		t.Parallel()
		appended, feed := fill(t, newStore(t))
		if diff := cmp.Diff(ids(appended), ids(feed)); diff != "" {
			t.Errorf("feed (-appended +read):\n%s", diff)
		}
	})

	t.Run("positions strictly increase and none is the zero position", func(t *testing.T) {
		t.Parallel()
		_, feed := fill(t, newStore(t))
		prev := eventstore.Start
		for _, e := range feed {
			if !prev.Less(e.Position) {
				t.Errorf("event %s at %s does not come after %s", e.ID, e.Position, prev)
			}
			prev = e.Position
		}
	})

	t.Run("after is exclusive: reading after an event's position starts with the next one", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, feed := fill(t, s)
		for i, e := range feed {
			got, err := s.ReadAll(context.Background(), e.Position, 100)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if diff := cmp.Diff(ids(feed[i+1:]), ids(got)); diff != "" {
				t.Errorf("ReadAll after event %d (-want +got):\n%s", i, diff)
			}
		}
	})

	t.Run("limit caps how many events one read returns", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, feed := fill(t, s)
		for _, limit := range []int{1, 2, 5, len(feed), len(feed) + 10} {
			got, err := s.ReadAll(context.Background(), eventstore.Start, limit)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			want := feed[:min(limit, len(feed))]
			if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
				t.Errorf("ReadAll with limit %d (-want +got):\n%s", limit, diff)
			}
		}
	})

	t.Run("reading after the last event returns an empty slice", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, feed := fill(t, s)
		got, err := s.ReadAll(context.Background(), feed[len(feed)-1].Position, 10)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("ReadAll after the last event = %v, %v; want an empty slice", ids(got), err)
		}
	})

	t.Run("a limit below 1 is an error", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for _, limit := range []int{0, -1} {
			if _, err := s.ReadAll(context.Background(), eventstore.Start, limit); err == nil {
				t.Errorf("ReadAll with limit %d succeeded, want an error", limit)
			}
		}
	})

	t.Run("the feed agrees with ReadStream on each event", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, feed := fill(t, s)
		for _, stream := range []string{"property-a", "property-b", "property-c"} {
			got, err := s.ReadStream(context.Background(), stream, 0)
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			var want []eventstore.RecordedEvent
			for _, e := range feed {
				if e.StreamID == stream {
					want = append(want, e)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stream %s (-feed +ReadStream):\n%s", stream, diff)
			}
		}
	})

	t.Run("data and metadata come back byte for byte", func(t *testing.T) {
		t.Parallel()
		testRoundTrip(t, newStore(t))
	})
}
