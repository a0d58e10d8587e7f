package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/pgtest"
)

// scratchSchemas lists the bench's scratch schemas left in the database.
func scratchSchemas(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'roster_bench_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestInsertBaseline(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	b, err := insertBaseline(ctx, pool, 4, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows <= 0 || b.PerSecond <= 0 || b.Latency.Count != b.Rows || b.Clients != 4 {
		t.Errorf("baseline = %+v, want rows inserted by 4 clients and a rate", b)
	}
	l := b.Latency
	if !(l.P50MS > 0 && l.P50MS <= l.P95MS && l.P95MS <= l.P99MS && l.P99MS <= l.MaxMS) {
		t.Errorf("latency = %+v, want 0 < p50 <= p95 <= p99 <= max", l)
	}
	if len(b.Errors) != 0 {
		t.Errorf("errors = %v, want none", b.Errors)
	}
	// An empty event store gives the typical sizes.
	if b.DataBytes != 600 || b.MetaBytes != 400 || !strings.Contains(b.SizeSource, "typical") {
		t.Errorf("row sizes %d+%d from %q, want the typical 600+400", b.DataBytes, b.MetaBytes, b.SizeSource)
	}
	if left := scratchSchemas(t, pool); len(left) != 0 {
		t.Errorf("scratch schemas left behind: %v", left)
	}
	var events int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&events); err != nil || events != 0 {
		t.Errorf("Roster's events table has %d rows (err %v), want it untouched", events, err)
	}
}

func TestInsertBaselineSizesRowsLikeStoredEvents(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	data, meta := jsonOfSize(900), jsonOfSize(300)
	if _, err := pool.Exec(ctx, `INSERT INTO events (event_id, stream_id, revision, type, data, metadata)
		VALUES (gen_random_uuid(), 'property-x', 0, 'PropertyCreated', $1, $2)`, data, meta); err != nil {
		t.Fatal(err)
	}
	d, m, source := eventSizes(ctx, pool)
	if d != 900 || m != 300 || !strings.Contains(source, "stored events") {
		t.Errorf("sizes = %d, %d from %q; want 900, 300 from the stored events", d, m, source)
	}
}

func TestCopyBaseline(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	b, err := copyBaseline(context.Background(), pool, 2500)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows != 2500 || b.PerSecond <= 0 || b.TookS <= 0 {
		t.Errorf("baseline = %+v, want 2500 rows and a rate", b)
	}
	if left := scratchSchemas(t, pool); len(left) != 0 {
		t.Errorf("scratch schemas left behind: %v", left)
	}
}

func TestSelectBaseline(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	l, err := selectBaseline(context.Background(), pool, 50)
	if err != nil {
		t.Fatal(err)
	}
	if l.Count != 50 || l.P50MS <= 0 || l.P50MS > l.P99MS {
		t.Errorf("latency = %+v, want 50 round trips with 0 < p50 <= p99", l)
	}
}

func TestJSONOfSize(t *testing.T) {
	for _, n := range []int{0, 10, 21, 22, 600, 4000} {
		got := jsonOfSize(n)
		if n >= 21 && len(got) != n {
			t.Errorf("jsonOfSize(%d) is %d bytes", n, len(got))
		}
		if !strings.HasPrefix(got, `{"schema":1,"pad":"`) || !strings.HasSuffix(got, `"}`) {
			t.Errorf("jsonOfSize(%d) = %q, not the padded object", n, got)
		}
	}
}

func TestHTTPInsertBaseline(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	ctx := context.Background()
	b, err := httpInsertBaseline(ctx, pool, 4, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows <= 0 || b.PerSecond <= 0 || b.Latency.Count != b.Rows || b.Clients != 4 || len(b.Errors) != 0 {
		t.Errorf("baseline = %+v, want requests answered for 4 clients, a rate and no errors", b)
	}
	if left := scratchSchemas(t, pool); len(left) != 0 {
		t.Errorf("scratch schemas left behind: %v", left)
	}
	var events int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&events); err != nil || events != 0 {
		t.Errorf("Roster's events table has %d rows (err %v), want it untouched", events, err)
	}
}

func TestDurabilityReadsTheServersSettings(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	d, err := durability(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if d.SynchronousCommit == "" || (d.Fsync != "on" && d.Fsync != "off") {
		t.Errorf("durability = %+v, want synchronous_commit and fsync as PostgreSQL shows them", d)
	}
}
