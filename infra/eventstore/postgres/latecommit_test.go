package postgres_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
)

// TestLateCommit controls two transactions by hand: A starts first and
// stays open while B, a store Append, commits. A reader must not return B
// while A may still commit an event before it, and once A has ended it must
// return A's event (if A committed one) and then B's, skipping nothing.
func TestLateCommit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// insertBefore and insertAfter say whether A inserts its event
		// before or after B commits; commit whether A commits at the end.
		insertBefore, insertAfter, commit bool
		wantA                             bool
	}{
		{name: "an open transaction that inserted first holds back a later commit, then comes before it", insertBefore: true, commit: true, wantA: true},
		{name: "a transaction that took its id first but inserts after a later commit comes before it", insertAfter: true, commit: true, wantA: true},
		{name: "a transaction that rolls back holds the feed only while it is open", insertBefore: true, commit: false},
		{name: "an open transaction that writes no event holds the feed only while it is open", commit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.NewPool(t)
			store := postgres.New(pool)
			sub, err := store.SubscribeAll(ctx, eventstore.Start)
			if err != nil {
				t.Fatalf("SubscribeAll: %v", err)
			}
			defer sub.Close()

			txA, err := pool.Begin(ctx)
			if err != nil {
				t.Fatalf("begin A: %v", err)
			}
			defer txA.Rollback(ctx)
			// A takes its transaction id now, before B exists.
			var xidA uint64
			if err := txA.QueryRow(ctx, `SELECT pg_current_xact_id()`).Scan(&xidA); err != nil {
				t.Fatalf("A's transaction id: %v", err)
			}
			eventA := storetest.Event("Late", `{"tx":"A"}`)
			if tt.insertBefore {
				rawInsert(t, txA, eventA, "property-a", 0)
			}

			eventB := storetest.Event("Early", `{"tx":"B"}`)
			resB := storetest.MustAppend(t, store, "property-b", eventstore.NoStream(), []eventstore.EventData{eventB})
			if resB.Position.Commit <= xidA {
				t.Fatalf("B's position %s does not follow A's transaction id %d", resB.Position, xidA)
			}
			// B has committed and A is open: nothing may be returned yet,
			// since A could still commit an event that comes before B.
			checkHeldBack(t, store)

			if tt.insertAfter {
				rawInsert(t, txA, eventA, "property-a", 0)
				checkHeldBack(t, store)
			}
			if tt.commit {
				err = txA.Commit(ctx)
			} else {
				err = txA.Rollback(ctx)
			}
			if err != nil {
				t.Fatalf("end A: %v", err)
			}

			want := []string{eventB.ID}
			if tt.wantA {
				want = []string{eventA.ID, eventB.ID}
			}
			// Other tests' transactions on the server may hold the feed a
			// little longer; WaitForFeed waits for them, not for A.
			feed := storetest.WaitForFeed(t, store, len(want))
			if diff := cmp.Diff(want, eventIDs(feed)); diff != "" {
				t.Errorf("feed after A ended (-want +got):\n%s", diff)
			}
			if tt.wantA && feed[0].Position.Commit != xidA {
				t.Errorf("A's event at %s, want transaction id %d", feed[0].Position, xidA)
			}
			var followed []eventstore.RecordedEvent
			for len(followed) < len(want) {
				batch, err := sub.Next(ctx)
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				followed = append(followed, batch...)
			}
			if diff := cmp.Diff(want, eventIDs(followed)); diff != "" {
				t.Errorf("subscription (-want +got):\n%s", diff)
			}
		})
	}
}

// checkHeldBack fails the test if the feed returns anything.
func checkHeldBack(t *testing.T, store *postgres.Store) {
	t.Helper()
	got, err := store.ReadAll(context.Background(), eventstore.Start, 10)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if len(got) > 0 {
		t.Errorf("ReadAll returned %v while an older transaction is open, want nothing yet", eventIDs(got))
	}
}

// rawInsert writes e in tx as the store would, bypassing Append so that the
// test decides when its transaction ends.
func rawInsert(t *testing.T, tx pgx.Tx, e eventstore.EventData, stream string, revision int64) {
	t.Helper()
	_, err := tx.Exec(context.Background(), `
		INSERT INTO events (event_id, stream_id, revision, type, data, metadata)
		VALUES ($1::uuid, $2, $3, $4, $5::text::json, $6::text::json)`,
		e.ID, stream, revision, e.Type, string(e.Data), string(e.Metadata))
	if err != nil {
		t.Fatalf("insert %s into %s: %v", e.ID, stream, err)
	}
}

func eventIDs(events []eventstore.RecordedEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}
