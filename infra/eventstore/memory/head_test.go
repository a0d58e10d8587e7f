package memory_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
)

func TestHeadAndCountAfter(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	if head, err := store.Head(ctx); err != nil || head != eventstore.Start {
		t.Fatalf("Head of an empty store = %s, %v; want %s", head, err, eventstore.Start)
	}
	if n, err := store.CountAfter(ctx, eventstore.Start); err != nil || n != 0 {
		t.Fatalf("CountAfter(start) of an empty store = %d, %v; want 0", n, err)
	}
	storetest.MustAppend(t, store, "property-a", eventstore.NoStream(), storetest.Events(3))
	last := storetest.MustAppend(t, store, "property-b", eventstore.NoStream(), storetest.Events(4))

	tests := []struct {
		name  string
		after eventstore.Position
		want  int64
	}{
		{"from the start every event counts", eventstore.Start, 7},
		{"events at or before the position do not count", eventstore.Position{Commit: 3, Prepare: 3}, 4},
		{"a position between two events counts those after it", eventstore.Position{Commit: 3, Prepare: 9}, 4},
		{"nothing comes after the head", last.Position, 0},
		{"a position beyond the feed counts nothing", eventstore.Position{Commit: 99, Prepare: 99}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.CountAfter(ctx, tt.after)
			if err != nil || got != tt.want {
				t.Errorf("CountAfter(%s) = %d, %v; want %d", tt.after, got, err, tt.want)
			}
		})
	}
	if head, err := store.Head(ctx); err != nil || head != last.Position {
		t.Errorf("Head = %s, %v; want %s", head, err, last.Position)
	}
}
