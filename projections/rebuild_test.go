package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	"github.com/rosterhq/roster/readmodels"
)

// scriptCopies returns copies first..first+n-1 of pt.Script, copy k over
// properties of its own ("p-acme-k", "p-beta-k") and the same accounts: 26
// events of every kind per copy, and accounts in many properties.
func scriptCopies(first, n int) []pt.Step {
	var out []pt.Step
	for k := first; k < first+n; k++ {
		for _, s := range pt.Script() {
			s.PropertyID = copyID(s.PropertyID, k)
			if pc, ok := s.Event.(domain.PropertyCreated); ok {
				pc.PropertyID, pc.Name = s.PropertyID, fmt.Sprintf("%s %d", pc.Name, k)
				s.Event = pc
			}
			out = append(out, s)
		}
	}
	return out
}

func copyID(pid string, k int) string { return fmt.Sprintf("%s-%d", pid, k) }

// loader appends steps as pt.History does, but each run of steps of one
// property in one append, so thousands of events load in moments.
type loader struct {
	store pt.Appender
	// n numbers the steps loaded so far: step n happens at pt.At(n).
	n    int
	last eventstore.Position
}

func (l *loader) load(tb testing.TB, steps []pt.Step) eventstore.Position {
	tb.Helper()
	if err := l.tryLoad(steps); err != nil {
		tb.Fatal(err)
	}
	return l.last
}

// tryLoad is load for goroutines other than the test's.
func (l *loader) tryLoad(steps []pt.Step) error {
	for len(steps) > 0 {
		run := 1
		for run < len(steps) && steps[run].PropertyID == steps[0].PropertyID {
			run++
		}
		events := make([]eventstore.EventData, run)
		for i, s := range steps[:run] {
			typ, data, err := domain.EncodeEvent(s.Event)
			if err != nil {
				return fmt.Errorf("encode step %d: %w", l.n, err)
			}
			id := pt.NewID()
			meta, err := json.Marshal(domain.Metadata{EventID: id, CommandID: pt.NewID(), CorrelationID: pt.NewID(),
				CausationID: pt.NewID(), ActorID: s.ActorID, ActorEmail: s.ActorEmail, OccurredAt: pt.At(l.n),
				ClientIP: "192.0.2.7", UserAgent: "rebuild-test", Schema: domain.SchemaV1})
			if err != nil {
				return fmt.Errorf("encode metadata of step %d: %w", l.n, err)
			}
			events[i] = eventstore.EventData{ID: id, Type: typ, Data: data, Metadata: meta}
			l.n++
		}
		res, err := l.store.Append(context.Background(), domain.StreamName(steps[0].PropertyID), eventstore.Any(), events)
		if err != nil {
			return fmt.Errorf("append %d events to %s: %w", run, steps[0].PropertyID, err)
		}
		l.last = res.Position
		steps = steps[run:]
	}
	return nil
}

// world is a database whose read models are live: copies of the script in
// the PostgreSQL event store, every projection caught up, the runner on.
type world struct {
	pool   *pgxpool.Pool
	store  *postgres.Store
	loader *loader
	copies int
}

func newWorld(tb testing.TB, copies int) *world {
	tb.Helper()
	pool := pgtest.NewPool(tb)
	store := postgres.New(pool)
	w := &world{pool: pool, store: store, loader: &loader{store: store}, copies: copies}
	last := w.loader.load(tb, scriptCopies(0, copies))
	pt.Start(tb, pool, store, zerolog.Nop(), projections.All()...)
	pt.Wait(tb, pool, last, pt.Names(projections.All()...)...)
	return w
}

// state is everything a rebuild must leave as it found it.
type state struct {
	Answers     map[string]any
	Rows        map[string][]string
	Layout      []string
	Checkpoints map[string]eventstore.Position
}

func (w *world) state(t testing.TB) state {
	t.Helper()
	cps, err := projections.Checkpoints(context.Background(), w.pool)
	if err != nil {
		t.Fatal(err)
	}
	return state{Answers: answers(t, w.pool, w.copies), Rows: tableRows(t, w.pool), Layout: layout(t, w.pool), Checkpoints: cps}
}

