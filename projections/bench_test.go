package projections_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// BenchmarkProjectorBatch measures every projection applying batches of
// generated events (pt.Mix) as the live handlers do: each projection its
// batch in one transaction, checkpoint included. One op is one batch given
// to all eight; events/s counts each event once. "sequential" hands the
// batch to one projection after another, "concurrent" to all at once, as
// the router does.
//
//	go test -run '^$' -bench BenchmarkProjectorBatch -benchtime 40x ./projections/
func BenchmarkProjectorBatch(b *testing.B) {
	for _, size := range []int{100, 500} {
		for _, mode := range []string{"sequential", "concurrent"} {
			b.Run(mode+"/"+strconv.Itoa(size), func(b *testing.B) {
				pool := pgtest.NewPool(b)
				var hs []*projections.Handler
				for _, p := range projections.All() {
					hs = append(hs, projections.NewHandler(pool, p, zerolog.Nop()))
				}
				recs := pt.Records(b, pt.Mix(1, size*b.N))
				b.ResetTimer()
				for i := range b.N {
					batch := recs[i*size : (i+1)*size]
					var wg sync.WaitGroup
					for _, h := range hs {
						apply := func() {
							if err := h.Handle(feed.ToBatchMessage(batch)); err != nil {
								b.Error(err)
							}
						}
						if mode == "sequential" {
							apply()
						} else {
							wg.Go(apply)
						}
					}
					wg.Wait()
				}
				b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// benchEvents is how many generated events BenchmarkRebuild replays:
// ROSTER_BENCH_EVENTS, 20,000 by default. Loading them into the event
// store is not measured, but takes a while for a million.
func benchEvents(b *testing.B) int {
	n := 20_000
	if s := os.Getenv("ROSTER_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("ROSTER_BENCH_EVENTS=%q is not a positive number", s)
		}
		n = v
	}
	return n
}

// BenchmarkRebuild replays a generated feed (pt.Mix) in the PostgreSQL
// event store into fresh tables, switch-over included, and reports events
// replayed per second: "all" rebuilds every projection together, as
// `roster projections rebuild` does, and each other sub-benchmark one
// projection alone.
//
//	ROSTER_BENCH_EVENTS=1000000 go test -run '^$' -bench 'BenchmarkRebuild/all' -benchtime 1x -timeout 1h ./projections/
func BenchmarkRebuild(b *testing.B) {
	n := benchEvents(b)
	pool := pgtest.NewPool(b)
	store := postgres.New(pool)
	pt.Load(b, store, pt.Mix(1, n), 4, 50)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if _, err := projections.RebuildAll(ctx, pool, store, projections.All(), projections.RebuildConfig{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	for _, p := range projections.All() {
		b.Run(p.Name, func(b *testing.B) {
			for b.Loop() {
				if _, err := projections.Rebuild(ctx, pool, store, p, projections.RebuildConfig{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
