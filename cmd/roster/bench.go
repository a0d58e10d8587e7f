package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/loadgen"
)

// selfCommand makes the command that runs this binary with args, for the
// rebuild the bench times as an operator runs it. Tests give their own,
// since a test binary is not roster.
type selfCommand func(ctx context.Context, args ...string) (*exec.Cmd, error)

func execSelf(ctx context.Context, args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the roster binary: %w", err)
	}
	return exec.CommandContext(ctx, exe, args...), nil
}

func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runBench(ctx, args, getenv, stdout, stderr, execSelf)
}

// runBench is `roster bench`: it drives the server at -url with every
// scenario, prints each as it finishes and the table at the end, and
// writes bench.json and bench.md to -out.
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, self selfCommand) error {
	fs := flag.NewFlagSet("roster bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: roster bench [flags]\n\nDrives a running Roster with the load scenarios of docs/PERFORMANCE.md (%s) and\nwrites bench.json and bench.md.\n\nflags:\n",
			strings.Join(loadgen.AllScenarios, ", "))
		fs.PrintDefaults()
	}
	ops := newOpsFlags(fs, getenv)
	baseURL := fs.String("url", "", "the server's base URL (default http:// and ROSTER_HTTP_ADDR, else "+config.DefaultHTTPAddr+")")
	out := fs.String("out", filepath.Join(".roster", "bench"), "directory for bench.json and bench.md")
	scenarios := fs.String("scenarios", strings.Join(loadgen.AllScenarios, ","), "comma-separated scenarios to run")
	scale := fs.Float64("scale", 1, "multiplies every data-set size and the default duration (1: the sizes of docs/PERFORMANCE.md)")
	duration := fs.Duration("duration", 0, "how long each timed scenario measures (default 20s times -scale, at least 500ms)")
	clients := fs.Int("clients", loadgen.DefaultClients, "concurrent clients of spread, hot and the insert baseline")
	pid := fs.Int("server-pid", 0, "the server's process ID, to read its memory from /proc (default: sample GET /metrics)")
	secret := fs.String("jwt-secret", "", "HS256 secret the server verifies tokens with (env ROSTER_JWT_SECRET)")
	issuer := fs.String("jwt-issuer", orDefault(getenv("ROSTER_JWT_ISSUER"), config.DefaultJWTIssuer), "iss claim (env ROSTER_JWT_ISSUER)")
	audience := fs.String("jwt-audience", orDefault(getenv("ROSTER_JWT_AUDIENCE"), config.DefaultJWTAudience), "aud claim (env ROSTER_JWT_AUDIENCE)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "roster bench: unexpected arguments %v\n", fs.Args())
		return errUsage
	}
	// Secrets are read from the environment after parsing, so -h never
	// prints them.
	*secret = orDefault(*secret, getenv("ROSTER_JWT_SECRET"))
	ops.cfg.PGURL = orDefault(ops.cfg.PGURL, orDefault(strings.TrimSpace(getenv("ROSTER_PG_URL")), config.DefaultPGURL))
	ops.cfg.ESDBURL = orDefault(ops.cfg.ESDBURL, strings.TrimSpace(getenv("ROSTER_ESDB_URL")))
	if *baseURL == "" {
		*baseURL = baseURLOf(orDefault(strings.TrimSpace(getenv("ROSTER_HTTP_ADDR")), config.DefaultHTTPAddr))
	}

	var problems []error
	chosen, err := loadgen.ParseScenarios(*scenarios)
	if err != nil {
		problems = append(problems, fmt.Errorf("-scenarios: %w", err))
	}
	if *pid < 0 {
		problems = append(problems, fmt.Errorf("-server-pid %d must be positive", *pid))
	} else if *pid > 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/status", *pid)); err != nil {
			problems = append(problems, fmt.Errorf("-server-pid %d: no such process to read memory from", *pid))
		}
	}
	if *clients <= 0 {
		problems = append(problems, fmt.Errorf("-clients %d must be positive", *clients))
	}
	if *out == "" {
		problems = append(problems, errors.New("-out must name a directory"))
	}
	if ops.cfg.EventStore != config.EventStorePostgres {
		// The baselines compare with events stored in PostgreSQL, and the
		// rebuild's events are counted there.
		problems = append(problems, fmt.Errorf("-event-store %s: the bench measures the postgres event store only", ops.cfg.EventStore))
	}
	cfg := loadgen.Config{
		URL: *baseURL, PGURL: ops.cfg.PGURL, Secret: *secret, Issuer: *issuer, Audience: *audience,
		Scenarios: chosen, Scale: *scale, Duration: *duration, Clients: *clients, ServerPID: *pid, Progress: stdout,
		Rebuild: rebuildWith(self, ops.cfg, getenv, stderr),
	}
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err)
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}

	report, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	var js, md bytes.Buffer
	if err := report.WriteJSON(&js); err != nil {
		return err
	}
	if err := report.WriteMarkdown(&md); err != nil {
		return err
	}
	jsonPath, mdPath := filepath.Join(*out, "bench.json"), filepath.Join(*out, "bench.md")
	if err := os.WriteFile(jsonPath, js.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
		return err
	}
	if d := report.Durability; d != nil {
		fmt.Fprintf(stdout, "\nPostgreSQL durability (Roster and baselines alike): synchronous_commit=%s, fsync=%s\n", d.SynchronousCommit, d.Fsync)
	}
	fmt.Fprintf(stdout, "\n%s\nwrote %s and %s\n", report.Table(), jsonPath, mdPath)
	if n := len(report.Failed); n > 0 {
		fmt.Fprintf(stdout, "%d target(s) missed: %s\n", n, strings.Join(report.Failed, "; "))
	}
	return nil
}