// answers asks every query of readmodels.Store about the properties,
// accounts and emails of the copies, and returns each answer (or error
// text) by question.
func answers(t testing.TB, pool *pgxpool.Pool, copies int) map[string]any {
	t.Helper()
	ctx := context.Background()
	rm := readmodels.New(pool)
	out := map[string]any{}
	ask := func(q string, v any, err error) {
		if err != nil {
			v = "error: " + err.Error()
		}
		out[q] = v
	}
	nows := []time.Time{pt.At(30), pt.T0.Add(8 * 24 * time.Hour), pt.T0.Add(365 * 24 * time.Hour)}
	accounts := []string{pt.Owner, pt.Ann, pt.Cat, pt.Fay, pt.Other, pt.Eve, "acc-nobody"}
	var pids []string
	for k := range copies {
		pids = append(pids, copyID(pt.Acme, k), copyID(pt.Beta, k))
	}
	pids = append(pids, "p-unknown")
	for i, pid := range pids {
		p, err := rm.Property(ctx, pid)
		ask("Property "+pid, p, err)
		members, err := pagesOf(func(cursor string) (readmodels.MemberPage, string, error) {
			page, err := rm.Members(ctx, pid, readmodels.MemberFilter{Limit: 1, Cursor: cursor})
			return page, page.NextCursor, err
		})
		ask("Members pages "+pid, members, err)
		invitations, err := pagesOf(func(cursor string) (readmodels.InvitationPage, string, error) {
			page, err := rm.Invitations(ctx, pid, readmodels.InvitationFilter{Status: readmodels.InvitationStatusAll, Limit: 3, Cursor: cursor}, nows[0])
			return page, page.NextCursor, err
		})
		ask("Invitations all pages "+pid, invitations, err)
		trail, err := pagesOf(func(cursor string) (readmodels.AuditPage, string, error) {
			page, err := rm.Audit(ctx, pid, readmodels.AuditFilter{Limit: 7, Cursor: cursor})
			return page, page.NextCursor, err
		})
		ask("Audit pages "+pid, trail, err)
		if i%25 != 0 && pid != "p-unknown" {
			continue // the full matrix for a sample of properties
		}
		for _, f := range []readmodels.AuditFilter{{Order: "desc"}, {Actor: pt.Ann}, {Actor: pt.OwnerEmail},
			{Types: []string{domain.TypeMemberJoined, domain.TypeMemberRoleChanged}}, {Member: pt.Ann}, {Member: pt.DeeEmail},
			{From: pt.At(3).Format(time.RFC3339), To: pt.At(400).Format(time.RFC3339)}} {
			page, err := rm.Audit(ctx, pid, f)
			ask(fmt.Sprintf("Audit %s %+v", pid, f), page, err)
			var all []readmodels.AuditEntry
			err = rm.EachAudit(ctx, pid, f, func(e readmodels.AuditEntry) error { all = append(all, e); return nil })
			ask(fmt.Sprintf("EachAudit %s %+v", pid, f), all, err)
		}
		for _, f := range []readmodels.MemberFilter{{Role: "admin"}, {Role: "agent"}, {Status: "enabled"}, {Status: "disabled"}, {Query: "O"}} {
			page, err := rm.Members(ctx, pid, f)
			ask(fmt.Sprintf("Members %s %+v", pid, f), page, err)
		}
		for _, status := range []string{"", "pending", "expired", "accepted", "revoked", "declined", "all"} {
			for _, now := range nows {
				invs, err := rm.Invitations(ctx, pid, readmodels.InvitationFilter{Status: status}, now)
				ask(fmt.Sprintf("Invitations %s %q at %s", pid, status, now), invs, err)
			}
		}
		for _, acc := range accounts {
			m, found, err := rm.Membership(ctx, pid, acc)
			ask(fmt.Sprintf("Membership %s %s", pid, acc), struct {
				M     readmodels.Member
				Found bool
			}{m, found}, err)
			a, err := rm.Access(ctx, pid, acc)
			ask(fmt.Sprintf("Access %s %s", pid, acc), a, err)
			h, err := rm.MemberHistory(ctx, pid, acc)
			ask(fmt.Sprintf("MemberHistory %s %s", pid, acc), h, err)
		}
	}
	for _, acc := range accounts {
		mine, err := rm.MyProperties(ctx, acc, "", 0)
		ask("MyProperties "+acc, mine, err)
	}
	for _, email := range []string{pt.OwnerEmail, pt.AnnEmail, pt.BobEmail, pt.CatEmail, pt.DeeEmail, pt.FayEmail, pt.OtherEmail, pt.EveEmail} {
		for _, now := range nows {
			invs, err := rm.InvitationsForEmail(ctx, email, "", 0, now)
			ask(fmt.Sprintf("InvitationsForEmail %s at %s", email, now), invs, err)
		}
	}
	pos, err := rm.Position(ctx)
	ask("Position", pos, err)
	return out
}

