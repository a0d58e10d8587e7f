package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Baselines are what bare PostgreSQL does on the same server, for the
// ratios of the report.
type Baselines struct {
	Insert *InsertBaseline `json:"insert,omitempty"`
	// HTTPInsert is the same row inserted once per request by a plain
	// net/http handler the bench serves itself, driven by the same client
	// as Roster: what HTTP and JSON cost before Roster does anything.
	HTTPInsert *InsertBaseline `json:"http_insert,omitempty"`
	Copy       *CopyBaseline   `json:"copy,omitempty"`
	// Select is the latency of SELECT 1, one after another on one
	// connection: the floor under any query of the read side.
	Select *Latency `json:"select,omitempty"`
}

// InsertBaseline is single-row INSERT transactions of an event-sized row
// from many clients at once.
type InsertBaseline struct {
	Clients    int            `json:"clients"`
	DataBytes  int            `json:"data_bytes"`
	MetaBytes  int            `json:"metadata_bytes"`
	Rows       int            `json:"rows"`
	PerSecond  float64        `json:"per_s"`
	Latency    Latency        `json:"latency"`
	Errors     map[string]int `json:"errors"`
	DurationS  float64        `json:"duration_s"`
	SizeSource string         `json:"size_source"`
}

// CopyBaseline is one COPY of audit-row-shaped rows.
type CopyBaseline struct {
	Rows      int     `json:"rows"`
	TookS     float64 `json:"took_s"`
	PerSecond float64 `json:"per_s"`
}

// scratchSchema creates a schema of the bench's own for a baseline's
// tables and returns a function that drops it. The tables are ordinary
// (logged) ones, as Roster's are: a TEMP table skips the write-ahead log
// and would make the baseline faster than anything Roster could be.
func scratchSchema(ctx context.Context, pool *pgxpool.Pool) (string, func(), error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "roster_bench_" + hex.EncodeToString(b)
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", nil, fmt.Errorf("create scratch schema: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = pool.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
	}
	return name, drop, nil
}

// eventSizes is the average size of a stored event's data and metadata,
// from the newest events Roster stored, or typical sizes when it has none.
func eventSizes(ctx context.Context, pool *pgxpool.Pool) (data, meta int, source string) {
	err := pool.QueryRow(ctx, `SELECT coalesce(avg(octet_length(data::text)), 0)::int,
		coalesce(avg(octet_length(metadata::text)), 0)::int
		FROM (SELECT data, metadata FROM events ORDER BY seq DESC LIMIT 1000) e`).Scan(&data, &meta)
	if err != nil || data == 0 {
		return 600, 400, "typical sizes (no events stored)"
	}
	return data, meta, "average of the newest 1000 stored events"
}

// jsonOfSize is a JSON object of about n bytes.
func jsonOfSize(n int) string {
	const head = `{"schema":1,"pad":""}`
	return `{"schema":1,"pad":"` + strings.Repeat("x", max(n-len(head), 0)) + `"}`
}

