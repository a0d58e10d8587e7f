package consumers_test

import (
	"context"
	"os"
	"strconv"
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
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// catchUpEvents is how many generated events BenchmarkCatchUp follows:
// ROSTER_BENCH_EVENTS, 100,000 by default.
func catchUpEvents(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("ROSTER_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("ROSTER_BENCH_EVENTS=%q is not a positive number", s)
		}
		n = v
	}
	return n
}

// BenchmarkCatchUp times one instance catching up on a generated feed
// (pt.Mix, in a memory store) with every projection, as the application
// runs them, from empty read models until every checkpoint reaches the
// head. It reports events/s, this process's CPU per thousand events (the
// server's share; PostgreSQL's is not counted) and, through ReportAllocs,
// the bytes and allocations of a catch-up.
//
//	go test ./infra/consumers/ -run '^$' -bench CatchUp -benchtime 1x -count 3
func BenchmarkCatchUp(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.NewPool(b)
	store := memory.New()
	n := pt.Load(b, store, pt.Mix(1, catchUpEvents(b)), 2, 50)
	head, err := store.Head(ctx)
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
		if cps[p.Name] != head {
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
