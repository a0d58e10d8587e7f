package readmodels_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/readmodels"
)

// recorder is a pgx tracer that keeps every statement a pool runs, with
// its arguments, so a test can ask PostgreSQL how it ran them.
type recorder struct {
	mu    sync.Mutex
	stmts []recorded
}

type recorded struct {
	sql  string
	args []any
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmts = append(r.stmts, recorded{d.SQL, d.Args})
	return ctx
}

func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *recorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.stmts
	r.stmts = nil
	return out
}

// TestScaleQueriesUseIndexes seeds a property with 100,000 members and
// 100,000 audit rows, runs every query of the scale benchmarks, and checks
// with EXPLAIN ANALYZE that PostgreSQL answers each from an index in page
// order: no sequential scan and no sort, so a page costs the same on the
// first page and the last. Run it with -v to see the plans.
func TestScaleQueriesUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 200,000 rows")
	}
	t.Parallel()
	url := pgtest.NewDatabase(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	cfg.ConnConfig.Tracer = rec
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	emails := seedMembers(t, pool, scaleRows)
	seedAudit(t, pool, scaleRows)
	rec.take()

	rm := readmodels.New(pool)
	groups := []struct {
		name  string
		cases []scaleCase
	}{{"members", memberCases(emails)}, {"audit", auditCases()}}
	for _, g := range groups {
		for _, c := range g.cases {
			t.Run(g.name+" "+c.name, func(t *testing.T) {
				ctx := context.Background()
				rec.take() // the previous case's EXPLAIN
				n, err := c.run(ctx, rm)
				if err != nil || n != c.want {
					t.Fatalf("%d rows, %v; want %d", n, err, c.want)
				}
				stmts := rec.take()
				if len(stmts) != 1 {
					t.Fatalf("%d statements, want 1", len(stmts))
				}
				plan := explain(t, pool, stmts[0])
				t.Logf("%s\n%s", stmts[0].sql, plan)
				if strings.Contains(plan, "Seq Scan") {
					t.Errorf("the plan has a sequential scan:\n%s", plan)
				}
				// Several types merge a page of each in order (a Merge
				// Append, whose "Sort Key" is no sort); no node may sort.
				if sortNode.MatchString(plan) {
					t.Errorf("the plan sorts rows:\n%s", plan)
				}
				if !strings.Contains(plan, "Index") {
					t.Errorf("the plan uses no index:\n%s", plan)
				}
			})
		}
	}
}

// sortNode finds a Sort or Incremental Sort node in a text plan.
var sortNode = regexp.MustCompile(`(?m)^\s*(->\s+)?(Incremental )?Sort\s+\(`)

// explain runs EXPLAIN ANALYZE on a recorded statement and returns the plan.
func explain(t *testing.T, pool *pgxpool.Pool, s recorded) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) "+s.sql, s.args...)
	if err != nil {
		t.Fatalf("explain %s: %v", s.sql, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("explain %s: %v", s.sql, err)
	}
	return strings.Join(lines, "\n")
}
