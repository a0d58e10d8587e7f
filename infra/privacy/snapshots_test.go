package privacy

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/pgtest"
)

// TestForgetDeletesTheHistorySnapshotsOfThePerson: the snapshots of
// readmodels' History that hold the email, or an account the read models
// tie to it, are deleted and counted; the others stay.
func TestForgetDeletesTheHistorySnapshotsOfThePerson(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO rm_members (property_id, account_id, email, role, status, joined_at, updated_at)
		VALUES ('p-1', $1, $2, 'agent', 'enabled', now(), now())`, ann.id, ann.email); err != nil {
		t.Fatal(err)
	}
	snapshots := []struct {
		name     string
		emails   []string
		accounts []string
		kept     bool
	}{
		{"holds the email", []string{"bob@example.com", ann.email}, []string{bob.id}, false},
		{"holds the account only, as an actor sealed under it", []string{}, []string{ann.id}, false},
		{"holds neither", []string{bob.email}, []string{bob.id}, true},
		{"holds nobody", []string{}, []string{}, true},
	}
	for i, s := range snapshots {
		if _, err := pool.Exec(ctx, `INSERT INTO history_snapshots
			(property_id, revision, format, last_event_id, max_at_ns, state, emails, accounts)
			VALUES ($1, 1, 1, 'event-0', 0, '{}', $2, $3)`, s.name, s.emails, s.accounts); err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
	}
	f, err := NewVault(pool).Forget(ctx, "  Ann@Example.com ")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Scrubbed["history_snapshots.state"]; got != 2 {
		t.Errorf("Scrubbed %v, want 2 history_snapshots.state", f.Scrubbed)
	}
	rows, err := pool.Query(ctx, `SELECT property_id FROM history_snapshots ORDER BY property_id`)
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snapshots {
		if kept := slices.Contains(left, s.name); kept != s.kept {
			t.Errorf("snapshot that %s: kept = %v, want %v", s.name, kept, s.kept)
		}
	}
}
