package projections_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// TestSkipEvent: a skip is refused, and nothing recorded, for bad input;
// an event the projection applied already is skipped for its rebuilds, and
// one it has not reached yet is passed over when it gets there.
func TestSkipEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := memory.New()
	h := pt.NewHistory(t, store)
	applied := h.Add(pt.Script()[:3]...)
	createLedger(t, pool)
	led := ledger("ledger")
	led.Tables = []string{"test_ledger"}
	startQuick(t, pool, store, led)
	pt.Wait(t, pool, applied, led.Name)
	invited := eventAt(t, store, applied) // a MemberInvited, which members does not apply
	ok := projections.SkipRequest{Projection: led, EventID: invited.ID, Reason: "a reason", Operator: "ops-kim"}
	with := func(change func(r *projections.SkipRequest)) projections.SkipRequest {
		r := ok
		change(&r)
		return r
	}
	refusals := []struct {
		name string
		req  projections.SkipRequest
		want string
	}{
		{"a blank reason", with(func(r *projections.SkipRequest) { r.Reason = " \t " }), "reason is blank"},
		{"a reason too long", with(func(r *projections.SkipRequest) { r.Reason = strings.Repeat("é", 501) }), "reason is 501 characters; at most 500"},
		{"a reason with a line break", with(func(r *projections.SkipRequest) { r.Reason = "one\ntwo" }), "reason holds a control character at byte 3"},
		{"a reason with U+0000", with(func(r *projections.SkipRequest) { r.Reason = "a\u0000" }), "reason holds a control character at byte 1"},
		{"a reason that is not UTF-8", with(func(r *projections.SkipRequest) { r.Reason = "ab\xff" }), "reason is not UTF-8 at byte 2"},
		{"a reason with a bidirectional override", with(func(r *projections.SkipRequest) { r.Reason = "ok\u202Eko" }), "reason holds an invisible formatting character (U+202E) at byte 2"},
		{"a blank operator", with(func(r *projections.SkipRequest) { r.Operator = "" }), "operator is blank"},
		{"an operator too long", with(func(r *projections.SkipRequest) { r.Operator = strings.Repeat("o", 101) }), "operator is 101 characters; at most 100"},
		{"an ID that is no UUID", with(func(r *projections.SkipRequest) { r.EventID = "e-1" }), `event ID "e-1" is not a UUID`},
		{"an event not in the feed", with(func(r *projections.SkipRequest) { r.EventID = pt.NewID() }), "is not in the feed"},
		{"an event of a type the projection does not apply", with(func(r *projections.SkipRequest) { r.Projection = projections.Members() }),
			"members does not apply event " + invited.ID + " (MemberInvited in property-p-acme): there is nothing to skip"},
	}
	for _, tt := range refusals {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			_, err := projections.SkipEvent(ctx, pool, store, tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SkipEvent = %v, want an error saying %q", err, tt.want)
			}
			var n int
			if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM projection_skips) + (SELECT count(*) FROM ops_audit)`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d rows recorded, want none", n)
			}
		})
	}

	t.Run("an event the projection applied already is skipped for its rebuilds, once", func(t *testing.T) {
		res, err := projections.SkipEvent(ctx, pool, store, with(func(r *projections.SkipRequest) { r.EventID = strings.ToUpper(invited.ID) }))
		if err != nil {
			t.Fatal(err)
		}
		if res.Stopped || !res.Applied || res.Skip.EventID != invited.ID {
			t.Errorf("SkipEvent = %+v, want the event, applied already", res)
		}
		if _, err := projections.SkipEvent(ctx, pool, store, ok); !errors.Is(err, projections.ErrAlreadySkipped) ||
			!strings.Contains(err.Error(), "by ops-kim") {
			t.Errorf("a second skip = %v, want ErrAlreadySkipped naming who skipped it", err)
		}
		if _, err := projections.Rebuild(ctx, pool, store, led, projections.RebuildConfig{}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(upTo(2), ledgerCommits(t, pool, led.Name)); diff != "" {
			t.Errorf("ledger after the rebuild (-want +got):\n%s", diff)
		}
	})

	t.Run("an event a projection has not reached is passed over when it gets there, by that projection alone", func(t *testing.T) {
		at := h.Add(pt.Script()[3])
		last := h.Add(pt.Script()[4:]...)
		later := eventAt(t, store, at)
		other := ledger("ledger2") // not running yet
		res, err := projections.SkipEvent(ctx, pool, store, projections.SkipRequest{Projection: other, EventID: later.ID,
			Reason: "a reason", Operator: "ops-kim"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stopped || res.Applied {
			t.Errorf("SkipEvent = %+v, want an event neither stopped at nor applied", res)
		}
		startQuick(t, pool, store, other)
		pt.Wait(t, pool, last, led.Name, other.Name)
		all := upTo(h.Count)
		if diff := cmp.Diff(append(upTo(3), all[4:]...), ledgerCommits(t, pool, other.Name)); diff != "" {
			t.Errorf("ledger2 (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(append(upTo(2), all[3:]...), ledgerCommits(t, pool, led.Name)); diff != "" {
			t.Errorf("ledger, which skipped another event (-want +got):\n%s", diff)
		}
		skips, err := projections.Skips(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		if len(skips) != 2 || skips[1].Projection != other.Name || skips[1].EventID != later.ID || skips[1].Operator != "ops-kim" ||
			skips[1].Reason != "a reason" || skips[1].EventType != domain.TypeMemberInvited || skips[1].Position != at {
			t.Errorf("skips = %+v", skips)
		}
	})
}

// TestAStoppedProjectionRetriesOnRequest: `retry` releases a stopped
// projection, which tries the event again: while the cause lasts it stops
// again, after its retries, with a new failure; once the cause is gone it
// applies the event and goes on. Each retry is in the audit trail of
// operations; a retry of a projection that is not stopped is refused.
func TestAStoppedProjectionRetriesOnRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := memory.New()
	h := pt.NewHistory(t, store)
	h.Add(pt.Script()[:5]...)
	at := h.Add(pt.Script()[5])
	last := h.Add(pt.Script()[6:]...)
	var fixed atomic.Bool
	p := faulty(projections.Members(), at, func() bool { return !fixed.Load() },
		func() error {
			return &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"}
		})
	startQuick(t, pool, store, p)

	stoppedAt := func() projections.Failure {
		var f projections.Failure
		waitUntil(t, "members stopping", func() bool {
			var ok bool
			f, ok = mustStopped(t, pool)[p.Name]
			return ok
		})
		return f
	}
	first := stoppedAt()
	if first.Position != at || !strings.Contains(first.Error, "23505") {
		t.Fatalf("members stopped at %+v, want %s for SQLSTATE 23505", first, at)
	}
	if _, err := projections.Retry(ctx, pool, byName(t, "access"), "ops-kim", ""); !errors.Is(err, projections.ErrNotStopped) {
		t.Errorf("Retry of a running projection = %v, want ErrNotStopped", err)
	}
	if _, err := projections.Retry(ctx, pool, p, " ", ""); err == nil || !strings.Contains(err.Error(), "operator is blank") {
		t.Errorf("Retry by a blank operator = %v, want it refused", err)
	}
	if _, err := projections.Retry(ctx, pool, p, "ops-kim", "fixed\u202Eit"); err == nil || !strings.Contains(err.Error(), "formatting character") {
		t.Errorf("Retry with a bidirectional override in the reason = %v, want it refused", err)
	}
	if f, err := projections.Retry(ctx, pool, p, "ops-kim", "trying again"); err != nil || f.ID != first.ID {
		t.Fatalf("Retry = %+v, %v", f, err)
	}
	second := stoppedAt()
	if second.ID == first.ID || second.Position != at {
		t.Errorf("after a retry with the cause still there, stopped at %+v, want a new failure at %s", second, at)
	}
	fixed.Store(true)
	if _, err := projections.Retry(ctx, pool, p, "ops-kim", "index fixed"); err != nil {
		t.Fatal(err)
	}
	pt.Wait(t, pool, last, p.Name)
	if s := mustStopped(t, pool); len(s) != 0 {
		t.Errorf("still stopped: %v", s)
	}
	r, err := pool.Query(ctx, `SELECT resolution FROM projection_failures ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	resolutions, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(resolutions, []string{"retried", "retried"}) {
		t.Errorf("failures resolved as %v, want two retries", resolutions)
	}
	var reasons []string
	r, err = pool.Query(ctx, `SELECT detail->>'reason' FROM ops_audit WHERE action = 'projections.retry' AND target = $1 ORDER BY id`, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	if reasons, err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(reasons, []string{"trying again", "index fixed"}) {
		t.Errorf("retries in the audit trail: %v", reasons)
	}
}