// pagesOf reads every page of a list from the first: read answers the
// page after cursor and the cursor of the next, "" on the last.
func pagesOf[P any](read func(cursor string) (P, string, error)) ([]P, error) {
	var pages []P
	for cursor := ""; ; {
		page, next, err := read(cursor)
		if err != nil {
			return nil, err
		}
		pages = append(pages, page)
		if next == "" {
			return pages, nil
		}
		cursor = next
	}
}

// allTables lists the tables of every projection.
func allTables() []string { return pt.Tables(projections.All()...) }

func tableRows(t testing.TB, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	return pt.TableRows(t, pool, projections.All()...)
}

// layout describes the projection tables as the migrations made them:
// columns, indexes and constraints, names included.
func layout(t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	r, err := pool.Query(context.Background(), `
		SELECT format('column %s.%s %s %s %s %s', table_name, column_name, data_type,
			coalesce(collation_name, '-'), is_nullable, coalesce(column_default, '-'))
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ANY($1)
		UNION ALL
		SELECT format('index %s', indexdef) FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = ANY($1)
		UNION ALL
		SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
		FROM pg_constraint WHERE conrelid IN (SELECT oid FROM pg_class
			WHERE relnamespace = current_schema()::regnamespace AND relname = ANY($1))
		ORDER BY 1`, allTables())
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tableOIDs identifies the table objects now behind each projection table.
func tableOIDs(t testing.TB, pool *pgxpool.Pool) map[string]uint32 {
	t.Helper()
	r, err := pool.Query(context.Background(), `SELECT relname::text, oid FROM pg_class
		WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' AND relname = ANY($1)`, allTables())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint32{}
	var (
		name string
		oid  uint32
	)
	if _, err := pgx.ForEachRow(r, []any{&name, &oid}, func() error { out[name] = oid; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// rebuildSchemas lists the schemas rebuilds have left in the database.
func rebuildSchemas(t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	r, err := pool.Query(context.Background(), `SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'rebuild\_%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func owns(p projections.Projection, table string) bool {
	for _, t := range p.Tables {
		if t == table {
			return true
		}
	}
	return false
}

func TestRebuildKeepsEveryAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const copies = 150 // 3,900 events over 300 properties
	w := newWorld(t, copies)
	head, err := w.store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := w.state(t)
	if n := len(before.Rows["rm_members"]); n < copies {
		t.Fatalf("the fixture has %d members, want at least %d", n, copies)
	}
	oids := tableOIDs(t, w.pool)

	// Each projection in turn, twice over: the second round rebuilds tables
	// that are themselves the product of a rebuild, whose index and
	// constraint names must not clash with the fresh copies'.
	for round := 1; round <= 2; round++ {
		for _, p := range projections.All() {
			t.Run(fmt.Sprintf("round %d: rebuilding %s replaces its tables only and every answer stays the same", round, p.Name), func(t *testing.T) {
				var calls, lastDone, lastTotal int64
				pos, err := projections.Rebuild(ctx, w.pool, w.store, p, projections.RebuildConfig{BatchSize: 1000,
					Progress: func(done, total int64) { calls, lastDone, lastTotal = calls+1, done, total }})
				if err != nil {
					t.Fatalf("Rebuild: %v", err)
				}
				if pos != head {
					t.Errorf("Rebuild reached %s, want the head %s", pos, head)
				}
				if want := int64(w.loader.n); lastDone != want || lastTotal != want || calls < want/1000 {
					t.Errorf("last progress = %d of %d after %d calls, want %d of %d after at least %d", lastDone, lastTotal, calls, want, want, want/1000)
				}
				now := tableOIDs(t, w.pool)
				for table, oid := range now {
					if replaced := oid != oids[table]; replaced != owns(p, table) {
						t.Errorf("table %s replaced = %t, want %t", table, replaced, owns(p, table))
					}
				}
				oids = now
				if diff := cmp.Diff(before, w.state(t), equalTimes); diff != "" {
					t.Errorf("after the rebuild (-before +after):\n%s", diff)
				}
				if s := rebuildSchemas(t, w.pool); len(s) > 0 {
					t.Errorf("schemas left behind: %v", s)
				}
			})
		}
	}
}

// TestRebuildWhileTheRunnerRunsAndEventsArrive rebuilds every projection
// while the live runner follows a feed that keeps growing: each batch a
// rebuild applies sets off the append of another copy of the script. However
// the switch-overs and the runner's batches interleave, the end state must be
// what a fresh projection of the same events gives: nothing applied twice,
// nothing skipped.
func TestRebuildWhileTheRunnerRunsAndEventsArrive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, 60)

	// Appends follow the rebuild's progress rather than run flat out, so
	// the rebuild, which must catch up with the feed, always can.
	kick, stop := make(chan struct{}, 1), make(chan struct{})
	var (
		wg        sync.WaitGroup
		appendErr error
	)
	wg.Go(func() {
		for k := w.copies; appendErr == nil; k++ {
			select {
			case <-stop:
				return
			case <-kick:
			}
			appendErr = w.loader.tryLoad(scriptCopies(k, 1))
		}
	})
	for _, p := range projections.All() {
		cfg := projections.RebuildConfig{BatchSize: 300, Progress: func(int64, int64) {
			select {
			case kick <- struct{}{}:
			default:
			}
		}}
		if _, err := projections.Rebuild(ctx, w.pool, w.store, p, cfg); err != nil {
			t.Errorf("Rebuild %s: %v", p.Name, err)
		}
	}
	close(stop)
	wg.Wait()
	if appendErr != nil {
		t.Fatal(appendErr)
	}
	last := w.loader.last
	pt.Wait(t, w.pool, last, pt.Names(projections.All()...)...)

	fresh := pgtest.NewPool(t)
	pt.Start(t, fresh, w.store, zerolog.Nop(), projections.All()...)
	pt.Wait(t, fresh, last, pt.Names(projections.All()...)...)
	if diff := cmp.Diff(tableRows(t, fresh), tableRows(t, w.pool)); diff != "" {
		t.Errorf("read models after rebuilds under load (-fresh projection +rebuilt):\n%s", diff)
	}
	t.Logf("%d events, %d appended during the rebuilds", w.loader.n, w.loader.n-26*w.copies)
}

// cappedFeed shows the runner the feed up to a position only, so a test
// can hold the runner behind what a rebuild reads.
type cappedFeed struct {
	store *memory.Store
	upTo  atomic.Uint64 // the last commit position shown
}

func (f *cappedFeed) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	events, err := f.store.ReadAll(ctx, after, limit)
	for i, e := range events {
		if e.Position.Commit > f.upTo.Load() {
			return events[:i], err
		}
	}
	return events, err
}

func (f *cappedFeed) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	cfg := eventstore.PollConfig{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	return eventstore.NewPollingSubscription(f, after, nil, cfg, nil), nil
}

// TestRebuildHandsOverToTheLiveRunner holds the live runner behind the
// events the rebuild applies, so its next batch overlaps them: it must find
// its checkpoint moved and go on from the rebuilt one. A ledger projection,
// whose primary key refuses an event applied twice, checks the hand-over
// alongside the real projections.
func TestRebuildHandsOverToTheLiveRunner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	createLedger(t, pool)
	led := ledger("ledger")
	led.Tables = []string{"test_ledger"}
	ps := append(projections.All(), led)

	store := memory.New()
	l := &loader{store: store}
	held := l.load(t, scriptCopies(0, 10))
	feed := &cappedFeed{store: store}
	feed.upTo.Store(held.Commit)
	logs := &logSink{}
	pt.Start(t, pool, feed, zerolog.New(logs), ps...)
	pt.Wait(t, pool, held, pt.Names(ps...)...)

	rebuilt := l.load(t, scriptCopies(10, 10))
	for _, p := range ps {
		pos, err := projections.Rebuild(ctx, pool, store, p, projections.RebuildConfig{BatchSize: 100})
		if err != nil {
			t.Fatalf("Rebuild %s: %v", p.Name, err)
		}
		if pos != rebuilt {
			t.Errorf("Rebuild %s reached %s, want %s", p.Name, pos, rebuilt)
		}
	}
	cps, err := projections.Checkpoints(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if cps[p.Name] != rebuilt {
			t.Errorf("checkpoint of %s after the rebuild = %s, want %s (the runner is held at %s)", p.Name, cps[p.Name], rebuilt, held)
		}
	}

	last := l.load(t, scriptCopies(20, 5))
	feed.upTo.Store(last.Commit)
	pt.Wait(t, pool, last, pt.Names(ps...)...)

	if diff := cmp.Diff(upTo(l.n), ledgerCommits(t, pool, "ledger")); diff != "" {
		t.Errorf("ledger: every event once (-want +got):\n%s", diff)
	}
	fresh := pgtest.NewPool(t)
	pt.Start(t, fresh, store, zerolog.Nop(), projections.All()...)
	pt.Wait(t, fresh, last, pt.Names(projections.All()...)...)
	if diff := cmp.Diff(tableRows(t, fresh), tableRows(t, pool)); diff != "" {
		t.Errorf("read models (-fresh projection +rebuilt then followed):\n%s", diff)
	}
	logs.mu.Lock()
	moved := strings.Count(logs.buf.String(), "checkpoint moved by another runner")
	logs.mu.Unlock()
	if moved < len(ps) {
		t.Errorf("the runner noticed %d moved checkpoints, want one per projection (%d)", moved, len(ps))
	}
}

// failAt returns p with every reducer failing on the event at position at.
func failAt(p projections.Projection, at eventstore.Position) projections.Projection {
	rs := map[string]projections.Reducer{}
	for _, typ := range domain.EventTypes() {
		inner := p.Reducers[typ]
		rs[typ] = func(b *projections.Batch, e recorded.Event) error {
			if e.Position == at {
				return errInjected
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

// TestFailedRebuildLeavesTheLiveTables: however a rebuild ends short of
// its switch-over, the live tables (the very same ones), their rows and the
// checkpoint stay as they were, and no rebuild schema remains.
func TestFailedRebuildLeavesTheLiveTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, 40)
	middle := w.loader.last
	if feed, err := w.store.ReadAll(ctx, eventstore.Start, 500); err == nil && len(feed) == 500 {
		middle = feed[499].Position
	} else {
		t.Fatalf("read the feed: %d events, %v", len(feed), err)
	}

	type run struct {
		ctx context.Context
		p   projections.Projection
		cfg projections.RebuildConfig
	}
	tests := []struct {
		name string
		// setup returns the rebuild to run, and may hold things until the
		// test ends.
		setup   func(t *testing.T, p projections.Projection) run
		wantErr func(error) bool
	}{
		{"a rebuild cancelled mid-way", func(t *testing.T, p projections.Projection) run {
			ctx, cancel := context.WithCancel(ctx)
			t.Cleanup(cancel)
			return run{ctx, p, projections.RebuildConfig{BatchSize: 100, Progress: func(done, _ int64) {
				if done >= 300 {
					cancel()
				}
			}}}
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
		{"a rebuild whose reducer fails mid-way", func(t *testing.T, p projections.Projection) run {
			return run{ctx, failAt(p, middle), projections.RebuildConfig{BatchSize: 100}}
		}, func(err error) bool { return errors.Is(err, errInjected) }},
		{"a switch-over that cannot lock the checkpoint in time", func(t *testing.T, p projections.Projection) run {
			tx, err := w.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tx.Rollback(ctx) })
			if _, err := tx.Exec(ctx, `SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, p.Name); err != nil {
				t.Fatal(err)
			}
			return run{ctx, p, projections.RebuildConfig{BatchSize: 100, LockWait: 20 * time.Millisecond, SwitchAttempts: 2}}
		}, func(err error) bool {
			var pgErr *pgconn.PgError
			return errors.As(err, &pgErr) && pgErr.Code == "55P03" // lock_not_available
		}},
		{"a projection without tables", func(t *testing.T, p projections.Projection) run {
			p.Tables = nil
			return run{ctx, p, projections.RebuildConfig{}}
		}, func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		for _, p := range projections.All() {
			t.Run(tt.name+" leaves "+p.Name+" as it was", func(t *testing.T) {
				before, oids := w.state(t), tableOIDs(t, w.pool)
				r := tt.setup(t, p)
				_, err := projections.Rebuild(r.ctx, w.pool, w.store, r.p, r.cfg)
				if !tt.wantErr(err) {
					t.Fatalf("Rebuild error = %v, not the one wanted", err)
				}
				if diff := cmp.Diff(oids, tableOIDs(t, w.pool)); diff != "" {
					t.Errorf("live tables (-before +after):\n%s", diff)
				}
				if diff := cmp.Diff(before, w.state(t), equalTimes); diff != "" {
					t.Errorf("state (-before +after):\n%s", diff)
				}
				if s := rebuildSchemas(t, w.pool); len(s) > 0 {
					t.Errorf("schemas left behind: %v", s)
				}
			})
		}
	}
}

func TestRebuildSchemasAndLocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, 5)
	ps := projections.All()
	p, other := ps[0], ps[1]

	t.Run("a schema a crashed rebuild left is dropped by the next rebuild; another projection's is not", func(t *testing.T) {
		leftover := "rebuild_" + p.Name + "_0123456789abcdef"
		longer := "rebuild_" + p.Name + "_x_0123456789abcdef"
		for _, s := range []string{leftover, longer} {
			if _, err := w.pool.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{s}.Sanitize()+`;
				CREATE TABLE `+pgx.Identifier{s, p.Tables[0]}.Sanitize()+` (LIKE `+pgx.Identifier{p.Tables[0]}.Sanitize()+` INCLUDING ALL)`); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := projections.Rebuild(ctx, w.pool, w.store, p, projections.RebuildConfig{}); err != nil {
			t.Fatalf("Rebuild: %v", err)
		}
		if diff := cmp.Diff([]string{longer}, rebuildSchemas(t, w.pool)); diff != "" {
			t.Errorf("rebuild schemas (-want +got):\n%s", diff)
		}
		if _, err := w.pool.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{longer}.Sanitize()+` CASCADE`); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a second rebuild of a projection is refused while one runs; another projection's goes ahead", func(t *testing.T) {
		started, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		done := make(chan error, 1)
		go func() {
			_, err := projections.Rebuild(ctx, w.pool, w.store, p, projections.RebuildConfig{BatchSize: 10,
				Progress: func(int64, int64) {
					once.Do(func() { close(started); <-release })
				}})
			done <- err
		}()
		<-started
		_, err := projections.Rebuild(ctx, w.pool, w.store, p, projections.RebuildConfig{})
		if !errors.Is(err, projections.ErrRebuildRunning) {
			t.Errorf("second Rebuild of %s = %v, want ErrRebuildRunning", p.Name, err)
		}
		if _, err := projections.Rebuild(ctx, w.pool, w.store, other, projections.RebuildConfig{}); err != nil {
			t.Errorf("Rebuild of %s meanwhile: %v", other.Name, err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Errorf("first Rebuild: %v", err)
		}
		if s := rebuildSchemas(t, w.pool); len(s) > 0 {
			t.Errorf("schemas left behind: %v", s)
		}
	})
}
