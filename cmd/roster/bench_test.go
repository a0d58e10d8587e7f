package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/loadgen"
	"github.com/rosterhq/roster/infra/pgtest"
)

// benchChildEnv marks the test binary started as `roster` by the bench's
// rebuild scenario: a test binary is not roster, so it re-runs itself into
// TestBenchChildProcess, which hands its arguments to run.
const benchChildEnv = "ROSTER_BENCH_TEST_CHILD"

// TestBenchChildProcess is not a test: it is the roster command for the
// child processes the bench starts (see benchChildEnv).
func TestBenchChildProcess(t *testing.T) {
	if os.Getenv(benchChildEnv) != "1" {
		t.Skip("only runs as the bench's child process")
	}
	// As main does: SIGTERM stops a child `roster serve` gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, flag.Args(), os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func testSelf(ctx context.Context, args ...string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestBenchChildProcess$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), benchChildEnv+"=1")
	return cmd, nil
}

// benchRun runs `roster bench` with the test's child command.
func benchRun(env map[string]string, args ...string) cliResult {
	var stdout, stderr strings.Builder
	err := runBench(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr, testSelf)
	code := 0
	switch {
	case err == errUsage:
		code = 2
	case err != nil:
		code = 1
		stderr.WriteString(err.Error())
	}
	return cliResult{code, stdout.String(), stderr.String()}
}

// wantFigures are the figures each scenario must report, and whether each
// has a target.
var wantFigures = map[string]map[string]bool{
	loadgen.Spread: {"accepted commands/s": true, "accepted commands/s against HTTP+INSERT": true, "accepted commands": false, "command latency p50": false,
		"command latency p95": false, "command latency p99": true, "projection lag p50": false,
		"projection lag p99": true, "errors": false, "server peak RSS": true},
	loadgen.Open: {"planned commands/s": false, "accepted commands/s": true, "command latency p50": false,
		"command latency p95": false, "command latency p99": true, "errors": false, "server peak RSS": true},
	loadgen.Hot: {"accepted commands/s": true, "accepted commands": false, "command latency p50": false,
		"command latency p95": false, "command latency p99": true, "projection lag p50": false,
		"projection lag p99": false, "accepted invitations visible after": true, "errors": false, "server peak RSS": true},
	loadgen.Long: {"fresh property latency p50": false, "fresh property latency p95": false, "fresh property latency p99": false,
		"long stream latency p50": false, "long stream latency p95": false, "long stream latency p99": false,
		"long stream p50": true, "long stream p99": true, "long stream commands/s": false,
		"long stream events before": false, "errors": false, "server peak RSS": true},
	loadgen.Read: {"requests/s (paced)": true, "member page p50": false, "member page p95": false, "member page p99": true,
		"permission check p50": false, "permission check p95": false, "permission check p99": true,
		"spread alongside: accepted commands/s": false, "errors": false, "server peak RSS": true},
	loadgen.Check: {"single checks/s": true, "single check p50": false, "single check p99": true,
		"bulk check items/s": true, "bulk check of 100 p50": false, "bulk check of 100 p99": false,
		"paced checks/s": true, "paced check p50": false, "paced check p99": true,
		"paced check sent late p99": false, "paced check from its sending p99": false,
		"check at a command's position p50": false, "check at a command's position p99": false,
		"checks at a command's position answered wrong": true, "errors": false, "server peak RSS": true},
	loadgen.Rebuild: {"events replayed": false, "wall time": false, "events/s (all projections)": true,
		"rebuild process peak RSS": false, "errors": false, "server peak RSS": true},
}

// errorKind is the shape of every kind Classify and the scenarios name.
var errorKind = regexp.MustCompile(`^(spread alongside: )?(\d{3}( [a-z_]+)?|transport: [a-z ]+|lag( query)?: .+|bench: .+|rebuild: .+|answer without its invitation)$`)

