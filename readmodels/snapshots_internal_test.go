package readmodels

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/privacy"
)

// TestSnapshotsAreNotWrittenAcrossAForget: a fold that read the epoch
// before a forget committed may have opened the forgotten person's data
// with a key now destroyed, so its snapshots are not written; a fold that
// started after the forget writes its own.
func TestSnapshotsAreNotWrittenAcrossAForget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		forget  bool
		wantErr error
		want    int
	}{
		{"no forget while the fold ran: written", false, nil, 1},
		{"a forget while the fold ran: not written", true, errForgotten, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.NewPool(t)
			ss := snapshots{pool: pool}
			ctx := context.Background()
			_, _, epoch, err := ss.start(ctx, "p-race", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if tt.forget {
				if _, err := privacy.NewVault(pool).Forget(ctx, "nobody@example.com"); err != nil {
					t.Fatal(err)
				}
			}
			sn := snapshot{revision: 3, lastID: "event-2", maxAt: 1, state: []byte(`{"name":"Race"}`),
				emails: []string{"ann@example.com"}, accounts: []string{"acc-ann"}}
			if err := ss.save(ctx, "p-race", epoch, []snapshot{sn}); !errors.Is(err, tt.wantErr) {
				t.Fatalf("save = %v, want %v", err, tt.wantErr)
			}
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM history_snapshots WHERE property_id = 'p-race'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Errorf("%d snapshots written, want %d", n, tt.want)
			}
		})
	}
}
