package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
)

// TestSubscriptionCloseReleasesItsConnection: each subscription listens on
// a connection of its own, which Close must end.
func TestSubscriptionCloseReleasesItsConnection(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	sub, err := postgres.New(pool).SubscribeAll(context.Background(), eventstore.Start)
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	waitForListeners(t, pool, 1)
	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitForListeners(t, pool, 0)
}

// TestSubscriptionSurvivesALostListener: when the listening connection
// dies, the subscription keeps delivering, by polling until it reconnects.
func TestSubscriptionSurvivesALostListener(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := postgres.New(pool)
	sub, err := store.SubscribeAll(ctx, eventstore.Start)
	if err != nil {
		t.Fatalf("SubscribeAll: %v", err)
	}
	defer sub.Close()
	waitForListeners(t, pool, 1)
	if _, err := pool.Exec(ctx, `
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN roster_events'`); err != nil {
		t.Fatalf("terminate the listener: %v", err)
	}

	want := storetest.Events(2)
	storetest.MustAppend(t, store, "property-l", eventstore.NoStream(), want)
	nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var got []eventstore.RecordedEvent
	for len(got) < len(want) {
		batch, err := sub.Next(nctx)
		if err != nil {
			t.Fatalf("Next after the listener died: %v", err)
		}
		got = append(got, batch...)
	}
	if diff := cmp.Diff([]string{want[0].ID, want[1].ID}, eventIDs(got)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// The listener comes back on its own.
	waitForListeners(t, pool, 1)
}

// waitForListeners waits until exactly n sessions of this database are
// listening for appends.
func waitForListeners(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var count int
		err := pool.QueryRow(context.Background(), `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN roster_events'`).Scan(&count)
		if err != nil {
			t.Fatalf("count listeners: %v", err)
		}
		if count == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions listen for appends, want %d", count, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
