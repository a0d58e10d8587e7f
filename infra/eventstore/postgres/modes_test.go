package postgres_test

import (
	"context"
	"math"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
)

// TestStoreSimpleProtocol runs the contract suite with pgx's simple
// protocol, which connection poolers in transaction mode require: parameters
// then travel as text, so the casts to xid8, uuid and json must hold there
// too.
func TestStoreSimpleProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("the contract suite already runs with the default protocol")
	}
	storetest.Run(t, func(t *testing.T) eventstore.Store {
		cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
		if err != nil {
			t.Fatalf("parse config: %v", err)
		}
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatalf("open pool: %v", err)
		}
		t.Cleanup(pool.Close)
		return postgres.New(pool)
	})
}

// TestReadAllAfterLargestPosition checks that positions beyond any stored
// transaction id or sequence (a client may send any Roster-Min-Position)
// read as "after everything" rather than fail to encode.
func TestReadAllAfterLargestPosition(t *testing.T) {
	t.Parallel()
	store := postgres.New(pgtest.NewPool(t))
	storetest.MustAppend(t, store, "property-p", eventstore.NoStream(), storetest.Events(2))
	feed := storetest.WaitForFeed(t, store, 2)
	for _, after := range []eventstore.Position{
		{Commit: math.MaxUint64, Prepare: math.MaxUint64},
		{Commit: feed[1].Position.Commit, Prepare: math.MaxUint64},
		{Commit: math.MaxInt64 + 1, Prepare: 0},
	} {
		got, err := store.ReadAll(context.Background(), after, 10)
		if err != nil || len(got) != 0 {
			t.Errorf("ReadAll after %s = %v, %v; want nothing", after, eventIDs(got), err)
		}
	}
}
