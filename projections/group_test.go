package projections_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/recorded"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// members makes a group member of each of ps, without a fence.
func members(ps ...projections.Projection) []projections.Member {
	out := make([]projections.Member, len(ps))
	for i, p := range ps {
		out[i] = projections.Member{Projection: p}
	}
	return out
}

// applyGroup gives recs to a group of ms, size events per call, following
// on from after, and returns the members that left.
func applyGroup(t testing.TB, pool *pgxpool.Pool, recs []eventstore.RecordedEvent, size int, after eventstore.Position, ms []projections.Member) map[string]error {
	t.Helper()
	g := projections.NewGroup(pool, nil, zerolog.Nop())
	gone := map[string]error{}
	for i := 0; i < len(recs); i += size {
		batch := recs[i:min(i+size, len(recs))]
		var active []projections.Member
		for _, m := range ms {
			if gone[m.Projection.Name] == nil {
				active = append(active, m)
			}
		}
		left, err := g.Apply(context.Background(), batch, active, after)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		maps.Copy(gone, left)
		after = batch[len(batch)-1].Position
	}
	return gone
}

func checkpoints(t testing.TB, pool *pgxpool.Pool) map[string]eventstore.Position {
	t.Helper()
	cps, err := projections.Checkpoints(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	return cps
}

// failingOn is p with every reducer failing on the event id.
func failingOn(p projections.Projection, id string) projections.Projection {
	reducers := make(map[string]projections.Reducer, len(p.Reducers))
	for typ, r := range p.Reducers {
		reducers[typ] = func(b *projections.Batch, e recorded.Event) error {
			if e.ID == id {
				return errors.New("this reducer cannot apply the event")
			}
			return r(b, e)
		}
	}
	p.Reducers = reducers
	return p
}

// TestAGroupAppliesEveryMemberInOneTransaction: a group of every
// projection writes the rows their handlers write alone, and each batch
// moves every member's checkpoint in one transaction.
func TestAGroupAppliesEveryMemberInOneTransaction(t *testing.T) {
	t.Parallel()
	recs := mixedRecords(t, 1500)
	want := tableRows(t, applyInBatches(t, recs, 500))
	pool := pgtest.NewPool(t)
	if left := applyGroup(t, pool, recs, 500, eventstore.Start, members(projections.All()...)); len(left) != 0 {
		t.Fatalf("members left the group: %v", left)
	}
	if diff := cmp.Diff(want, tableRows(t, pool)); diff != "" {
		t.Errorf("rows (-handlers alone +group):\n%s", diff)
	}
	last := recs[len(recs)-1].Position
	for _, p := range projections.All() {
		if cp := checkpoints(t, pool)[p.Name]; cp != last {
			t.Errorf("checkpoint of %s = %s, want %s", p.Name, cp, last)
		}
	}
	// Every checkpoint row was last written by one transaction.
	var xids int
	if err := pool.QueryRow(context.Background(), `SELECT count(DISTINCT xmin::text) FROM projection_checkpoints`).Scan(&xids); err != nil {
		t.Fatal(err)
	}
	if xids != 1 {
		t.Errorf("the last batch's checkpoints were written by %d transactions, want 1", xids)
	}
}

// TestAGroupMemberAheadPassesOverWhatItApplied: a member whose checkpoint
// is ahead of the others (a rebuild moved it, or it ran alone) applies
// only the events after it, and ends with the rows it would have had.
func TestAGroupMemberAheadPassesOverWhatItApplied(t *testing.T) {
	t.Parallel()
	recs := mixedRecords(t, 800)
	want := tableRows(t, applyInBatches(t, recs, 500))
	pool := pgtest.NewPool(t)
	half := len(recs) / 2
	ahead := []projections.Projection{projections.Members(), projections.Audit()}
	if left := applyGroup(t, pool, recs[:half], 300, eventstore.Start, members(ahead...)); len(left) != 0 {
		t.Fatalf("members left the group: %v", left)
	}
	if left := applyGroup(t, pool, recs, 300, eventstore.Start, members(projections.All()...)); len(left) != 0 {
		t.Fatalf("members left the group: %v", left)
	}
	if diff := cmp.Diff(want, tableRows(t, pool)); diff != "" {
		t.Errorf("rows (-handlers alone +group):\n%s", diff)
	}
}

// TestAGroupMemberLeaves: a member that cannot go on with the others
// leaves the group, writing nothing, and the others commit the batch.
func TestAGroupMemberLeaves(t *testing.T) {
	t.Parallel()
	recs := pt.Records(t, pt.Script())
	last := recs[len(recs)-1].Position
	bad := slices.IndexFunc(recs, func(r eventstore.RecordedEvent) bool {
		return r.Type == domain.TypeMemberJoined && r.Position != recs[0].Position
	})
	tests := []struct {
		name string
		// member is the members projection as the group is given it.
		member func(pool *pgxpool.Pool) projections.Member
		// behind says the batch follows on from the first event, where
		// the others' checkpoints are, rather than from the start.
		behind bool
		want   error
		// at is where the member's checkpoint stops.
		at eventstore.Position
	}{
		{"one of its events fails", func(*pgxpool.Pool) projections.Member {
			return projections.Member{Projection: failingOn(projections.Members(), recs[bad].ID)}
		}, false, nil, recs[bad-1].Position},
		{"its lease is gone", func(*pgxpool.Pool) projections.Member {
			return projections.Member{Projection: projections.Members(), Fence: heldFence(false)}
		}, false, projections.ErrFenced, eventstore.Start},
		{"its checkpoint is behind the batch", func(*pgxpool.Pool) projections.Member {
			return projections.Member{Projection: projections.Members()}
		}, true, projections.ErrBehind, eventstore.Start},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.NewPool(t)
			others := []projections.Projection{projections.Audit(), projections.Access()}
			ms := append(members(others...), tt.member(pool))
			after := eventstore.Start
			if tt.behind {
				after = recs[0].Position
				for _, p := range others {
					if _, err := pool.Exec(context.Background(), `INSERT INTO projection_checkpoints (name, commit_position, prepare_position)
						VALUES ($1, $2, $3)`, p.Name, int64(after.Commit), int64(after.Prepare)); err != nil {
						t.Fatal(err)
					}
				}
			}
			left, err := projections.NewGroup(pool, nil, zerolog.Nop()).Apply(context.Background(), recs, ms, after)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			why := left[projections.MembersName]
			if why == nil || len(left) != 1 {
				t.Fatalf("left = %v, want the members projection alone", left)
			}
			if tt.want != nil && !errors.Is(why, tt.want) {
				t.Errorf("why = %v, want %v", why, tt.want)
			}
			cps := checkpoints(t, pool)
			for _, p := range others {
				if cps[p.Name] != last {
					t.Errorf("checkpoint of %s = %s, want %s: the others commit", p.Name, cps[p.Name], last)
				}
			}
			if cp := cps[projections.MembersName]; cp != tt.at {
				t.Errorf("checkpoint of the member that left = %s, want %s", cp, tt.at)
			}
			// It wrote the rows of the events before its checkpoint, as a
			// handler of its own would have, and no others.
			want := pgtest.NewPool(t)
			if tt.at != eventstore.Start {
				n := slices.IndexFunc(recs, func(r eventstore.RecordedEvent) bool { return r.Position == tt.at }) + 1
				if err := projections.NewHandler(want, projections.Members(), zerolog.Nop()).Handle(feed.ToBatchMessage(recs[:n])); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(memberRows(t, want), memberRows(t, pool), equalTimes); diff != "" {
				t.Errorf("members (-a handler up to its checkpoint +got):\n%s", diff)
			}
		})
	}
}

// TestAGroupRefusesAPositionNoCheckpointHolds: a batch whose last position
// does not fit a checkpoint changes nothing for anyone.
func TestAGroupRefusesAPositionNoCheckpointHolds(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	recs := pt.Records(t, pt.Script())
	recs[len(recs)-1].Position = eventstore.Position{Commit: math.MaxUint64, Prepare: math.MaxUint64}
	g := projections.NewGroup(pool, nil, zerolog.Nop())
	if _, err := g.Apply(context.Background(), recs, members(projections.All()...), eventstore.Start); err == nil {
		t.Error("Apply = nil, want an error")
	}
	if cps := checkpoints(t, pool); len(cps) != 0 {
		t.Errorf("checkpoints = %v, want none", cps)
	}
}

// heldFence is a lease that is, or is not, still this instance's, as the
// database says.
type heldFence bool

func (f heldFence) QueueHeld(b *pgx.Batch, held *bool) {
	b.Queue(`SELECT $1::bool`, bool(f)).QueryRow(func(row pgx.Row) error { return row.Scan(held) })
}