// baseURLOf turns a listen address into the URL a client on this machine
// reaches it at: a wildcard host is reached on the loopback.
func baseURLOf(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// rebuildWith runs `roster projections rebuild` (every projection) as a
// child process on the same configuration, the way an operator would, and
// reports its peak memory. Its progress goes to stderr as it comes.
func rebuildWith(self selfCommand, cfg config.Config, getenv func(string) string, stderr io.Writer) loadgen.RebuildFunc {
	return func(ctx context.Context) (loadgen.RebuildRun, error) {
		cmd, err := self(ctx, "projections", "rebuild")
		if err != nil {
			return loadgen.RebuildRun{}, err
		}
		// The URLs travel in the environment, not on the command line
		// where any user's ps would show a password.
		env := append(os.Environ(), "ROSTER_PG_URL="+cfg.PGURL, "ROSTER_EVENT_STORE="+cfg.EventStore,
			"ROSTER_LOG_FORMAT="+orDefault(getenv("ROSTER_LOG_FORMAT"), cfg.LogFormat))
		if cfg.ESDBURL != "" {
			env = append(env, "ROSTER_ESDB_URL="+cfg.ESDBURL)
		}
		cmd.Env = append(cmd.Env, env...)
		var output tailBuffer
		// One writer for both streams: exec then copies them through one
		// pipe, so stderr never sees two writes at once.
		w := io.MultiWriter(&output, stderr)
		cmd.Stdout, cmd.Stderr = w, w
		cmd.WaitDelay = 10 * time.Second
		err = cmd.Run()
		run := loadgen.RebuildRun{Output: output.String()}
		if cmd.ProcessState != nil {
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				run.PeakRSSBytes = ru.Maxrss * 1024 // Linux gives kilobytes
			}
		}
		if err != nil {
			return run, fmt.Errorf("roster projections rebuild: %w: %s", err, lastLine(output.String()))
		}
		return run, nil
	}
}

// tailBuffer keeps the last 64 KiB written to it: a long rebuild's log
// lines would otherwise pile up for nothing.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 64 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
