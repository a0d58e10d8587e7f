package projections_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/recorded"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// waitUntil polls cond until it holds. The bound guards against a hang;
// it measures nothing.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
	}
}

// waitStoppedOrAt waits until every projection has stopped or reached
// last, and returns those stopped.
func waitStoppedOrAt(t *testing.T, pool *pgxpool.Pool, last eventstore.Position) map[string]projections.Failure {
	t.Helper()
	var stopped map[string]projections.Failure
	waitUntil(t, "every projection stopping or reaching the end", func() bool {
		stopped = mustStopped(t, pool)
		cps, err := projections.Checkpoints(context.Background(), pool)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range projections.All() {
			if _, ok := stopped[p.Name]; !ok && cps[p.Name].Less(last) {
				return false
			}
		}
		return true
	})
	return stopped
}

func mustStopped(t testing.TB, pool *pgxpool.Pool) map[string]projections.Failure {
	t.Helper()
	s, err := projections.Stopped(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startQuick runs ps over feed with short backoffs and polls (as pt.Start
// does), until the test ends.
func startQuick(t testing.TB, pool *pgxpool.Pool, feed projections.Feed, ps ...projections.Projection) {
	t.Helper()
	pt.Start(t, pool, feed, zerolog.Nop(), ps...)
}

// eventAt returns the event of store at pos, once the feed shows it (a
// PostgreSQL feed holds events back while an older transaction is open).
func eventAt(t testing.TB, store eventstore.FeedReader, pos eventstore.Position) eventstore.RecordedEvent {
	t.Helper()
	var found eventstore.RecordedEvent
	waitUntil(t, "the feed showing the event at "+pos.String(), func() bool {
		all, err := store.ReadAll(context.Background(), eventstore.Start, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range all {
			if rec.Position == pos {
				found = rec
				return true
			}
		}
		return false
	})
	return found
}

func byName(t testing.TB, name string) projections.Projection {
	t.Helper()
	for _, p := range projections.All() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no projection %s", name)
	return projections.Projection{}
}

// TestAProjectionStopsAtAnEventItCannotApplyAndTheOthersGoOn: a property
// created by an owner whose account ID holds U+0000 (which PostgreSQL text
// cannot hold) stops, after their retries, the projections that keep it,
// each right before the event and saying why; the others apply the whole
// feed. A rebuild gives up the stopped ones alone; a skip releases one
// projection alone, and its rebuild passes over the event while the others'
// still fail on it; once every stopped projection skipped it, the whole
// feed is applied and a rebuild gives the same read models.
func TestAProjectionStopsAtAnEventItCannotApplyAndTheOthersGoOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := postgres.New(pool)
	h := pt.NewHistory(t, store)
	script := pt.Script()
	before := h.Add(script[:21]...)
	poisonAt := h.Add(pt.Step{PropertyID: "p-evil", ActorID: "evil\u0000", ActorEmail: "evil@example.com",
		Event: domain.PropertyCreated{Schema: 1, PropertyID: "p-evil", Name: "Evil", OwnerID: "evil\u0000"}})
	last := h.Add(script[21:]...)
	poison := eventAt(t, store, poisonAt)
	startQuick(t, pool, store, projections.All()...)

	stopped := waitStoppedOrAt(t, pool, last)
	var names, others []string
	for _, p := range projections.All() {
		if _, ok := stopped[p.Name]; ok {
			names = append(names, p.Name)
		} else {
			others = append(others, p.Name)
		}
	}
	if len(names) < 2 || len(others) == 0 {
		t.Fatalf("stopped %v, others %v: the test needs an event that stops some projections, not all", names, others)
	}

	t.Run("each stopped projection stopped right before the event after its retries, saying why", func(t *testing.T) {
		cps, err := projections.Checkpoints(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			f := stopped[name]
			if f.EventID != poison.ID || f.Position != poisonAt || f.EventType != domain.TypePropertyCreated ||
				f.StreamID != "property-p-evil" || f.Attempts < 3 || !strings.Contains(f.Error, "SQLSTATE 22021") {
				t.Errorf("%s stopped at %+v, want the event %s after three attempts, for SQLSTATE 22021", name, f, poison.ID)
			}
			if cps[name] != before {
				t.Errorf("%s's checkpoint is %s, want %s, the event before", name, cps[name], before)
			}
		}
		sts, err := projections.Statuses(ctx, pool, store, projections.All()...)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			if _, ok := stopped[st.Name]; ok != (st.Stopped != nil) {
				t.Errorf("status of %s says stopped %v", st.Name, st.Stopped)
			}
		}
	})

	t.Run("a rebuild of every projection gives up the stopped ones alone and rebuilds the others", func(t *testing.T) {
		rows, oids := tableRows(t, pool), tableOIDs(t, pool)
		_, err := projections.RebuildAll(ctx, pool, store, projections.All(), projections.RebuildConfig{BatchSize: 7})
		var partial *projections.PartialRebuildError
		if !errors.As(err, &partial) {
			t.Fatalf("RebuildAll = %v, want a partial rebuild", err)
		}
		var gaveUp []string
		for _, f := range partial.Failed {
			gaveUp = append(gaveUp, f.Projection)
			if f.EventID != poison.ID || !f.Poison() {
				t.Errorf("%s given up at %s: %v", f.Projection, f.EventID, f.Err)
			}
		}
		if diff := cmp.Diff(names, gaveUp); diff != "" {
			t.Errorf("projections given up (-stopped +given up):\n%s", diff)
		}
		after := tableOIDs(t, pool)
		for _, p := range projections.All() {
			for _, table := range p.Tables {
				if kept := after[table] == oids[table]; kept != slices.Contains(names, p.Name) {
					t.Errorf("table %s of %s kept %v", table, p.Name, kept)
				}
			}
		}
		if diff := cmp.Diff(rows, tableRows(t, pool)); diff != "" {
			t.Errorf("rows (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(stopped, mustStopped(t, pool)); diff != "" {
			t.Errorf("stopped projections (-before +after):\n%s", diff)
		}
	})

	first, rest := names[0], names[1:]
	t.Run("a skip releases the projection it names alone, and its rebuild passes over the event while the others' fail on it", func(t *testing.T) {
		res, err := projections.SkipEvent(ctx, pool, store, projections.SkipRequest{Projection: byName(t, first), EventID: poison.ID,
			Reason: "an owner ID PostgreSQL cannot hold", Operator: "ops-kim"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Stopped || res.Applied || res.Skip.EventID != poison.ID || res.Skip.Position != poisonAt {
			t.Errorf("SkipEvent = %+v, want the event, where %s was stopped", res, first)
		}
		pt.Wait(t, pool, last, first)
		now := mustStopped(t, pool)
		if _, ok := now[first]; ok || len(now) != len(rest) {
			t.Errorf("stopped after the skip: %v, want %v", now, rest)
		}
		_, err = projections.RebuildAll(ctx, pool, store, projections.All(), projections.RebuildConfig{BatchSize: 7})
		var partial *projections.PartialRebuildError
		if !errors.As(err, &partial) || partial.GaveUp(first) || len(partial.Failed) != len(rest) {
			t.Errorf("RebuildAll = %v, want %v given up and no other", err, rest)
		}
	})

	t.Run("once every stopped projection skipped it, each applies the whole feed and a rebuild gives the same read models", func(t *testing.T) {
		for _, name := range rest {
			if _, err := projections.SkipEvent(ctx, pool, store, projections.SkipRequest{Projection: byName(t, name), EventID: poison.ID,
				Reason: "an owner ID PostgreSQL cannot hold", Operator: "ops-kim"}); err != nil {
				t.Fatal(err)
			}
		}
		pt.Wait(t, pool, last, pt.Names(projections.All()...)...)
		if now := mustStopped(t, pool); len(now) != 0 {
			t.Errorf("still stopped: %v", now)
		}
		rows := tableRows(t, pool)
		if _, err := projections.RebuildAll(ctx, pool, store, projections.All(), projections.RebuildConfig{BatchSize: 7}); err != nil {
			t.Fatalf("RebuildAll: %v", err)
		}
		if diff := cmp.Diff(rows, tableRows(t, pool)); diff != "" {
			t.Errorf("rows (-before +after the rebuild):\n%s", diff)
		}
		var resolutions []string
		r, err := pool.Query(ctx, `SELECT DISTINCT resolution FROM projection_failures`)
		if err != nil {
			t.Fatal(err)
		}
		if resolutions, err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(resolutions, []string{"skipped"}) {
			t.Errorf("failures resolved as %v, want skipped", resolutions)
		}
		var actions int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM ops_audit WHERE action = 'projections.skip' AND operator = 'ops-kim'`).Scan(&actions); err != nil {
			t.Fatal(err)
		}
		if actions != len(names) {
			t.Errorf("%d skips in the audit trail of operations, want %d", actions, len(names))
		}
	})
}

// faulty returns p with every reducer failing with err on the event at
// position at while armed reports true.
func faulty(p projections.Projection, at eventstore.Position, armed func() bool, err func() error) projections.Projection {
	rs := map[string]projections.Reducer{}
	for _, typ := range domain.EventTypes() {
		inner := p.Reducers[typ]
		rs[typ] = func(b *projections.Batch, e recorded.Event) error {
			if e.Position == at && armed() {
				return err()
			}
			if inner == nil {
				return nil
			}
			return inner(b, e)
		}
	}
	p.Reducers = rs
	return p
}

// TestATransientFaultNeverStopsAProjection: a projection that fails on an
// event for a reason that may pass (see IsPoison) retries it, with backoff,
// through several deliveries, and applies it once the fault is gone;
// nothing stops, and no failure is recorded.
func TestATransientFaultNeverStopsAProjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
	}{
		{"a serialization failure", &pgconn.PgError{Code: "40001", Message: "could not serialize access"}},
		{"a deadlock", &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}},
		{"a lost connection", &pgconn.PgError{Code: "08006", Message: "connection failure"}},
		{"a server shutting down", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}},
		{"a lock timeout", &pgconn.PgError{Code: "55P03", Message: "lock timeout"}},
		{"an error of no known kind", errInjected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.NewPool(t)
			store := memory.New()
			h := pt.NewHistory(t, store)
			at := h.Add(pt.Script()[:5]...)
			last := h.Add(pt.Script()[5:]...)
			// Eight failures outlast the runner's three attempts per
			// delivery: the event is sent again several times.
			var left atomic.Int64
			left.Store(8)
			p := faulty(projections.Members(), at, func() bool { return left.Add(-1) >= 0 }, func() error { return tt.err })
			startQuick(t, pool, store, p)
			pt.Wait(t, pool, last, p.Name)
			if left.Load() >= 0 {
				t.Errorf("the fault fired %d times fewer than armed", left.Load()+1)
			}
			var n int
			if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM projection_failures`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d failures recorded, want none", n)
			}
		})
	}
}

// TestAFailureIsRecordedWhateverTheEventHolds: a failure on an event whose
// stream and error hold U+0000 and bytes that are not UTF-8 is recorded
// all the same, with those characters replaced, so the projection still
// stops visibly.
func TestAFailureIsRecordedWhateverTheEventHolds(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := memory.New()
	h := pt.NewHistory(t, store)
	h.Add(pt.Script()[:3]...)
	at := h.Add(pt.Step{PropertyID: "bad\u0000\xffid", ActorID: pt.Owner, Event: domain.MemberLeft{Schema: 1, AccountID: pt.Ann}})
	p := faulty(projections.Members(), at, func() bool { return true },
		func() error { return &pgconn.PgError{Code: "22021", Message: "invalid byte sequence \x00 \xff"} })
	startQuick(t, pool, store, p)
	var f projections.Failure
	waitUntil(t, "members stopping", func() bool {
		var ok bool
		f, ok = mustStopped(t, pool)[p.Name]
		return ok
	})
	for what, s := range map[string]string{"stream": f.StreamID, "error": f.Error} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Errorf("recorded %s %q holds what PostgreSQL text cannot", what, s)
		}
	}
	if f.StreamID != "property-bad\uFFFD\uFFFDid" || !strings.Contains(f.Error, "invalid byte sequence \uFFFD \uFFFD") {
		t.Errorf("recorded stream %q and error %q, want the bad characters replaced", f.StreamID, f.Error)
	}
}

// TestAnEventThatDoesNotDecodeStopsTheProjectionsOfItsType: an event whose
// payload is not what its type says stops every projection that applies
// that type, and only those, at it.
func TestAnEventThatDoesNotDecodeStopsTheProjectionsOfItsType(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := memory.New()
	h := pt.NewHistory(t, store)
	h.Add(pt.Script()[:17]...)
	res, err := store.Append(ctx, domain.StreamName(pt.Acme), eventstore.Any(), []eventstore.EventData{
		{ID: pt.NewID(), Type: domain.TypeInvitationResent, Data: []byte(`{"schema":1,"invitation_id":7}`), Metadata: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	last := h.Add(pt.Script()[17:]...)
	startQuick(t, pool, store, projections.All()...)
	var want, others []string
	for _, p := range projections.All() {
		if _, ok := p.Reducers[domain.TypeInvitationResent]; ok {
			want = append(want, p.Name)
		} else {
			others = append(others, p.Name)
		}
	}
	if len(want) == 0 || len(others) == 0 {
		t.Fatalf("the test needs a type some projections apply and others not: %v, %v", want, others)
	}
	pt.Wait(t, pool, last, others...)
	var stopped map[string]projections.Failure
	waitUntil(t, "the projections of InvitationResent stopping", func() bool {
		stopped = mustStopped(t, pool)
		return len(stopped) == len(want)
	})
	for _, name := range want {
		if f := stopped[name]; f.Position != res.Position || !strings.Contains(f.Error, "cannot be read") {
			t.Errorf("%s stopped at %+v, want %s, unreadable", name, f, res.Position)
		}
	}
}
