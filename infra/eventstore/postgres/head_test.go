package postgres_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
)

func TestHeadAndCountAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := postgres.New(pool)

	head, err := store.Head(ctx)
	if err != nil || head != eventstore.Start {
		t.Fatalf("Head of an empty store = %s, %v; want %s", head, err, eventstore.Start)
	}
	storetest.MustAppend(t, store, "property-a", eventstore.NoStream(), storetest.Events(3))
	storetest.MustAppend(t, store, "property-b", eventstore.NoStream(), storetest.Events(4))
	// Other tests' transactions on the server may hold the feed back for a
	// moment; once all seven are readable, nothing older can hold them.
	feed := storetest.WaitForFeed(t, store, 7)

	tests := []struct {
		name  string
		after eventstore.Position
		want  int64
	}{
		{"from the start every event counts", eventstore.Start, 7},
		{"events at or before the position do not count", feed[2].Position, 4},
		{"nothing comes after the head", feed[6].Position, 0},
		{"a position beyond the feed counts nothing", eventstore.Position{Commit: feed[6].Position.Commit + 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.CountAfter(ctx, tt.after)
			if err != nil || got != tt.want {
				t.Errorf("CountAfter(%s) = %d, %v; want %d", tt.after, got, err, tt.want)
			}
		})
	}
	t.Run("the head is the last event", func(t *testing.T) {
		if head, err := store.Head(ctx); err != nil || head != feed[6].Position {
			t.Errorf("Head = %s, %v; want %s", head, err, feed[6].Position)
		}
	})
}

// TestHeadHoldsBackWhatReadAllHoldsBack: an event committed while an older
// transaction is open is not readable yet, so it is neither the head nor
// counted; once that transaction ends it is both.
func TestHeadHoldsBackWhatReadAllHoldsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := postgres.New(pool)
	first := storetest.MustAppend(t, store, "property-a", eventstore.NoStream(), storetest.Events(1))
	storetest.WaitForFeed(t, store, 1)

	open, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(ctx)
	if _, err := open.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	late := storetest.MustAppend(t, store, "property-b", eventstore.NoStream(), storetest.Events(2))

	if head, err := store.Head(ctx); err != nil || head != first.Position {
		t.Errorf("Head while an older transaction is open = %s, %v; want %s", head, err, first.Position)
	}
	if n, err := store.CountAfter(ctx, eventstore.Start); err != nil || n != 1 {
		t.Errorf("CountAfter(start) while an older transaction is open = %d, %v; want 1", n, err)
	}
	if last, err := store.LastCommitted(ctx); err != nil || last != late.Position {
		t.Errorf("LastCommitted while an older transaction is open = %s, %v; want %s, held back or not", last, err, late.Position)
	}
	if err := open.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.WaitForFeed(t, store, 3)
	if head, err := store.Head(ctx); err != nil || head != late.Position {
		t.Errorf("Head after it ended = %s, %v; want %s", head, err, late.Position)
	}
	if n, err := store.CountAfter(ctx, eventstore.Start); err != nil || n != 3 {
		t.Errorf("CountAfter(start) after it ended = %d, %v; want 3", n, err)
	}
}
