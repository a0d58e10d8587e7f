package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
)

// TestSubscriptionsShareOneListener: a store's subscriptions listen on one
// connection, opened by the first and closed with the last, and each is
// woken by an append.
func TestSubscriptionsShareOneListener(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := postgres.New(pool)
	var subs []eventstore.Subscription
	for range 3 {
		sub, err := store.SubscribeAll(ctx, eventstore.Start)
		if err != nil {
			t.Fatalf("SubscribeAll: %v", err)
		}
		subs = append(subs, sub)
	}
	waitForListeners(t, pool, 1)

	// Each subscription sees the append (woken, or by its polling).
	want := storetest.Events(1)
	storetest.MustAppend(t, store, "property-share", eventstore.NoStream(), want)
	for i, sub := range subs {
		nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		got, err := sub.Next(nctx)
		cancel()
		if err != nil || len(got) != 1 || got[0].ID != want[0].ID {
			t.Fatalf("subscription %d: %v, %v; want the appended event", i, eventIDs(got), err)
		}
	}

	if err := subs[0].Close(); err != nil {
		t.Fatal(err)
	}
	if err := subs[0].Close(); err != nil { // a second Close is harmless
		t.Fatal(err)
	}
	waitForListeners(t, pool, 1)
	for _, sub := range subs[1:] {
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
	}
	waitForListeners(t, pool, 0)

	// A subscription after the last one closed listens again.
	sub, err := store.SubscribeAll(ctx, eventstore.Start)
	if err != nil {
		t.Fatalf("SubscribeAll after the last Close: %v", err)
	}
	waitForListeners(t, pool, 1)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	waitForListeners(t, pool, 0)
}

// TestSubscribeAllWithoutADatabase: a store whose database cannot be
// reached refuses the subscription, and a later one tries again.
func TestSubscribeAllWithoutADatabase(t *testing.T) {
	t.Parallel()
	bad, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	store := postgres.New(bad)
	for i := range 2 {
		if _, err := store.SubscribeAll(context.Background(), eventstore.Start); err == nil {
			t.Fatalf("attempt %d: SubscribeAll without a database succeeded", i)
		}
	}
}
