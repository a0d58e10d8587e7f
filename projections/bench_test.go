package projections_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
func benchEvents(b *testing.B) int { return pt.BenchEvents(b, 20_000) }

// benchRebuildConfig is the RebuildConfig BenchmarkRebuild uses: the
// defaults, but for ROSTER_BENCH_BATCH and ROSTER_BENCH_WORKERS when set,
// to try other sizes without a build.
func benchRebuildConfig(b *testing.B) projections.RebuildConfig {
	var cfg projections.RebuildConfig
	for env, field := range map[string]*int{"ROSTER_BENCH_BATCH": &cfg.BatchSize, "ROSTER_BENCH_WORKERS": &cfg.Workers} {
		if s := os.Getenv(env); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v <= 0 {
				b.Fatalf("%s=%q is not a positive number", env, s)
			}
			*field = v
		}
	}
	return cfg
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
	cfg := benchRebuildConfig(b)
	pool := pgtest.NewPool(b)
	store := postgres.New(pool)
	pt.Load(b, store, pt.Mix(1, n), 4, 50)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if _, err := projections.RebuildAll(ctx, pool, store, projections.All(), cfg); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		// The rows the rebuilt tables hold, a floor under the rows written
		// (a row changed or deleted on the way is written more than once),
		// to set beside BenchmarkCopyBaseline's.
		b.ReportMetric(float64(rowCount(b, pool, projections.All()))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	for _, p := range projections.All() {
		b.Run(p.Name, func(b *testing.B) {
			for b.Loop() {
				if _, err := projections.Rebuild(ctx, pool, store, p, cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// rowCount counts the rows of every table of ps.
func rowCount(b *testing.B, pool *pgxpool.Pool, ps []projections.Projection) int64 {
	b.Helper()
	var total int64
	for _, p := range ps {
		for _, t := range p.Tables {
			var n int64
			if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{t}.Sanitize()).Scan(&n); err != nil {
				b.Fatal(err)
			}
			total += n
		}
	}
	return total
}

// BenchmarkCopyBaseline is the floor a rebuild's writes are measured
// against: one COPY of ROSTER_BENCH_EVENTS rows shaped as rm_audit's, its
// primary key only, into an ordinary (logged) table of the same
// PostgreSQL, as infra/loadgen's baseline does.
//
//	go test -run '^$' -bench BenchmarkCopyBaseline -benchtime 3x ./projections/
func BenchmarkCopyBaseline(b *testing.B) {
	n := benchEvents(b)
	pool := pgtest.NewPool(b)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE copy_baseline (LIKE rm_audit);
		ALTER TABLE copy_baseline ADD PRIMARY KEY (property_id, revision)`); err != nil {
		b.Fatal(err)
	}
	cols := []string{"property_id", "revision", "commit_position", "prepare_position", "event_id", "event_type",
		"occurred_at", "actor_id", "actor_email", "actor_email_verified", "client_ip", "user_agent", "subject_kind",
		"subject_id", "subject_email", "change_field", "before_value", "after_value", "correlation_id", "causation_id", "command_id"}
	now := time.Now()
	rows := make([][]any, n)
	for i := range rows {
		id := pt.NewID()
		rows[i] = []any{fmt.Sprintf("p-%d", i/1000), int64(i % 1000), int64(i), int64(i), id, "MemberInvited",
			now, "acc-1", "user1@example.com", true, "192.0.2.7", "rebuild-bench", "invitation", id,
			fmt.Sprintf("user%d@example.com", i), "", "", "", id, id, id}
	}
	var took time.Duration
	for b.Loop() {
		if _, err := pool.Exec(ctx, `TRUNCATE copy_baseline`); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"copy_baseline"}, cols, pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
	}
	b.ReportMetric(float64(n)*float64(b.N)/took.Seconds(), "rows/s")
}
