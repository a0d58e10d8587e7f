package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
)

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
