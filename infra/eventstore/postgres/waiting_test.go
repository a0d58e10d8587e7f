package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
)

// TestAppendAfterWaitingOnAnotherWriter covers the unique violations an
// append meets when another transaction X writes the same stream revision or
// the same event ID first and commits while the append waits on it: the
// append must answer as if it had come after X.
func TestAppendAfterWaitingOnAnotherWriter(t *testing.T) {
	t.Parallel()
	mine := storetest.Event("Mine", `{}`)
	tests := []struct {
		name     string
		xEvent   eventstore.EventData // what X inserts at revision 0
		xStream  string
		expected eventstore.ExpectedRevision
		// wantRevision is checked when wantErr is nil; wantSameAsX says the
		// result must be X's own.
		wantRevision uint64
		wantSameAsX  bool
		wantErr      error
	}{
		{name: "an identical append committed meanwhile gives its result", xEvent: mine, xStream: "property-w", expected: eventstore.NoStream(), wantSameAsX: true},
		{name: "another event taking the revision meanwhile makes NoStream conflict", xEvent: storetest.Event("Theirs", `{}`), xStream: "property-w", expected: eventstore.NoStream(), wantErr: eventstore.ErrConflict},
		{name: "another event taking the revision meanwhile makes Any append after it", xEvent: storetest.Event("Theirs", `{}`), xStream: "property-w", expected: eventstore.Any(), wantRevision: 1},
		{name: "the same event id stored in another stream meanwhile is a duplicate", xEvent: mine, xStream: "property-x", expected: eventstore.NoStream(), wantErr: eventstore.ErrDuplicateEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.NewPool(t)
			store := postgres.New(pool)

			txX, err := pool.Begin(ctx)
			if err != nil {
				t.Fatalf("begin X: %v", err)
			}
			defer txX.Rollback(ctx)
			rawInsert(t, txX, tt.xEvent, tt.xStream, 0)

			type outcome struct {
				res eventstore.AppendResult
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				res, err := store.Append(ctx, "property-w", tt.expected, []eventstore.EventData{mine})
				done <- outcome{res, err}
			}()
			waitForBlockedInsert(t, pool)
			if err := txX.Commit(ctx); err != nil {
				t.Fatalf("commit X: %v", err)
			}
			var got outcome
			select {
			case got = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Append still blocked 30s after X committed")
			}

			if tt.wantErr != nil {
				if !errors.Is(got.err, tt.wantErr) {
					t.Fatalf("Append error = %v, want one matching %v", got.err, tt.wantErr)
				}
				return
			}
			if got.err != nil {
				t.Fatalf("Append: %v", got.err)
			}
			stream, err := store.ReadStream(ctx, "property-w", 0)
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			want := eventstore.AppendResult{Revision: tt.wantRevision, Position: stream[len(stream)-1].Position}
			if tt.wantSameAsX {
				want = eventstore.AppendResult{Revision: 0, Position: stream[0].Position}
				if len(stream) != 1 {
					t.Errorf("the stream holds %d events, want X's alone", len(stream))
				}
			}
			if diff := cmp.Diff(want, got.res); diff != "" {
				t.Errorf("Append result (-want +got):\n%s", diff)
			}
		})
	}
}

// waitForBlockedInsert returns once a session of this database waits on a
// lock in an insert into events (roster_append's, or a raw one): the append
// under test has reached the unique index and waits for X. Polling a condition, not sleeping a guess.
func waitForBlockedInsert(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting bool
		err := pool.QueryRow(context.Background(), `
			SELECT EXISTS (
				SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database()
				  AND wait_event_type = 'Lock'
				  AND (query LIKE '%INSERT INTO events%' OR query LIKE '%roster_append(%')
			)`).Scan(&waiting)
		if err != nil {
			t.Fatalf("look for the blocked insert: %v", err)
		}
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the append never waited on X's insert")
		}
		time.Sleep(time.Millisecond)
	}
}
