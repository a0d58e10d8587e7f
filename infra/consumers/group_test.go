package consumers_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/recorded"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// failingLedger is ledger(name) refusing the event id, as PostgreSQL
// refuses a value it cannot hold: poison, which stops the projection.
func failingLedger(name, id string) projections.Projection {
	p := ledger(name)
	rs := map[string]projections.Reducer{}
	for typ, r := range p.Reducers {
		rs[typ] = func(b *projections.Batch, e recorded.Event) error {
			if e.ID == id {
				return &pgconn.PgError{Code: "22021", Message: "invalid byte sequence for encoding \"UTF8\": 0x00"}
			}
			return r(b, e)
		}
	}
	p.Reducers = rs
	return p
}

// TestAFailingProjectionLeavesTheGroupAndTheOthersGoOn: the projections
// one instance leads apply the feed together; one that fails on an event
// leaves the group, stops alone at the event as it would without the
// group, and holds back none of the others; released by an operator's
// skip, it applies the rest of the feed and rejoins the group. Every
// event is applied once by each.
func TestAFailingProjectionLeavesTheGroupAndTheOthersGoOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t, 3, consumers.DefaultLeaseTTL)
	cl.appendEvents(12)
	all, err := cl.store.ReadAll(ctx, eventstore.Start, 100)
	if err != nil {
		t.Fatal(err)
	}
	bad := all[7]
	last := cl.appendEvents(30)
	c, err := consumers.New(quick(cl.pool, cl.store, "solo", cl.ttl, nil))
	if err != nil {
		t.Fatal(err)
	}
	failing := failingLedger(cl.names[1], bad.ID)
	c.AddProjection(ledger(cl.names[0]))
	c.AddProjection(failing)
	c.AddProjection(ledger(cl.names[2]))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	pt.Wait(t, cl.pool, last, cl.names[0], cl.names[2])
	var f projections.Failure
	waitUntil(t, "the failing projection stopping", func() bool {
		stopped, err := projections.Stopped(ctx, cl.pool)
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		f, ok = stopped[failing.Name]
		return ok
	})
	if f.EventID != bad.ID || f.Position != bad.Position || f.Attempts < 3 {
		t.Errorf("stopped at %+v, want the event %s at %s after three attempts", f, bad.ID, bad.Position)
	}
	cps, err := projections.Checkpoints(ctx, cl.pool)
	if err != nil {
		t.Fatal(err)
	}
	if want := all[6].Position; cps[failing.Name] != want {
		t.Errorf("checkpoint of the stopped projection = %s, want %s, right before the event", cps[failing.Name], want)
	}
	if got := consumers.Grouped(c); slices.Contains(got, failing.Name) {
		t.Errorf("the group holds %v, the stopped projection among them", got)
	}

	if _, err := projections.SkipEvent(ctx, cl.pool, cl.store, projections.SkipRequest{Projection: failing,
		EventID: bad.ID, Reason: "a test skips it", Operator: "test"}); err != nil {
		t.Fatal(err)
	}
	pt.Wait(t, cl.pool, last, failing.Name)
	waitUntil(t, "the released projection rejoining the group", func() bool {
		return cmp.Equal(consumers.Grouped(c), cl.names)
	})
	more := cl.appendEvents(5)
	pt.Wait(t, cl.pool, more, cl.names...)
	want := int64(more.Commit)
	for _, n := range cl.names {
		var count, distinct int64
		if err := cl.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT commit_position) FROM test_ledger WHERE projection = $1`,
			n).Scan(&count, &distinct); err != nil {
			t.Fatal(err)
		}
		if n == failing.Name {
			want-- // the event skipped
		}
		if count != want || distinct != want {
			t.Errorf("%s applied %d events (%d distinct), want each of the %d once", n, count, distinct, want)
		}
		want = int64(more.Commit)
	}
}
