package storetest

import (
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
)

// check fails the test unless a follower read exactly the committed events
// and then the end event, once each, with strictly increasing positions,
// each stream's events in revision order without gaps, and each append where
// its result said. It returns the events before the end event.
func (f followed) check(t *testing.T, who string, appends []committed, endID string) []eventstore.RecordedEvent {
	t.Helper()
	if f.err != nil {
		t.Fatalf("%s: %v", who, f.err)
	}
	if len(f.events) == 0 || f.events[len(f.events)-1].ID != endID {
		t.Fatalf("%s: did not end with the end event", who)
	}
	feed := f.events[:len(f.events)-1]

	byID := make(map[string]eventstore.RecordedEvent, len(feed))
	var duplicates []string
	for _, e := range feed {
		if _, ok := byID[e.ID]; ok {
			duplicates = append(duplicates, e.ID)
		}
		byID[e.ID] = e
	}
	if len(duplicates) > 0 {
		t.Errorf("%s: %d events delivered more than once: %v", who, len(duplicates), duplicates)
	}

	var want []string
	for _, a := range appends {
		want = append(want, a.ids...)
	}
	slices.Sort(want)
	got := slices.Sorted(maps.Keys(byID))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: events read (-committed +read):\n%s", who, diff)
	}

	prev := eventstore.Start
	next := map[string]uint64{} // stream -> next revision expected
	for i, e := range feed {
		if !prev.Less(e.Position) {
			t.Errorf("%s: event %d at %s does not come after %s", who, i, e.Position, prev)
		}
		prev = e.Position
		if e.Revision != next[e.StreamID] {
			t.Errorf("%s: event %d is revision %d of %s, want %d", who, i, e.Revision, e.StreamID, next[e.StreamID])
		}
		next[e.StreamID] = e.Revision + 1
	}

	for _, a := range appends {
		last, ok := byID[a.ids[len(a.ids)-1]]
		if !ok {
			continue // reported as missing above
		}
		gotRes := eventstore.AppendResult{Revision: last.Revision, Position: last.Position}
		if diff := cmp.Diff(a.result, gotRes); diff != "" {
			t.Errorf("%s: append to %s returned another place than its last event's (-returned +read):\n%s", who, a.stream, diff)
		}
		for j, id := range a.ids {
			if e := byID[id]; e.StreamID != a.stream || e.Revision != last.Revision-uint64(len(a.ids)-1-j) {
				t.Errorf("%s: event %s of an append to %s is revision %d of %s", who, id, a.stream, e.Revision, e.StreamID)
			}
		}
	}
	return feed
}
