package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
)

func testIdempotency(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Parallel()
	// Repeats use every kind of expectation: the stored append decides the
	// answer, whatever the stream's state now.
	repeats := []struct {
		name     string
		expected eventstore.ExpectedRevision
	}{
		{"re-appending the same IDs with the same expectation returns the first result and stores nothing", eventstore.NoStream()},
		{"re-appending the same IDs with a stale Exact returns the first result and stores nothing", eventstore.Exact(7)},
		{"re-appending the same IDs with Any returns the first result and stores nothing", eventstore.Any()},
	}
	for _, tt := range repeats {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			first := Events(3)
			want := MustAppend(t, s, "property-i", eventstore.NoStream(), first)
			// A later append to the stream must not change the first's result.
			MustAppend(t, s, "property-i", eventstore.Exact(want.Revision), Events(1))
			before := WaitForFeed(t, s, 4)

			got, err := s.Append(context.Background(), "property-i", tt.expected, first)
			if err != nil {
				t.Fatalf("repeated Append: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("repeated Append result (-first +repeat):\n%s", diff)
			}
			checkUnchanged(t, s, before)
		})
	}

	duplicates := []struct {
		name string
		// build returns the append to try, given the events of two earlier
		// appends: three to property-d and one to property-other.
		build func(stored, other []eventstore.EventData) (string, []eventstore.EventData)
	}{
		{
			name: "a stored ID followed by new ones is refused as a duplicate",
			build: func(stored, _ []eventstore.EventData) (string, []eventstore.EventData) {
				return "property-d", []eventstore.EventData{stored[2], Event("New", `{}`)}
			},
		},
		{
			name: "a new ID followed by stored ones is refused as a duplicate",
			build: func(stored, _ []eventstore.EventData) (string, []eventstore.EventData) {
				return "property-d", []eventstore.EventData{Event("New", `{}`), stored[0]}
			},
		},
		{
			name: "stored IDs in another order are refused as a duplicate",
			build: func(stored, _ []eventstore.EventData) (string, []eventstore.EventData) {
				return "property-d", []eventstore.EventData{stored[1], stored[0]}
			},
		},
		{
			name: "stored IDs that are not consecutive are refused as a duplicate",
			build: func(stored, _ []eventstore.EventData) (string, []eventstore.EventData) {
				return "property-d", []eventstore.EventData{stored[0], stored[2]}
			},
		},
		{
			name: "stored IDs appended to another stream are refused as a duplicate",
			build: func(stored, _ []eventstore.EventData) (string, []eventstore.EventData) {
				return "property-elsewhere", stored
			},
		},
		{
			name: "IDs stored in two streams are refused as a duplicate",
			build: func(stored, other []eventstore.EventData) (string, []eventstore.EventData) {
				return "property-d", []eventstore.EventData{stored[2], other[0]}
			},
		},
	}
	for _, tt := range duplicates {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			stored, other := Events(3), Events(1)
			MustAppend(t, s, "property-d", eventstore.NoStream(), stored)
			MustAppend(t, s, "property-other", eventstore.NoStream(), other)
			before := WaitForFeed(t, s, 4)

			stream, events := tt.build(stored, other)
			_, err := s.Append(context.Background(), stream, eventstore.Any(), events)
			if !errors.Is(err, eventstore.ErrDuplicateEvent) {
				t.Fatalf("Append error = %v, want one matching ErrDuplicateEvent", err)
			}
			if errors.Is(err, eventstore.ErrConflict) {
				t.Errorf("a duplicate also matches ErrConflict: %v", err)
			}
			checkUnchanged(t, s, before)
		})
	}
}

// checkUnchanged fails the test if the feed differs from before. An append
// that is refused or repeated must store nothing, not even an event that is
// still held back: the store's next append is read after it to be sure.
func checkUnchanged(t *testing.T, s eventstore.Store, before []eventstore.RecordedEvent) {
	t.Helper()
	marker := Event("Marker", `{}`)
	MustAppend(t, s, "property-marker", eventstore.NoStream(), []eventstore.EventData{marker})
	after := WaitForFeed(t, s, len(before)+1)
	want := append(ids(before), marker.ID)
	if diff := cmp.Diff(want, ids(after)); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
}

func testValidation(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Parallel()
	valid := func() eventstore.EventData { return Event("Valid", `{"ok":true}`) }
	with := func(change func(*eventstore.EventData)) []eventstore.EventData {
		e := valid()
		change(&e)
		return []eventstore.EventData{e}
	}
	same := valid()
	tests := []struct {
		name   string
		stream string
		events []eventstore.EventData
	}{
		{"an append without events is refused", "property-v", []eventstore.EventData{}},
		{"an append of nil events is refused", "property-v", nil},
		{"an append without a stream name is refused", "", []eventstore.EventData{valid()}},
		{"an event ID that is not a UUID is refused", "property-v", with(func(e *eventstore.EventData) { e.ID = "not-a-uuid" })},
		{"an empty event ID is refused", "property-v", with(func(e *eventstore.EventData) { e.ID = "" })},
		{"an upper-case UUID is refused", "property-v", with(func(e *eventstore.EventData) { e.ID = "6BA7B810-9DAD-11D1-80B4-00C04FD430C8" })},
		{"a UUID without hyphens is refused", "property-v", with(func(e *eventstore.EventData) { e.ID = "6ba7b8109dad11d180b400c04fd430c8" })},
		{"the same ID twice in one append is refused", "property-v", []eventstore.EventData{same, same}},
		{"an event without a type is refused", "property-v", with(func(e *eventstore.EventData) { e.Type = "" })},
		{"data that is not JSON is refused", "property-v", with(func(e *eventstore.EventData) { e.Data = []byte(`{"a":`) })},
		{"empty data is refused", "property-v", with(func(e *eventstore.EventData) { e.Data = nil })},
		{"data with invalid UTF-8 is refused", "property-v", with(func(e *eventstore.EventData) { e.Data = []byte("\"\xff\"") })},
		{"metadata that is not JSON is refused", "property-v", with(func(e *eventstore.EventData) { e.Metadata = []byte(`not json`) })},
		{"one bad event refuses the whole append", "property-v", append([]eventstore.EventData{valid()}, with(func(e *eventstore.EventData) { e.ID = "x" })...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			_, err := s.Append(context.Background(), tt.stream, eventstore.Any(), tt.events)
			if !errors.Is(err, eventstore.ErrInvalidAppend) {
				t.Fatalf("Append error = %v, want one matching ErrInvalidAppend", err)
			}
			checkUnchanged(t, s, nil)
		})
	}
}
