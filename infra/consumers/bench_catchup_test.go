package consumers_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// catchUpEvents is how many generated events BenchmarkCatchUp follows:
// ROSTER_BENCH_EVENTS, 100,000 by default.
func catchUpEvents(b *testing.B) int { return pt.BenchEvents(b, 100_000) }

// BenchmarkCatchUp times one instance catching up on a generated feed
// (pt.Mix, in a memory store and in the PostgreSQL one, where every
// subscription reads the events from the database) with every projection, as the application
// runs them, from empty read models until every checkpoint reaches the
// head. It reports events/s, this process's CPU per thousand events (the
// server's share; PostgreSQL's is not counted) and, through ReportAllocs,
// the bytes and allocations of a catch-up.
//
//	go test ./infra/consumers/ -run '^$' -bench CatchUp -benchtime 1x -count 3
func BenchmarkCatchUp(b *testing.B) {
	n := catchUpEvents(b)
	steps := pt.Mix(1, n)
	for _, where := range []string{"memory", "postgres"} {
		b.Run(where, func(b *testing.B) {
			pool := pgtest.NewPool(b)
			var store interface {
				feed.Feed
				pt.Appender
				Head(ctx context.Context) (eventstore.Position, error)
			} = memory.New()
			if where == "postgres" {
				store = postgres.New(pool)
			}
			pt.Load(b, store, steps, 2, 50)
			catchUp(b, pool, store, n)
		})
	}
}

// catchUp is one sub-benchmark of BenchmarkCatchUp, over the n events of
// store.
func catchUp(b *testing.B, pool *pgxpool.Pool, store interface {
	feed.Feed
	Head(ctx context.Context) (eventstore.Position, error)
}, n int) {
	ctx := context.Background()
	// The PostgreSQL head holds back behind any transaction open on the
	// server, another database's too: the last event stored is the end.
	head, err := store.Head(ctx)
	if pg, ok := store.(interface {
		LastCommitted(ctx context.Context) (eventstore.Position, error)
	}); ok {
		head, err = pg.LastCommitted(ctx)
	}
	if err != nil {
		b.Fatal(err)
	}
	ps := projections.All()
	b.ReportAllocs()
	b.ResetTimer()
	var took, cpu time.Duration
	for range b.N {
		b.StopTimer()
		if _, err := pool.Exec(ctx, `TRUNCATE `+strings.Join(pt.Tables(ps...), ", ")+`, projection_checkpoints, consumer_leases, consumer_leadership`); err != nil {
			b.Fatal(err)
		}
		c, err := consumers.New(consumers.Config{Pool: pool, Feed: store, Log: zerolog.Nop(), Instance: "bench-" + uuid.NewString()[:8]})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range ps {
			c.AddProjection(p)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		start, cpu0 := time.Now(), processCPU(b)
		go func() { done <- c.Run(runCtx) }()
		for !reached(b, pool, ps, head) {
			time.Sleep(10 * time.Millisecond)
		}
		took += time.Since(start)
		cpu += processCPU(b) - cpu0
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(n*b.N)*1000, "cpu-ms/kevent")
}

// reached reports whether every projection of ps has its checkpoint at head.
func reached(b *testing.B, pool *pgxpool.Pool, ps []projections.Projection, head eventstore.Position) bool {
	b.Helper()
	cps, err := projections.Checkpoints(context.Background(), pool)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range ps {
		if cps[p.Name].Less(head) {
			return false
		}
	}
	return true
}

// processCPU is the user and system CPU this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
