package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// cliResult is what one run of the roster binary gave.
type cliResult struct {
	code           int
	stdout, stderr string
}

// roster runs the binary's run function with env as its environment.
func roster(env map[string]string, args ...string) cliResult {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
	return cliResult{code, stdout.String(), stderr.String()}
}

// statusOf runs `projections status -json` and decodes it.
func statusOf(t *testing.T, env map[string]string) statusJSON {
	t.Helper()
	res := roster(env, "projections", "status", "-json")
	if res.code != 0 {
		t.Fatalf("status exit %d: %s", res.code, res.stderr)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(res.stdout), &st); err != nil {
		t.Fatalf("status -json printed %q: %v", res.stdout, err)
	}
	return st
}

// lags sums up a status: each projection's checkpoint and distance behind
// ("?" when unknown).
func lags(st statusJSON) map[string]string {
	out := map[string]string{}
	for _, p := range st.Projections {
		behind := "?"
		if p.Behind != nil {
			behind = fmt.Sprint(*p.Behind)
		}
		out[p.Name] = p.Checkpoint + " behind " + behind
	}
	return out
}

// every maps each projection to the same value, except those in but.
func every(v string, but map[string]string) map[string]string {
	out := map[string]string{}
	for _, p := range projections.All() {
		out[p.Name] = v
		if w, ok := but[p.Name]; ok {
			out[p.Name] = w
		}
	}
	return out
}

// TestProjectionsCommands runs `roster projections` against a database
// holding the standard script in the PostgreSQL event store, step by step:
// each step relies on the checkpoints the ones before it left.
func TestProjectionsCommands(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		// It chooses its own stores, so TestMain's other passes would only
		// repeat it: it runs once, in the PostgreSQL pass.
		t.Skipf("runs in the postgres pass only; this pass is %s", e2eStore)
	}
	pgURL := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := postgres.New(pool)
	last := pt.NewHistory(t, store).Add(pt.Script()...)
	n := len(pt.Script())
	storetest.WaitForFeed(t, store, n) // so the head is the last event
	env := map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_EVENT_STORE": "postgres"}
	members := projections.All()[1].Name
	atHead := last.String() + " behind 0"

	t.Run("status before any projection ran puts each at the start with every event behind", func(t *testing.T) {
		st := statusOf(t, env)
		if st.Head == nil || *st.Head != last.String() {
			t.Errorf("head = %v, want %s", st.Head, last)
		}
		if diff := cmp.Diff(every(fmt.Sprintf("0.0 behind %d", n), nil), lags(st)); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
	})

	t.Run("rebuilding one named projection moves its checkpoint to the head and no other", func(t *testing.T) {
		res := roster(env, "projections", "rebuild", members)
		if res.code != 0 {
			t.Fatalf("rebuild exit %d: %s", res.code, res.stderr)
		}
		if want := fmt.Sprintf("rebuilt %s: %d events in ", members, n); !strings.HasPrefix(res.stdout, want) || strings.Count(res.stdout, "\n") != 1 {
			t.Errorf("stdout = %q, want one line starting %q", res.stdout, want)
		}
		// Not a terminal: progress comes as log lines, the last one final.
		var line struct {
			Message, Projection string
			Done, Total         int64
			EventsPerS          float64 `json:"events_per_s"`
		}
		lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &line); err != nil {
			t.Fatalf("last log line %q: %v", lines[len(lines)-1], err)
		}
		if line.Message != "replayed" || line.Projection != members || line.Done != int64(n) || line.Total != int64(n) || line.EventsPerS <= 0 {
			t.Errorf("last log line = %+v, want replayed %d of %d events of %s at some events/s", line, n, n, members)
		}
		want := every(fmt.Sprintf("0.0 behind %d", n), map[string]string{members: atHead})
		if diff := cmp.Diff(want, lags(statusOf(t, env))); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
	})

	t.Run("rebuilding with no name rebuilds every projection", func(t *testing.T) {
		res := roster(env, "projections", "rebuild", "-batch", "10")
		if res.code != 0 {
			t.Fatalf("rebuild exit %d: %s", res.code, res.stderr)
		}
		for _, p := range projections.All() {
			if !strings.Contains(res.stdout, "rebuilt "+p.Name+": ") {
				t.Errorf("stdout does not report %s:\n%s", p.Name, res.stdout)
			}
		}
		if diff := cmp.Diff(every(atHead, nil), lags(statusOf(t, env))); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
	})

	t.Run("status prints a table of checkpoint, head, distance, state, time and leader", func(t *testing.T) {
		res := roster(env, "projections", "status")
		if res.code != 0 {
			t.Fatalf("status exit %d: %s", res.code, res.stderr)
		}
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		if got := strings.Fields(lines[0]); !cmp.Equal(got, []string{"PROJECTION", "CHECKPOINT", "HEAD", "BEHIND", "STATE", "UPDATED", "LEADER", "SINCE"}) {
			t.Errorf("header = %q", lines[0])
		}
		if len(lines) != len(projections.All())+1 {
			t.Fatalf("status printed %d lines, want a header and one per projection:\n%s", len(lines), res.stdout)
		}
		row := regexp.MustCompile(`^(\S+) +` + regexp.QuoteMeta(last.String()) + ` +` + regexp.QuoteMeta(last.String()) + ` +0 +running +\d{4}-\d\d-\d\dT\S+ +none +-$`)
		for i, p := range projections.All() {
			if m := row.FindStringSubmatch(lines[i+1]); m == nil || m[1] != p.Name {
				t.Errorf("row %d = %q, want %s at the head", i+1, lines[i+1], p.Name)
			}
		}
	})

	refusals := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		inStderr string
	}{
		{"an unknown projection is refused, naming the known ones", env, []string{"projections", "rebuild", members, "nope"}, 1,
			`unknown projection "nope" (known: ` + strings.Join(projectionNames(), ", ") + `)`},
		{"the memory event store cannot be rebuilt from another process",
			map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_EVENT_STORE": "memory"}, []string{"projections", "rebuild"}, 1,
			"memory event store"},
		{"a worker count below one is refused", env, []string{"projections", "rebuild", "-workers", "0"}, 1, "-workers 0"},
		{"a batch size below one is refused", env, []string{"projections", "rebuild", "-batch", "-5"}, 1, "-batch -5"},
		{"an unknown subcommand is a usage error", env, []string{"projections", "replay"}, 2, `unknown command "replay"`},
		{"no subcommand is a usage error", env, []string{"projections"}, 2, "usage: roster projections"},
		{"status takes no arguments", env, []string{"projections", "status", members}, 2, "unexpected arguments"},
	}
	for _, tt := range refusals {
		t.Run(tt.name+" and changes nothing", func(t *testing.T) {
			res := roster(tt.env, tt.args...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.inStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", res.code, res.stderr, tt.code, tt.inStderr)
			}
			if diff := cmp.Diff(every(atHead, nil), lags(statusOf(t, env))); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("with the memory event store the head and distances are unknown", func(t *testing.T) {
		st := statusOf(t, map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_EVENT_STORE": "memory"})
		if st.Head != nil {
			t.Errorf("head = %s, want null", *st.Head)
		}
		if diff := cmp.Diff(every(last.String()+" behind ?", nil), lags(st)); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
	})
}
