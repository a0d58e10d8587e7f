package readmodels_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/privacy"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// sealingAppender seals personal fields through the vault before it
// appends, as the executor does.
type sealingAppender struct {
	pt.Appender
	vault *privacy.Vault
}

func (s sealingAppender) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if err := s.vault.Seal(ctx, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	return s.Appender.Append(ctx, stream, expected, events)
}

// sealedStore appends steps, sealed, to the PostgreSQL event store in pool
// and returns it with the vault that opens them.
func sealedStore(tb testing.TB, pool *pgxpool.Pool, steps []pt.Step) (*postgres.Store, *privacy.Vault) {
	tb.Helper()
	store, vault := postgres.New(pool), privacy.NewVault(pool)
	pt.Load(tb, sealingAppender{Appender: store, vault: vault}, steps, 1, 500)
	return store, vault
}

// snapshotsHolding counts the snapshots that hold s anywhere.
func snapshotsHolding(t *testing.T, pool *pgxpool.Pool, s string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM history_snapshots
		WHERE strpos(convert_from(state, 'UTF8'), $1) > 0 OR strpos(array_to_string(emails, ' '), $1) > 0`, s).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestForgetDropsTheSnapshotsThatHoldThePerson: forgetting a person
// deletes every snapshot holding their email, and no other; the answers
// then show the erased marker where the email was, exactly as the full
// fold does, and the snapshots written afterwards hold the marker only.
func TestForgetDropsTheSnapshotsThatHoldThePerson(t *testing.T) {
	t.Parallel()
	const other = "p-other"
	pool := pgtest.NewPool(t)
	steps := append(longSteps(longProperty, 11, 1200), longSteps(other, 12, 400)...)
	store, vault := sealedStore(t, pool, steps)
	clock := func() time.Time { return asOfNow }
	snap := readmodels.NewHistory(readmodels.HistoryConfig{Events: store, Opener: vault, Pool: pool, SnapshotEvery: 100, Now: clock})
	full := readmodels.NewHistory(readmodels.HistoryConfig{Events: store, Opener: vault, Now: clock})
	ctx := context.Background()

	before, err := snap.Review(ctx, longProperty, asOfNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snap.Review(ctx, other, asOfNow); err != nil {
		t.Fatal(err)
	}
	// The person forgotten is the member who has been one longest, after
	// the owner: their email is in most snapshots.
	var person readmodels.ReviewMember
	for _, m := range before.Members {
		if !m.Owner && (person.AccountID == "" || m.JoinedAt.Before(person.JoinedAt)) {
			person = m
		}
	}
	if person.AccountID == "" || snapshotsHolding(t, pool, person.Email) == 0 {
		t.Fatalf("no snapshot holds member %+v: the test proves nothing", person)
	}
	otherSnapshots := countSnapshots(t, pool, other)

	f, err := vault.Forget(ctx, person.Email)
	if err != nil {
		t.Fatal(err)
	}
	if n := snapshotsHolding(t, pool, person.Email); n != 0 {
		t.Errorf("%d snapshots still hold %s after it was forgotten", n, person.Email)
	}
	if f.Scrubbed["history_snapshots.state"] == 0 {
		t.Errorf("Forget reports %v, want the snapshots it deleted counted", f.Scrubbed)
	}
	if got := countSnapshots(t, pool, other); got != otherSnapshots {
		t.Errorf("property %s has %d snapshots, want its %d: the person was never in it", other, got, otherSnapshots)
	}

	for _, at := range []time.Time{asOfNow, pt.At(1100), pt.At(600), person.JoinedAt} {
		want, err := full.Review(ctx, longProperty, at)
		if err != nil {
			t.Fatal(err)
		}
		got, err := snap.Review(ctx, longProperty, at)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("review at %s (-full fold +snapshots):\n%s", at.Format(time.RFC3339), diff)
		}
		shown, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(shown), person.Email) {
			t.Errorf("the review at %s shows %s after it was forgotten", at.Format(time.RFC3339), person.Email)
		}
		members, err := snap.Members(ctx, longProperty, at, readmodels.MemberFilter{Limit: readmodels.MaxMemberLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range members.Members {
			if m.AccountID == person.AccountID && m.Email != f.Marker {
				t.Errorf("member %s at %s has email %q, want the marker %q", m.AccountID, at.Format(time.RFC3339), m.Email, f.Marker)
			}
		}
	}
	if n := snapshotsHolding(t, pool, person.Email); n != 0 {
		t.Errorf("%d snapshots written after the forget hold %s", n, person.Email)
	}
	if n := snapshotsHolding(t, pool, f.Marker); n == 0 {
		t.Errorf("no snapshot written after the forget holds the marker %s", f.Marker)
	}
}
