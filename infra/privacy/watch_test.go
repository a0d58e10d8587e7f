package privacy

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/pgtest"
)

// receive waits for c; the minute guards against a hang, it measures nothing.
func receive(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(time.Minute):
		t.Fatalf("no %s", what)
	}
}

// TestWatchHearsAForgetByAnotherProcess: a process that cached Ann's key
// drops it when another process forgets her, tells its caller, and seals
// her next event under a new key; Watch returns when its context ends.
func TestWatchHearsAForgetByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	serving, operator := NewVault(pool), NewVault(pool)
	listening, forgets := make(chan struct{}, 4), make(chan struct{}, 4)
	serving.onListen = func() { listening <- struct{}{} }

	wctx, cancel := context.WithCancel(ctx)
	var (
		wg       sync.WaitGroup
		watchErr error
	)
	wg.Go(func() { watchErr = serving.Watch(wctx, func() { forgets <- struct{}{} }) })
	defer func() {
		cancel()
		wg.Wait()
		if watchErr != nil {
			t.Errorf("Watch = %v, want nil when its context ends", watchErr)
		}
	}()
	receive(t, listening, "LISTEN")
	receive(t, forgets, "flush on starting to listen")

	first := []eventstore.EventData{event(t, invited(ann.email), bob)}
	if err := serving.Seal(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := operator.Forget(ctx, ann.email); err != nil {
		t.Fatal(err)
	}
	receive(t, forgets, "notification of the forget")

	second := []eventstore.EventData{event(t, invited(ann.email), bob)}
	if err := serving.Seal(ctx, second); err != nil {
		t.Fatal(err)
	}
	if was, now := subjectOf(t, field(t, first[0].Data, "email")), subjectOf(t, field(t, second[0].Data, "email")); was == now {
		t.Fatalf("sealed again under the destroyed key of subject %s", was)
	}
	recs := recorded(second...)
	if err := serving.Open(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if got := field(t, recs[0].Data, "email"); got != ann.email {
		t.Errorf("the invitation after the forget opens as %q, want %q", got, ann.email)
	}
}

// waitForLockWaiter returns once some session of the test's database waits
// for a lock: Forget, blocked by the projection's transaction.
func waitForLockWaiter(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatalf("no session waited for a lock: %v", err)
		}
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("Forget never waited for the projection's transaction")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestForgetWaitsForProjectionsInFlight: a projection transaction that
// wrote Ann's plaintext, decrypted in it or copied from another row, holds
// Forget back until it commits, and Forget then scrubs what it wrote.
func TestForgetWaitsForProjectionsInFlight(t *testing.T) {
	tests := []struct {
		name string
		// begin starts the projection's work in tx and returns the email
		// it will write.
		begin func(t *testing.T, v *Vault, tx pgx.Tx, sealed []eventstore.EventData) string
	}{
		{"a projection holding the key it decrypted with", func(t *testing.T, v *Vault, tx pgx.Tx, sealed []eventstore.EventData) string {
			recs := recorded(sealed...)
			if err := v.OpenTx(context.Background(), tx, recs); err != nil {
				t.Fatal(err)
			}
			return field(t, recs[0].Data, "email")
		}},
		{"a projection holding its checkpoint, copying from its own rows", func(t *testing.T, v *Vault, tx pgx.Tx, _ []eventstore.EventData) string {
			ctx := context.Background()
			if _, err := v.pool.Exec(ctx, `INSERT INTO projection_checkpoints (name) VALUES ('invitations')`); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `SELECT 1 FROM projection_checkpoints WHERE name = 'invitations' FOR UPDATE`); err != nil {
				t.Fatal(err)
			}
			return ann.email
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			pool := pgtest.NewPool(t)
			v := NewVault(pool)
			sealed := []eventstore.EventData{event(t, invited(ann.email), bob)}
			if err := v.Seal(ctx, sealed); err != nil {
				t.Fatal(err)
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			email := tt.begin(t, v, tx, sealed)
			if email != ann.email {
				t.Fatalf("the projection read %q, want Ann's plaintext", email)
			}

			done := make(chan struct{})
			var (
				f         Forgotten
				forgetErr error
			)
			go func() {
				defer close(done)
				f, forgetErr = v.Forget(ctx, ann.email)
			}()
			waitForLockWaiter(t, pool)
			if _, err := tx.Exec(ctx, `INSERT INTO rm_invitations (property_id, invitation_id, email, role, status,
				invited_by, created_at, expires_at, updated_at) VALUES ('p1', 'i1', $1, 'agent', 'pending', 'acc-bob', now(), now(), now())`,
				email); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			<-done
			if forgetErr != nil {
				t.Fatal(forgetErr)
			}
			var stored string
			if err := pool.QueryRow(ctx, `SELECT email FROM rm_invitations WHERE invitation_id = 'i1'`).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored != f.Marker {
				t.Errorf("the projection's row holds %q after the forget, want the marker %q", stored, f.Marker)
			}
		})
	}
}
