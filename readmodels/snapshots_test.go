package readmodels_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// answers is everything History says of a property at a moment, errors
// included, so that two Histories can be compared on all of it at once.
type answers struct {
	Snapshot    readmodels.Snapshot
	SnapshotErr string
	Review      readmodels.AccessReview
	ReviewErr   string
	Members     [][]readmodels.MemberPageAsOf
	MembersErr  []string
	Access      []readmodels.AccessAsOf
	AccessErr   []string
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return domain.CodeOf(err) + ": " + err.Error()
}

// memberFilters are the member queries compared: every page of the whole
// list, and the first page of two narrower ones.
var memberFilters = []struct {
	f   readmodels.MemberFilter
	all bool
}{
	{readmodels.MemberFilter{Limit: readmodels.MaxMemberLimit}, true},
	{readmodels.MemberFilter{Role: "admin", Status: "enabled", Limit: 7}, false},
	{readmodels.MemberFilter{Query: "person1", Status: "disabled", Limit: 5}, false},
}

// ask puts every question to h about pid at at, the access ones about
// accounts.
func ask(t *testing.T, h *readmodels.History, pid string, at time.Time, accounts []string) answers {
	t.Helper()
	ctx := context.Background()
	var a answers
	var err error
	a.Snapshot, err = h.Snapshot(ctx, pid, at)
	a.SnapshotErr = errText(err)
	a.Review, err = h.Review(ctx, pid, at)
	a.ReviewErr = errText(err)
	for _, mf := range memberFilters {
		var pages []readmodels.MemberPageAsOf
		f := mf.f
		for {
			p, err := h.Members(ctx, pid, at, f)
			if err != nil {
				a.MembersErr = append(a.MembersErr, errText(err))
				break
			}
			pages = append(pages, p)
			if !mf.all || p.NextCursor == "" {
				break
			}
			f.Cursor = p.NextCursor
		}
		a.Members = append(a.Members, pages)
	}
	for _, acc := range accounts {
		ac, err := h.Access(ctx, pid, acc, at)
		a.Access, a.AccessErr = append(a.Access, ac), append(a.AccessErr, errText(err))
	}
	return a
}

// longMoments are moments of a history of n steps: before the property,
// a nanosecond before, at, and half a minute after a sample of its events
// (the first and last among them), at and just before some invitations'
// expiry, and now.
func longMoments(steps []pt.Step, rnd *rand.Rand, sample int) []time.Time {
	n := len(steps)
	picks := []int{0, 1, 2, n - 1}
	for range sample {
		picks = append(picks, rnd.IntN(n))
	}
	out := []time.Time{pt.T0.Add(-time.Hour), asOfNow}
	for _, i := range picks {
		out = append(out, pt.At(i).Add(-time.Nanosecond), pt.At(i), pt.At(i).Add(30*time.Second))
	}
	expiries := 0
	for _, s := range steps {
		if inv, ok := s.Event.(domain.MemberInvited); ok && rnd.IntN(40) == 0 && expiries < 4 {
			out = append(out, inv.ExpiresAt.Add(-time.Nanosecond), inv.ExpiresAt)
			expiries++
		}
	}
	return out
}

// askedAccounts are the accounts whose access is compared: the first
// owner, and accounts that come and go.
var askedAccounts = []string{"acc-0", "acc-2", "acc-5"}

func newSnapshotHistory(events readmodels.StreamReader, pool *pgxpool.Pool, every int) *readmodels.History {
	return readmodels.NewHistory(readmodels.HistoryConfig{Events: events, Pool: pool, SnapshotEvery: every,
		Now: func() time.Time { return asOfNow }})
}