// TestBench runs every scenario at a tiny scale against the App, then
// again to find the data set the first run seeded.
func TestBench(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skipf("the bench measures the postgres event store; this pass is %s", e2eStore)
	}
	app := startApp(t, "ROSTER_CHECK_SERVICES", loadgen.CheckService)
	env := map[string]string{"ROSTER_PG_URL": app.pgURL, "ROSTER_JWT_SECRET": testSecret, "ROSTER_EVENT_STORE": "postgres"}
	out := t.TempDir()

	// Eight clients, not 32: the test's PostgreSQL serves other tests too.
	res := benchRun(env, "-url", app.base, "-out", out, "-scale", "0.001", "-duration", "300ms", "-clients", "8")
	if res.code != 0 {
		t.Fatalf("bench exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	raw, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var report loadgen.Report
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatalf("bench.json is not a report: %v", err)
	}

	t.Run("every scenario reports every figure", func(t *testing.T) {
		var names []string
		for _, s := range report.Scenarios {
			names = append(names, s.Name)
			want := wantFigures[s.Name]
			got := map[string]bool{}
			for _, f := range s.Figures {
				got[f.Name] = f.Pass != nil
				if f.Scenario != s.Name {
					t.Errorf("%s: figure %q says scenario %q", s.Name, f.Name, f.Scenario)
				}
			}
			for name, target := range want {
				hasTarget, ok := got[name]
				switch {
				case !ok:
					t.Errorf("%s: no figure %q", s.Name, name)
				case hasTarget != target:
					t.Errorf("%s: figure %q has a target: %v, want %v", s.Name, name, hasTarget, target)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s: figures %v, want %v", s.Name, got, want)
			}
		}
		if strings.Join(names, ",") != strings.Join(loadgen.AllScenarios, ",") {
			t.Errorf("scenarios %v, want %v", names, loadgen.AllScenarios)
		}
	})

	t.Run("the numbers are sane", func(t *testing.T) {
		for _, s := range report.Scenarios {
			if len(s.Latencies) == 0 {
				t.Errorf("%s: no latencies", s.Name)
			}
			for what, l := range s.Latencies {
				if l.Count <= 0 || l.P50MS <= 0 || l.P50MS > l.P95MS || l.P95MS > l.P99MS || l.P99MS > l.MaxMS {
					t.Errorf("%s %s: %+v, want samples with 0 < p50 <= p95 <= p99 <= max (errors %v)", s.Name, what, l, s.Errors)
				}
			}
			if s.PeakRSSBytes <= 0 {
				t.Errorf("%s: peak RSS %d, want the server's memory", s.Name, s.PeakRSSBytes)
			}
			for kind := range s.Errors {
				if !errorKind.MatchString(kind) {
					t.Errorf("%s: error kind %q is not classified", s.Name, kind)
				}
			}
			for _, f := range s.Figures {
				positive := strings.HasSuffix(f.Name, "/s") || strings.Contains(f.Name, "/s ") ||
					strings.Contains(f.Name, "accepted commands") || f.Name == "events replayed" || f.Name == "server peak RSS"
				if positive && f.Value <= 0 {
					t.Errorf("%s: %s = %g, want more than nothing", s.Name, f.Name, f.Value)
				}
			}
		}
		b := report.Baselines
		if b == nil || b.Insert == nil || b.Insert.Rows <= 0 || b.HTTPInsert == nil || b.HTTPInsert.Rows <= 0 || b.Copy == nil || b.Copy.Rows != 1000 || b.Select == nil || b.Select.Count <= 0 {
			t.Errorf("baselines = %+v, want the insert, COPY and SELECT baselines measured", b)
		}
		if d := report.Durability; d == nil || d.SynchronousCommit == "" || d.Fsync == "" {
			t.Errorf("durability %+v, want the server's synchronous_commit and fsync", d)
		}
		if report.MemorySource == "" || !strings.Contains(report.MemorySource, "/metrics") {
			t.Errorf("memory source %q, want GET /metrics (no -server-pid given)", report.MemorySource)
		}
	})

	t.Run("every command the hot scenario got accepted is visible after", func(t *testing.T) {
		for _, f := range figuresOf(report, loadgen.Hot) {
			if f.Name == "accepted invitations visible after" && (f.Pass == nil || !*f.Pass || f.Value <= 0) {
				t.Errorf("visible after: %+v, want every accepted invitation listed", f)
			}
		}
	})

	t.Run("the rebuild ran the operator's command to the end", func(t *testing.T) {
		for _, s := range report.Scenarios {
			if s.Name == loadgen.Rebuild && len(s.Errors) != 0 {
				t.Errorf("rebuild errors: %v", s.Errors)
			}
		}
		if !strings.Contains(res.stderr, "rebuil") {
			t.Errorf("the rebuild's progress did not reach stderr:\n%s", res.stderr)
		}
	})

	t.Run("the Markdown has a row per figure and the stdout the table", func(t *testing.T) {
		md, err := os.ReadFile(filepath.Join(out, "bench.md"))
		if err != nil {
			t.Fatal(err)
		}
		header := "| scenario | figure | value | baseline | ratio | target | result |"
		if !strings.Contains(string(md), header) || !strings.Contains(res.stdout, header) {
			t.Errorf("no table header in bench.md or stdout")
		}
		rows := 0
		for _, line := range strings.Split(string(md), "\n") {
			if strings.HasPrefix(line, "| ") && strings.Count(line, " | ") == 6 && !strings.HasPrefix(line, "| scenario") {
				rows++
			}
		}
		if rows < len(report.Figures) {
			t.Errorf("%d figure rows in bench.md, want %d", rows, len(report.Figures))
		}
		if !strings.Contains(res.stdout, "wrote "+filepath.Join(out, "bench.json")) {
			t.Errorf("stdout does not say where the report went:\n%s", res.stdout)
		}
	})

	t.Run("the baselines leave no scratch schema behind", func(t *testing.T) {
		pool, err := pgxpool.New(context.Background(), app.pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'roster_bench_%'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%d scratch schemas left (err %v)", n, err)
		}
	})

	t.Run("a second run finds the data set the first one seeded", func(t *testing.T) {
		again := benchRun(env, "-url", app.base, "-out", out, "-scale", "0.001", "-duration", "300ms", "-clients", "8", "-scenarios", "long,read")
		if again.code != 0 {
			t.Fatalf("bench exit %d\n%s\n%s", again.code, again.stdout, again.stderr)
		}
		var second loadgen.Report
		raw, err := os.ReadFile(filepath.Join(out, "bench.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &second); err != nil {
			t.Fatal(err)
		}
		reused := map[string]bool{}
		for _, s := range second.Seeding {
			reused[s.Name] = s.Reused
		}
		if !reused["read property"] || !reused["long-stream property"] || len(second.Scenarios) != 2 {
			t.Errorf("seeding %+v with %d scenarios, want the read and long-stream properties reused", second.Seeding, len(second.Scenarios))
		}
	})

	t.Run("a token signed with another secret is refused up front", func(t *testing.T) {
		bad := map[string]string{"ROSTER_PG_URL": app.pgURL, "ROSTER_JWT_SECRET": strings.Repeat("x", 40)}
		r := benchRun(bad, "-url", app.base, "-out", t.TempDir(), "-scenarios", "hot")
		if r.code != 1 || !strings.Contains(r.stderr, "refused the bench's token") {
			t.Errorf("exit %d, stderr %q; want 1 and the token refused", r.code, r.stderr)
		}
	})
}

// TestBenchResumesAnInterruptedSeeding leaves the read and long-stream
// properties as a run stopped mid-seeding would (named as the bench names
// them, owned by its owner), and checks that the bench carries on with
// them rather than starting afresh.
func TestBenchResumesAnInterruptedSeeding(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skipf("the bench measures the postgres event store; this pass is %s", e2eStore)
	}
	app := startApp(t)
	owner := user{ID: "bench-owner", Email: "bench-owner@bench.example"}
	owner.Token = mint(t, testSecret, "roster", "roster", owner.ID, owner.Email, true, time.Hour, time.Now())

	// The read property of scale 0.001 (100 members): 50 invited, 20 of
	// whom accepted.
	readPID := app.do(t, "POST", "/v1/properties", owner.Token, map[string]string{"name": "bench-read-100"}, nil).want(t, 201).str("property_id")
	var rows []map[string]string
	for i := range 50 {
		rows = append(rows, map[string]string{"email": fmt.Sprintf("member-%d@bench.example", i), "role": "agent"})
	}
	var invited struct {
		Invitations []struct{ ID, Email string }
	}
	app.do(t, "POST", "/v1/properties/"+readPID+"/invitations", owner.Token, map[string]any{"invitations": rows}, nil).want(t, 201).into(t, &invited)
	for _, inv := range invited.Invitations {
		var i int
		if _, err := fmt.Sscanf(inv.Email, "member-%d@", &i); err != nil || i >= 20 {
			continue
		}
		tok := mint(t, testSecret, "roster", "roster", fmt.Sprintf("bench-member-%d", i), inv.Email, true, time.Hour, time.Now())
		app.do(t, "POST", "/v1/properties/"+readPID+"/invitations/"+inv.ID+"/accept", tok, nil, nil).want(t, 200)
	}
	// The long-stream property, its first cycle cut short: invited, never revoked.
	longPID := app.do(t, "POST", "/v1/properties", owner.Token, map[string]string{"name": "bench-long-100"}, nil).want(t, 201).str("property_id")
	app.do(t, "POST", "/v1/properties/"+longPID+"/invitations", owner.Token,
		map[string]any{"invitations": []map[string]string{{"email": "left@bench.example", "role": "agent"}}}, nil).want(t, 201)

	env := map[string]string{"ROSTER_PG_URL": app.pgURL, "ROSTER_JWT_SECRET": testSecret}
	out := t.TempDir()
	res := benchRun(env, "-url", app.base, "-out", out, "-scale", "0.001", "-duration", "300ms", "-clients", "4", "-scenarios", "long,read")
	if res.code != 0 {
		t.Fatalf("bench exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	raw, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var report loadgen.Report
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatal(err)
	}
	steps := map[string]loadgen.SeedStep{}
	for _, s := range report.Seeding {
		steps[s.Name] = s
	}
	// The seeding imports members now: the 50 never invited are imported,
	// the 30 left pending accept their invitations.
	if s := steps["read property"]; s.Reused || !strings.Contains(s.Detail, readPID) ||
		!strings.Contains(s.Detail, "50 imported") || !strings.Contains(s.Detail, "30 pending accepts") {
		t.Errorf("read property step %+v, want %s carried on: 50 imported, 30 pending invitations accepted", s, readPID)
	}
	if s := steps["long-stream property"]; s.Reused || !strings.Contains(s.Detail, longPID) {
		t.Errorf("long-stream step %+v, want %s carried on", s, longPID)
	}
	// The read scenario walks every member and fails unless all 101 are there.
	if len(report.Scenarios) != 2 || len(figuresOf(report, loadgen.Read)) == 0 {
		t.Errorf("scenarios %v, want long and read to have run", report.Scenarios)
	}
	var p struct {
		MemberCount int `json:"member_count"`
		Revision    int `json:"revision"`
	}
	app.do(t, "GET", "/v1/properties/"+readPID, owner.Token, nil, nil).want(t, 200).into(t, &p)
	if p.MemberCount != 101 {
		t.Errorf("the read property has %d members, want 101", p.MemberCount)
	}
}

func figuresOf(r loadgen.Report, scenario string) []loadgen.Figure {
	var out []loadgen.Figure
	for _, f := range r.Figures {
		if f.Scenario == scenario {
			out = append(out, f)
		}
	}
	return out
}

func TestBenchRefusesBadFlags(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skipf("needs no event store; runs in the postgres pass only, this pass is %s", e2eStore)
	}
	pgURL := pgtest.NewDatabase(t)
	env := map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_JWT_SECRET": testSecret}
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{"an unknown flag", env, []string{"-bogus"}, 2, []string{"flag provided but not defined"}},
		{"an argument that is not a flag", env, []string{"spread"}, 2, []string{"unexpected arguments"}},
		{"a duration that is not one", env, []string{"-duration", "soon"}, 2, []string{"invalid value"}},
		{"every bad value at once", env, []string{"-scale", "0", "-scenarios", "spread,warm", "-duration", "-1s",
			"-server-pid", "-3", "-url", "ftp://x"}, 1,
			[]string{`unknown scenario "warm"`, "scale 0", "duration -1s", "-server-pid -3", `url "ftp://x"`}},
		{"a scale beyond 10", env, []string{"-scale", "11"}, 1, []string{"scale 11"}},
		{"no clients", env, []string{"-clients", "0"}, 1, []string{"-clients 0"}},
		{"a process that does not exist", env, []string{"-server-pid", "999999999"}, 1, []string{"no such process"}},
		{"no secret to sign tokens with", map[string]string{"ROSTER_PG_URL": pgURL}, nil, 1, []string{"JWT secret"}},
		{"another event store", env, []string{"-event-store", "memory"}, 1, []string{"postgres event store only"}},
		{"an empty output directory", env, []string{"-out", ""}, 1, []string{"-out"}},
		{"no server at the URL", env, []string{"-url", "http://127.0.0.1:1", "-out", t.TempDir()}, 1,
			[]string{"not ready", "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := benchRun(tt.env, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.wantCode, r.stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
		})
	}
	t.Run("roster bench is a command of the binary", func(t *testing.T) {
		r := roster(env, "bench", "-scenarios", "warm")
		if r.code != 1 || !strings.Contains(r.stderr, `roster bench: -scenarios: unknown scenario "warm"`) {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		if help := roster(env, "help"); !strings.Contains(help.stdout, "bench") {
			t.Errorf("usage does not list bench:\n%s", help.stdout)
		}
	})
}

func TestBaseURLOf(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{":8080", "http://127.0.0.1:8080"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000"},
		{"[::]:9000", "http://127.0.0.1:9000"},
		{"[::1]:9000", "http://[::1]:9000"},
		{"roster.internal:80", "http://roster.internal:80"},
	}
	for _, tt := range tests {
		if got := baseURLOf(tt.addr); got != tt.want {
			t.Errorf("baseURLOf(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
