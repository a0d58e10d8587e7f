package projections_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

func TestStatuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := memory.New()
	head := (&loader{store: store}).load(t, scriptCopies(0, 2)) // 52 events at 1..52
	at := func(n uint64) eventstore.Position { return eventstore.Position{Commit: n, Prepare: n} }
	ps := projections.All()
	// The first projection is at the head, the second 32 events behind it,
	// the others have never run.
	written := pt.At(5)
	for _, cp := range []struct {
		name string
		at   eventstore.Position
	}{{ps[0].Name, head}, {ps[1].Name, at(20)}} {
		if _, err := pool.Exec(ctx, `INSERT INTO projection_checkpoints (name, commit_position, prepare_position, updated_at)
			VALUES ($1, $2, $3, $4)`, cp.name, int64(cp.at.Commit), int64(cp.at.Prepare), written); err != nil {
			t.Fatal(err)
		}
	}
	want := func(known bool) []projections.Status {
		var out []projections.Status
		for i, p := range ps {
			st := projections.Status{Name: p.Name, Head: head, HeadKnown: true, Behind: 52}
			switch i {
			case 0:
				st.Checkpoint, st.UpdatedAt, st.Behind = head, written, 0
			case 1:
				st.Checkpoint, st.UpdatedAt, st.Behind = at(20), written, 32
			}
			if !known {
				st.Head, st.HeadKnown, st.Behind = eventstore.Start, false, -1
			}
			out = append(out, st)
		}
		return out
	}
	tests := []struct {
		name string
		head projections.FeedHead
		want []projections.Status
	}{
		{"a store that knows its head gives each projection's distance from it, never-run ones from the start", store, want(true)},
		{"without one the head and the distance are unknown", nil, want(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := projections.Statuses(ctx, pool, tt.head, ps...)
			if err != nil {
				t.Fatalf("Statuses: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, equalTimes); diff != "" {
				t.Errorf("Statuses (-want +got):\n%s", diff)
			}
		})
	}
}
