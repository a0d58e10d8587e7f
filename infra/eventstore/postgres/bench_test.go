package postgres_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
)

// BenchmarkAppend appends one event at a time to one stream with an exact
// expected revision, as a command handler does.
func BenchmarkAppend(b *testing.B) {
	store := postgres.New(pgtest.NewPool(b))
	ctx := context.Background()
	expected := eventstore.NoStream()
	for b.Loop() {
		res, err := store.Append(ctx, "property-bench", expected, storetest.Events(1))
		if err != nil {
			b.Fatalf("Append: %v", err)
		}
		expected = eventstore.Exact(res.Revision)
	}
}

// BenchmarkReadAll reads a batch of 500 events of the global feed, as a
// catching-up projector does.
func BenchmarkReadAll(b *testing.B) {
	const total, batch = 5000, 500
	store := postgres.New(pgtest.NewPool(b))
	for i := 0; i < total/100; i++ {
		storetest.MustAppend(b, store, "property-bench", eventstore.Any(), storetest.Events(100))
	}
	feed := storetest.WaitForFeed(b, store, total)
	after := feed[total/2].Position
	ctx := context.Background()
	for b.Loop() {
		events, err := store.ReadAll(ctx, after, batch)
		if err != nil || len(events) != batch {
			b.Fatalf("ReadAll = %d events, %v; want %d", len(events), err, batch)
		}
	}
	b.ReportMetric(batch, "events/op")
}
