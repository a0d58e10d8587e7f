package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
)

func newKey(email, account string) postgres.Key {
	return postgres.Key{Subject: uuid.New(), Email: email, AccountID: account, Data: bytes.Repeat([]byte{7}, 32)}
}

// liveKeys counts the live keys of email or account.
func liveKeys(t *testing.T, pool *pgxpool.Pool, email, account string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM privacy_subjects
		WHERE erased_at IS NULL AND (email = $1 OR account_id = $2)`, email, account).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func streamLength(t *testing.T, s *postgres.Store, stream string) int {
	t.Helper()
	recs, err := s.ReadStreamPage(context.Background(), stream, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// TestAppendWithKeysStoresKeysAndEventsTogether: the keys are stored by
// the append that lands, and by no append that does not.
func TestAppendWithKeysStoresKeysAndEventsTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	s := postgres.New(pool)

	cat, acct := newKey("cat@example.com", ""), newKey("", "acc-cat")
	res, err := s.AppendWithKeys(ctx, "property-k1", eventstore.NoStream(), storetest.Events(2), []postgres.Key{cat, acct})
	if err != nil {
		t.Fatal(err)
	}
	if res.Revision != 1 || streamLength(t, s, "property-k1") != 2 {
		t.Fatalf("appended to revision %d, %d events stored; want 1 and 2", res.Revision, streamLength(t, s, "property-k1"))
	}
	if n := liveKeys(t, pool, "cat@example.com", "acc-cat"); n != 2 {
		t.Fatalf("%d live keys stored, want 2", n)
	}

	// A conflict stores neither the events nor the keys.
	dee := newKey("dee@example.com", "")
	_, err = s.AppendWithKeys(ctx, "property-k1", eventstore.Exact(0), storetest.Events(1), []postgres.Key{dee})
	var conflict *eventstore.ConflictError
	if !errors.As(err, &conflict) || conflict.Actual != 1 {
		t.Fatalf("append at a stale revision: %v, want a conflict at revision 1", err)
	}
	if n := liveKeys(t, pool, "dee@example.com", ""); n != 0 {
		t.Fatalf("a refused append stored %d keys", n)
	}

	// No keys: as Append.
	if _, err := s.AppendWithKeys(ctx, "property-k1", eventstore.Exact(1), storetest.Events(1), nil); err != nil {
		t.Fatal(err)
	}
	if n := streamLength(t, s, "property-k1"); n != 3 {
		t.Fatalf("%d events stored, want 3", n)
	}
}

// TestAppendWithKeysAnswersTheLiveKeys: a key for someone who has a live
// key already stores nothing and is answered with the live keys of
// everyone the append made keys for.
func TestAppendWithKeysAnswersTheLiveKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	s := postgres.New(pool)
	first := newKey("cat@example.com", "")
	if _, err := s.AppendWithKeys(ctx, "property-k2", eventstore.NoStream(), storetest.Events(1), []postgres.Key{first}); err != nil {
		t.Fatal(err)
	}

	again, fresh := newKey("cat@example.com", ""), newKey("eve@example.com", "")
	_, err := s.AppendWithKeys(ctx, "property-k3", eventstore.NoStream(), storetest.Events(1), []postgres.Key{again, fresh})
	var taken *postgres.KeysTakenError
	if !errors.As(err, &taken) {
		t.Fatalf("append with a key for a person who has one: %v, want a *KeysTakenError", err)
	}
	if len(taken.Live) != 1 || taken.Live[0].Subject != first.Subject || taken.Live[0].Email != "cat@example.com" ||
		!bytes.Equal(taken.Live[0].Data, first.Data) {
		t.Fatalf("live keys %+v, want only the first key of cat@example.com", taken.Live)
	}
	if streamLength(t, s, "property-k3") != 0 || liveKeys(t, pool, "eve@example.com", "") != 0 {
		t.Fatal("a refused append stored events or keys")
	}

	// Sealed again under the live key, the same append lands.
	if _, err := s.AppendWithKeys(ctx, "property-k3", eventstore.NoStream(), storetest.Events(1), []postgres.Key{fresh}); err != nil {
		t.Fatal(err)
	}
	if liveKeys(t, pool, "cat@example.com", "") != 1 || liveKeys(t, pool, "eve@example.com", "") != 1 {
		t.Fatal("want one live key each for cat and eve")
	}
}

// TestAppendWithKeysRefusesBadInput: keys that privacy_subjects cannot
// hold, and events Append refuses, store nothing.
func TestAppendWithKeysRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	s := postgres.New(pool)
	short := newKey("short@example.com", "")
	short.Data = short.Data[:16]
	tests := []struct {
		name   string
		events []eventstore.EventData
		keys   []postgres.Key
	}{
		{"a key with both an email and an account", storetest.Events(1), []postgres.Key{newKey("both@example.com", "acc-both")}},
		{"a key with neither", storetest.Events(1), []postgres.Key{newKey("", "")}},
		{"a key of 16 bytes", storetest.Events(1), []postgres.Key{short}},
		{"no events", nil, []postgres.Key{newKey("none@example.com", "")}},
		{"an event ID that is no UUID", []eventstore.EventData{{ID: "x", Type: "T", Data: []byte(`{}`)}},
			[]postgres.Key{newKey("bad-id@example.com", "")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.AppendWithKeys(ctx, "property-bad", eventstore.Any(), tt.events, tt.keys)
			if !errors.Is(err, eventstore.ErrInvalidAppend) {
				t.Fatalf("got %v, want ErrInvalidAppend", err)
			}
		})
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM privacy_subjects`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 || streamLength(t, s, "property-bad") != 0 {
		t.Fatalf("refused appends stored %d keys and %d events", n, streamLength(t, s, "property-bad"))
	}
}