// insertBaseline runs clients goroutines, each inserting one event-shaped
// row per transaction into a table shaped and indexed like Roster's events
// table, for d. Each client has a connection of its own, from a pool
// opened for the baseline and closed after it.
func insertBaseline(ctx context.Context, pool *pgxpool.Pool, clients int, d time.Duration) (*InsertBaseline, error) {
	et, err := openEventsTable(ctx, pool, clients)
	if err != nil {
		return nil, fmt.Errorf("insert baseline: %w", err)
	}
	defer et.close()
	conns, sql, dataBytes, source := et.conns, et.insert, et.dataBytes, et.source
	data, meta := jsonOfSize(dataBytes), jsonOfSize(et.metaBytes)

	var (
		rec  Recorder
		errs Errors
		wg   sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Go(func() {
			stream := "property-" + uuid.NewString()
			for rev := 0; time.Now().Before(deadline) && ctx.Err() == nil; rev++ {
				t0 := time.Now()
				_, err := conns.Exec(ctx, sql, uuid.New(), stream, rev, data, meta)
				if err != nil {
					errs.Add(pgKind(err))
					continue
				}
				rec.Record(time.Since(t0))
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l := rec.Summary()
	return &InsertBaseline{Clients: clients, DataBytes: len(data), MetaBytes: len(meta), Rows: l.Count,
		PerSecond: float64(l.Count) / took.Seconds(), Latency: l, Errors: errs.Counts(),
		DurationS: took.Seconds(), SizeSource: source}, nil
}

// eventsTable is what the insert baselines write to: a scratch table
// shaped like Roster's events table, the INSERT of one row into it, the
// sizes of Roster's stored rows, and a pool with a connection for each
// client, opened for the baseline and closed after it.
type eventsTable struct {
	conns                *pgxpool.Pool
	insert               string
	dataBytes, metaBytes int
	source               string
	close                func()
}

func openEventsTable(ctx context.Context, pool *pgxpool.Pool, clients int) (*eventsTable, error) {
	cfg := pool.Config()
	cfg.MaxConns, cfg.MinConns = int32(clients), 0
	conns, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	schema, drop, err := scratchSchema(ctx, pool)
	if err != nil {
		conns.Close()
		return nil, err
	}
	et := &eventsTable{conns: conns, close: func() { conns.Close(); drop() }}
	table := schema + ".events"
	if err := createEventsTable(ctx, pool, table); err != nil {
		et.close()
		return nil, err
	}
	et.dataBytes, et.metaBytes, et.source = eventSizes(ctx, pool)
	et.insert = `INSERT INTO ` + table + ` (event_id, stream_id, revision, type, data, metadata) VALUES ($1, $2, $3, 'MemberInvited', $4, $5)`
	return et, nil
}

// createEventsTable creates a table shaped and indexed like Roster's
// events table, for the baselines that insert event rows.
func createEventsTable(ctx context.Context, pool *pgxpool.Pool, table string) error {
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (
		seq            bigserial   PRIMARY KEY,
		transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
		event_id       uuid        NOT NULL UNIQUE,
		stream_id      text        NOT NULL,
		revision       bigint      NOT NULL,
		type           text        NOT NULL,
		data           json        NOT NULL,
		metadata       json,
		recorded_at    timestamptz NOT NULL DEFAULT now(),
		UNIQUE (stream_id, revision))`); err != nil {
		return fmt.Errorf("create baseline table: %w", err)
	}
	if _, err := pool.Exec(ctx, `CREATE INDEX ON `+table+` (transaction_id, seq)`); err != nil {
		return fmt.Errorf("create baseline index: %w", err)
	}
	return nil
}

// Durability is how the server's PostgreSQL makes a commit durable: the
// baselines and Roster run under the same settings, and a ratio means
// little without them (synchronous_commit off or fsync off make every
// commit-bound figure faster).
type Durability struct {
	SynchronousCommit string `json:"synchronous_commit"`
	Fsync             string `json:"fsync"`
}

// durability reads the settings over the bench's own connection, the
// session settings the baselines run with.
func durability(ctx context.Context, pool *pgxpool.Pool) (*Durability, error) {
	var d Durability
	if err := pool.QueryRow(ctx, "SELECT current_setting('synchronous_commit'), current_setting('fsync')").
		Scan(&d.SynchronousCommit, &d.Fsync); err != nil {
		return nil, fmt.Errorf("read the durability settings: %w", err)
	}
	return &d, nil
}

// httpInsertBaseline serves a plain net/http handler on the loopback that
// decodes a JSON invitation row and inserts one event-shaped row per
// request, in a transaction of its own, into a table shaped like Roster's
// events table; clients of the bench's own HTTP client (the one that
// drives Roster) send to it in a closed loop for d. The gap between it and
// Roster is what Roster adds on top of HTTP, JSON and one commit; the gap
// between it and insertBaseline is what HTTP costs on this machine.
func httpInsertBaseline(ctx context.Context, pool *pgxpool.Pool, clients int, d time.Duration) (*InsertBaseline, error) {
	et, err := openEventsTable(ctx, pool, clients)
	if err != nil {
		return nil, fmt.Errorf("http insert baseline: %w", err)
	}
	defer et.close()
	conns, sql, dataBytes, source := et.conns, et.insert, et.dataBytes, et.source
	meta := jsonOfSize(et.metaBytes)
	var rev atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /rows", func(w http.ResponseWriter, r *http.Request) {
		var row inviteRow
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&row); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The row stored is as large as Roster's events are on average;
		// the request's own fields go into it.
		data, err := json.Marshal(map[string]string{"email": row.Email, "role": row.Role,
			"pad": strings.Repeat("x", max(dataBytes-len(row.Email)-len(row.Role)-40, 0))})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n := rev.Add(1)
		if _, err := conns.Exec(r.Context(), sql, uuid.New(), "property-bench-http", n, data, meta); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]int64{"revision": n})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("http insert baseline: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	c := newClient("http://" + ln.Addr().String())
	defer c.close()

	var (
		rec  Recorder
		errs Errors
	)
	took := closedLoop(ctx, clients, d, func(ctx context.Context, w, i int) {
		a := c.do(ctx, "POST", "/rows", "", inviteRow{Email: fmt.Sprintf("http-%d-%d@bench.example", w, i), Role: "agent"})
		if a.Kind != "" {
			errs.Add(a.Kind)
			return
		}
		rec.Record(a.Took)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l := rec.Summary()
	return &InsertBaseline{Clients: clients, DataBytes: dataBytes, MetaBytes: len(meta), Rows: l.Count,
		PerSecond: float64(l.Count) / took.Seconds(), Latency: l, Errors: errs.Counts(),
		DurationS: took.Seconds(), SizeSource: source}, nil
}

// copyBaseline copies rows shaped like the audit read model's (one row per
// event, the widest of the read models) into a table with its primary key.
func copyBaseline(ctx context.Context, pool *pgxpool.Pool, rows int) (*CopyBaseline, error) {
	schema, drop, err := scratchSchema(ctx, pool)
	if err != nil {
		return nil, err
	}
	defer drop()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+schema+`.audit (
		property_id text NOT NULL, revision bigint NOT NULL, commit_position bigint NOT NULL,
		prepare_position bigint NOT NULL, event_id text NOT NULL, event_type text NOT NULL,
		occurred_at timestamptz NOT NULL, actor_id text NOT NULL, actor_email text NOT NULL,
		client_ip text NOT NULL, user_agent text NOT NULL, subject_kind text NOT NULL,
		subject_id text NOT NULL, subject_email text NOT NULL, change_field text NOT NULL,
		before_value text NOT NULL, after_value text NOT NULL, correlation_id text NOT NULL,
		causation_id text NOT NULL, command_id text NOT NULL,
		PRIMARY KEY (property_id, revision))`); err != nil {
		return nil, fmt.Errorf("create baseline table: %w", err)
	}
	cols := []string{"property_id", "revision", "commit_position", "prepare_position", "event_id", "event_type",
		"occurred_at", "actor_id", "actor_email", "client_ip", "user_agent", "subject_kind", "subject_id",
		"subject_email", "change_field", "before_value", "after_value", "correlation_id", "causation_id", "command_id"}
	// A property per thousand rows, as the seeded data set spreads its events.
	props := make([]string, rows/1000+1)
	for i := range props {
		props[i] = uuid.NewString()
	}
	now := time.Now()
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == rows {
			return nil, nil
		}
		id := uuid.NewString()
		row := []any{props[i/1000], int64(i % 1000), int64(i), int64(i), id, "MemberInvited",
			now, "bench-owner", "bench-owner@bench.example", "127.0.0.1", "roster-bench",
			"invitation", id, fmt.Sprintf("invitee-%d@bench.example", i), "", "", "", id, id, id}
		i++
		return row, nil
	})
	start := time.Now()
	n, err := pool.CopyFrom(ctx, pgx.Identifier{schema, "audit"}, cols, src)
	took := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("copy baseline: %w", err)
	}
	return &CopyBaseline{Rows: int(n), TookS: took.Seconds(), PerSecond: float64(n) / took.Seconds()}, nil
}

// selectBaseline times n round trips of SELECT 1 on one connection.
func selectBaseline(ctx context.Context, pool *pgxpool.Pool, n int) (*Latency, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	var rec Recorder
	var one int
	for range n {
		t0 := time.Now()
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			return nil, fmt.Errorf("select baseline: %w", err)
		}
		rec.Record(time.Since(t0))
	}
	l := rec.Summary()
	return &l, nil
}

// pgKind names a PostgreSQL failure by its SQLSTATE, so the counts group.
func pgKind(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return "postgresql " + pgErr.Code
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "postgresql: canceled"
	}
	return "postgresql: " + transportKind(err)
}