func countSnapshots(t *testing.T, pool *pgxpool.Pool, pid string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM history_snapshots WHERE property_id = $1`,
		pid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSnapshotsAnswerAsTheFullFold: on long generated histories, every
// answer at every moment asked, with snapshots written as the moments come
// in random order and then read back, equals the full fold's (a History
// without a Pool, which folds from the first event as History always did).
func TestSnapshotsAnswerAsTheFullFold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		seed   uint64
		n      int
		every  int
		skew   bool
		sample int // how many events the moments are taken around, besides the first and last
	}{
		{"clocks in order, a snapshot every 100 events", 1, 2000, 100, false, 6},
		{"clocks that step back, a snapshot every 64 events", 2, 1500, 64, true, 6},
		{"the default interval, over several pages of the stream", 3, 2600, 0, false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.NewPool(t)
			store := memory.New()
			steps := longSteps(longProperty, tt.seed, tt.n)
			pt.NewHistory(t, store).Add(steps...)
			var events readmodels.StreamReader = store
			if tt.skew {
				events = skewedReader{store}
			}
			full := readmodels.NewHistory(readmodels.HistoryConfig{Events: events, Now: func() time.Time { return asOfNow }})
			snap := newSnapshotHistory(events, pool, tt.every)
			rnd := rand.New(rand.NewPCG(tt.seed, 7))
			moments := longMoments(steps, rnd, tt.sample)
			want := make([]answers, len(moments))
			for i, at := range moments {
				want[i] = ask(t, full, longProperty, at, askedAccounts)
			}
			for pass := range 2 {
				for _, i := range rnd.Perm(len(moments)) {
					got := ask(t, snap, longProperty, moments[i], askedAccounts)
					if diff := cmp.Diff(want[i], got); diff != "" {
						t.Fatalf("pass %d, at %s (-full fold +snapshots):\n%s", pass, moments[i].Format(time.RFC3339Nano), diff)
					}
				}
				if pass == 0 && countSnapshots(t, pool, longProperty) == 0 {
					t.Fatal("no snapshot was written: the comparison proves nothing")
				}
			}
		})
	}
}

// TestSnapshotsBoundTheEventsAFoldReads: a first answer writes the
// snapshots nearest its moment, eight at most; answers at older moments
// write those before; and once they cover the stream an answer at any
// moment reads at most an interval of events (and the one before its
// snapshot, to check it), however long the stream.
func TestSnapshotsBoundTheEventsAFoldReads(t *testing.T) {
	t.Parallel()
	const every, n = 200, 4000
	pool := pgtest.NewPool(t)
	store := memory.New()
	steps := longSteps(longProperty, 4, n)
	pt.NewHistory(t, store).Add(steps...)
	var read int
	h := newSnapshotHistory(countingReader{StreamReader: store, read: &read}, pool, every)
	ctx := context.Background()
	fills := []struct {
		at        time.Time
		wantRead  int
		wantTotal int
	}{
		{asOfNow, n, 8}, // all of it, keeping 2,600 to 4,000
		// From the start, in pages of 201, to the first event after 1,000.
		{pt.At(1000), 5 * 201, 8 + 5},
		// From the event before 1,000 to the first after 2,598, writing
		// 1,200 to 2,400: every interval is covered.
		{pt.At(2598), 8 * 201, n / every},
	}
	for _, f := range fills {
		read = 0
		if _, err := h.Review(ctx, longProperty, f.at); err != nil {
			t.Fatal(err)
		}
		if got := countSnapshots(t, pool, longProperty); read > f.wantRead || got != f.wantTotal {
			t.Fatalf("review at %s read %d events and left %d snapshots, want at most %d and %d",
				f.at.Format(time.RFC3339), read, got, f.wantRead, f.wantTotal)
		}
	}
	moments := []time.Time{asOfNow, pt.At(n - 1), pt.At(n/2 + 17), pt.At(every*3 - 1), pt.At(every).Add(time.Second), pt.At(3)}
	for _, at := range moments {
		read = 0
		if _, err := h.Review(ctx, longProperty, at); err != nil {
			t.Fatal(err)
		}
		if read > every+1 {
			t.Errorf("the review at %s read %d events, want at most %d", at.Format(time.RFC3339), read, every+1)
		}
		read = 0
		if _, err := h.Members(ctx, longProperty, at, readmodels.MemberFilter{}); err != nil {
			t.Fatal(err)
		}
		if read > every+1 {
			t.Errorf("the members at %s read %d events, want at most %d", at.Format(time.RFC3339), read, every+1)
		}
	}
}

// TestSnapshotsOfAnotherHistoryAreNotUsed: snapshots left by another
// history of the same property (an in-memory event store that restarted)
// are recognised by the event they follow, dropped, and written afresh.
func TestSnapshotsOfAnotherHistoryAreNotUsed(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	before, after := memory.New(), memory.New()
	pt.NewHistory(t, before).Add(longSteps(longProperty, 5, 1500)...)
	pt.NewHistory(t, after).Add(longSteps(longProperty, 6, 1200)...)
	if _, err := newSnapshotHistory(before, pool, 100).Review(context.Background(), longProperty, asOfNow); err != nil {
		t.Fatal(err)
	}
	full := readmodels.NewHistory(readmodels.HistoryConfig{Events: after, Now: func() time.Time { return asOfNow }})
	var read int
	snap := newSnapshotHistory(countingReader{StreamReader: after, read: &read}, pool, 100)
	for _, at := range []time.Time{asOfNow, pt.At(1100), pt.At(450), asOfNow} {
		want := ask(t, full, longProperty, at, askedAccounts)
		if diff := cmp.Diff(want, ask(t, snap, longProperty, at, askedAccounts)); diff != "" {
			t.Fatalf("at %s (-full fold of the stream +snapshots):\n%s", at.Format(time.RFC3339), diff)
		}
	}
	if got := countSnapshots(t, pool, longProperty); got != 12 {
		t.Errorf("%d snapshots, want the 12 of the stream's 1,200 events", got)
	}
	read = 0
	if _, err := snap.Review(context.Background(), longProperty, asOfNow); err != nil || read > 101 {
		t.Errorf("review read %d events (%v), want at most 101 from the new snapshots", read, err)
	}
}

// TestSnapshotsUnderConcurrentFolds: answers asked all at once about a
// property without snapshots, at moments old and new, are the full fold's,
// and leave the snapshots of the one fold that took them.
func TestSnapshotsUnderConcurrentFolds(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := memory.New()
	pt.NewHistory(t, store).Add(longSteps(longProperty, 13, 1500)...)
	full := readmodels.NewHistory(readmodels.HistoryConfig{Events: store, Now: func() time.Time { return asOfNow }})
	snap := newSnapshotHistory(store, pool, 100)
	moments := []time.Time{asOfNow, pt.At(1400), pt.At(700), asOfNow, pt.At(1499), pt.At(250), asOfNow, pt.At(1000)}
	want := make([]readmodels.AccessReview, len(moments))
	for i, at := range moments {
		var err error
		if want[i], err = full.Review(context.Background(), longProperty, at); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]readmodels.AccessReview, len(moments))
	errs := make([]error, len(moments))
	var wg sync.WaitGroup
	for i, at := range moments {
		wg.Go(func() { got[i], errs[i] = snap.Review(context.Background(), longProperty, at) })
	}
	wg.Wait()
	for i := range moments {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if diff := cmp.Diff(want[i], got[i]); diff != "" {
			t.Errorf("review at %s (-full fold +snapshots):\n%s", moments[i].Format(time.RFC3339), diff)
		}
	}
	if n := countSnapshots(t, pool, longProperty); n == 0 {
		t.Error("no snapshot after the folds, want those of the fold that took them")
	}
}

// BenchmarkAsOfLongHistory answers at a property of 18,000 events, on the
// PostgreSQL event store with sealed emails opened through the vault, as
// the server does: by the full fold, and from the snapshots a first answer
// wrote. Run it with
//
//	go test ./readmodels -run '^$' -bench AsOfLongHistory -benchtime 20x
func BenchmarkAsOfLongHistory(b *testing.B) {
	const n = 18_000
	pool := pgtest.NewPool(b)
	events, opener := sealedStore(b, pool, longSteps(longProperty, 9, n))
	clock := func() time.Time { return asOfNow }
	folds := []struct {
		name string
		h    *readmodels.History
	}{
		{"full fold", readmodels.NewHistory(readmodels.HistoryConfig{Events: events, Opener: opener, Now: clock})},
		{"snapshots", readmodels.NewHistory(readmodels.HistoryConfig{Events: events, Opener: opener, Now: clock, Pool: pool})},
	}
	ctx := context.Background()
	// The first answer folds the whole stream and writes the eight
	// snapshots nearest its moment; the answers after start from them.
	b.Run("snapshots/first review, writing them", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if _, err := pool.Exec(ctx, `DELETE FROM history_snapshots`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := folds[1].h.Review(ctx, longProperty, asOfNow); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(n, "events")
	})
	moments := []struct {
		name string
		at   time.Time
	}{{"now", asOfNow}, {"mid-history", pt.At(n/2 + 250)}}
	// The answers measured start from the snapshots nearest them.
	for _, m := range moments {
		if _, err := folds[1].h.Review(ctx, longProperty, m.at); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range folds {
		for _, m := range moments {
			b.Run(f.name+"/review at "+m.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := f.h.Review(ctx, longProperty, m.at); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(n, "events")
			})
			b.Run(f.name+"/members at "+m.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := f.h.Members(ctx, longProperty, m.at, readmodels.MemberFilter{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(n, "events")
			})
		}
	}
}
