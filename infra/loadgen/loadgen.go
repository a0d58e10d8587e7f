// Package loadgen drives a running Roster over real HTTP with real tokens
// and reports, per scenario, throughput, latency percentiles, errors by
// kind, projection lag and the server's peak memory, each next to what bare
// PostgreSQL does on the same server. It backs `roster bench`.
//
// The scenarios are those docs/PERFORMANCE.md describes: spread (invites across many
// properties), hot (one property, many writers), long (a property with a
// long history against a fresh one), read (member pages and permission
// checks on a large property, paced) and rebuild (every projection
// replayed by the operator's command). The data set the large scenarios
// need is seeded through the API once and found again by later runs.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The scenarios, in the order a run takes them: rebuild last, because it
// replaces every read model the others read.
const (
	Spread  = "spread"
	Open    = "open"
	Hot     = "hot"
	Long    = "long"
	Read    = "read"
	Check   = "check"
	Rebuild = "rebuild"
)

// AllScenarios lists every scenario in run order.
var AllScenarios = []string{Spread, Open, Hot, Long, Read, Check, Rebuild}

// ParseScenarios reads a comma-separated list of scenario names. It refuses
// an unknown or empty name and returns the scenarios in run order.
func ParseScenarios(list string) ([]string, error) {
	var chosen, unknown []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		switch {
		case slices.Contains(AllScenarios, n):
			chosen = append(chosen, n)
		case n != "" || list == "":
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown scenario %s (known: %s)", strings.Join(unknown, ", "), strings.Join(AllScenarios, ", "))
	}
	var out []string
	for _, s := range AllScenarios {
		if slices.Contains(chosen, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// The sizes docs/PERFORMANCE.md reports at scale 1.
const (
	// DefaultDuration is how long each timed scenario measures at scale 1.
	DefaultDuration = 20 * time.Second
	// DefaultClients is the concurrency of spread, hot and the insert baseline.
	DefaultClients = 32
	readMembers    = 100_000
	longEvents     = 100_000
	rebuildEvents  = 1_000_000
	spreadProps    = 1_000
	copyRows       = 200_000
	// readRate is the paced request rate of the read scenario, per second.
	readRate = 200
	// longClients is the concurrency of the long-stream scenario and of
	// the seeding of its property.
	longClients = 4
	// minDuration keeps a tiny scale's scenarios long enough to time anything.
	minDuration = 500 * time.Millisecond
)

// RebuildFunc rebuilds every projection the way an operator does and
// returns when it is done. The bench times it.
type RebuildFunc func(ctx context.Context) (RebuildRun, error)

// RebuildRun is what a rebuild reports besides its time.
type RebuildRun struct {
	// PeakRSSBytes is the rebuilding process's peak memory, 0 when unknown.
	PeakRSSBytes int64
	// Output is what the rebuild printed, for the report's notes.
	Output string
}

// Config is what a bench run needs.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// PGURL is the server's PostgreSQL: the baselines run there, in a
	// scratch schema, and the events are counted there.
	PGURL string
	// Secret, Issuer and Audience sign the bench's tokens as the server
	// expects them (ROSTER_JWT_SECRET, ROSTER_JWT_ISSUER, ROSTER_JWT_AUDIENCE).
	Secret, Issuer, Audience string
	// Scenarios are the scenarios to run (ParseScenarios); all when empty.
	Scenarios []string
	// Scale multiplies every data-set size and the default duration; 1 is
	// the sizes docs/PERFORMANCE.md reports. A test runs everything at 0.001.
	Scale float64
	// Duration is how long each timed scenario measures; DefaultDuration
	// times Scale (at least half a second) when zero.
	Duration time.Duration
	// Clients is the concurrency of spread, hot and the insert baseline
	// (DefaultClients when zero).
	Clients int
	// ServerPID, when positive, is the server's process: its memory is read
	// from /proc. Otherwise it is sampled from GET /metrics.
	ServerPID int
	// Rebuild runs the rebuild scenario's operator command; required when
	// that scenario runs.
	Rebuild RebuildFunc
	// Progress receives a line per step and per scenario (io.Discard when nil).
	Progress io.Writer
}

func (c *Config) setDefaults() {
	if len(c.Scenarios) == 0 {
		c.Scenarios = slices.Clone(AllScenarios)
	}
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.Duration == 0 {
		c.Duration = max(minDuration, time.Duration(float64(DefaultDuration)*c.Scale))
	}
	if c.Clients == 0 {
		c.Clients = DefaultClients
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q is not an http(s) URL with a host", c.URL))
	}
	if c.PGURL == "" {
		errs = append(errs, errors.New("the PostgreSQL URL is required (the baselines run there)"))
	}
	if c.Secret == "" {
		errs = append(errs, errors.New("the JWT secret is required to sign the bench's tokens"))
	}
	if math.IsNaN(c.Scale) || c.Scale <= 0 || c.Scale > 10 {
		errs = append(errs, fmt.Errorf("scale %g must be above 0 and at most 10", c.Scale))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration %s must not be negative", c.Duration))
	}
	if c.Clients < 0 {
		errs = append(errs, fmt.Errorf("clients %d must not be negative", c.Clients))
	}
	if c.ServerPID < 0 {
		errs = append(errs, fmt.Errorf("server pid %d must not be negative", c.ServerPID))
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			errs = append(errs, fmt.Errorf("unknown scenario %q", s))
		}
	}
	if slices.Contains(c.Scenarios, Rebuild) && c.Rebuild == nil {
		errs = append(errs, errors.New("the rebuild scenario needs a rebuild command"))
	}
	return errors.Join(errs...)
}

// sizes are the data-set sizes of a run, scaled.
type sizes struct {
	readMembers, longEvents, rebuildEvents, spreadProps, copyRows, selects, checkProps int
}

func sizesFor(scale float64) sizes {
	n := func(base float64, least int) int { return max(least, int(math.Round(base*scale))) }
	return sizes{
		readMembers:   n(readMembers, 10),
		longEvents:    n(longEvents, 100),
		rebuildEvents: n(rebuildEvents, 500),
		spreadProps:   min(spreadProps, n(spreadProps, 8)),
		copyRows:      n(copyRows, 1000),
		selects:       n(2000, 200),
		checkProps:    n(checkProps, checkTogglers),
	}
}

// bench is one run under way.
type bench struct {
	cfg    Config
	sizes  sizes
	c      *client
	pool   *pgxpool.Pool
	tokens *tokens
	mem    *memorySampler
	runID  string
	report *Report
	// baselines are measured once and shared by the scenarios that compare
	// with them.
	baselines Baselines
	// owner owns the seeded data set; runner the properties one run makes.
	owner, runner account
	data          *dataset
	progressMu    sync.Mutex
	// spreadPIDs are the properties spread invites across, made once and
	// used again by the scenarios that run spread's load beside their own.
	spreadPIDs []string
	// closedMax is the highest rate spread's closed loop reached: the open
	// loop runs at half of it.
	closedMax float64
	// seedPeak is the server's peak RSS while the data set was seeded.
	seedPeak int64
}

// Run runs the configured scenarios against the server and returns the
// report. An error means the run could not go on (the server or PostgreSQL
// not answering, a seeding step refused); missed targets are not errors,
// they are in Report.Failed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(cfg.PGURL)
	if err != nil {
		return nil, fmt.Errorf("postgresql url: %w", err)
	}
	// A few connections serve the counts and the COPY and SELECT
	// baselines; the insert baseline opens its clients' own and closes
	// them after, so the bench never holds 32 of the server's connections
	// while Roster needs them.
	pcfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("postgresql does not answer: %w", err)
	}
	c := newClient(cfg.URL)
	defer c.close()

	b := &bench{cfg: cfg, sizes: sizesFor(cfg.Scale), c: c, pool: pool,
		tokens: &tokens{secret: cfg.Secret, issuer: cfg.Issuer, audience: cfg.Audience, ttl: 6 * time.Hour},
		runID:  time.Now().UTC().Format("20060102t150405"),
		owner:  account{ID: "bench-owner", Email: "bench-owner@bench.example"},
	}
	b.runner = account{ID: "bench-run-" + b.runID, Email: "run-" + b.runID + "@bench.example"}
	b.report = &Report{StartedAt: time.Now(), URL: cfg.URL, Scale: cfg.Scale, DurationS: cfg.Duration.Seconds(),
		Clients: cfg.Clients, Seeding: []SeedStep{}, Scenarios: []*Scenario{}}
	if err := b.preflight(ctx); err != nil {
		return nil, err
	}
	b.mem = newMemorySampler(c, cfg.ServerPID)
	b.report.MemorySource = b.mem.source
	memCtx, stopMem := context.WithCancel(ctx)
	defer stopMem()
	go b.mem.run(memCtx)

	if b.report.Durability, err = durability(ctx, pool); err != nil {
		return nil, err
	}
	b.mem.reset(ctx)
	if err := b.seed(ctx); err != nil {
		return nil, err
	}
	b.seedPeak = b.mem.scenarioPeak(ctx)
	run := map[string]func(context.Context, *Scenario) error{
		Spread: b.spread, Open: b.open, Hot: b.hot, Long: b.long, Read: b.read, Check: b.check, Rebuild: b.rebuild,
	}
	for _, name := range cfg.Scenarios {
		s := &Scenario{Name: name, Latencies: map[string]Latency{}, Errors: map[string]int{}, Figures: []Figure{}}
		b.progress("%s: running", name)
		b.mem.reset(ctx)
		start := time.Now()
		if err := run[name](ctx, s); err != nil {
			return nil, fmt.Errorf("scenario %s: %w", name, err)
		}
		s.TookS = time.Since(start).Seconds()
		s.PeakRSSBytes = b.mem.scenarioPeak(ctx)
		s.add(newFigure(name, "server peak RSS", "MB", mb(s.PeakRSSBytes)).below(200))
		b.report.Scenarios = append(b.report.Scenarios, s)
		b.progress("%s: done in %s: %s", name, fmtSeconds(s.TookS), summaryLine(s))
	}
	b.report.Baselines = &b.baselines
	if t := b.mem.trouble(); t != "" {
		b.report.Notes = append(b.report.Notes, t)
	}
	b.report.finish(b.runWide()...)
	b.report.TookS = time.Since(b.report.StartedAt).Seconds()
	return b.report, nil
}

// preflight checks that the server is ready and takes the bench's tokens,
// so a wrong secret fails in a second with a clear message rather than as
// a report full of 401s.
func (b *bench) preflight(ctx context.Context) error {
	if a := b.c.get(ctx, "/readyz", ""); a.Kind != "" {
		return fmt.Errorf("the server at %s is not ready: %s", b.cfg.URL, a.Kind)
	}
	tok, err := b.tokens.token(b.owner)
	if err != nil {
		return err
	}
	a := b.c.get(ctx, "/v1/me/invitations", tok)
	if a.Status == 401 {
		return fmt.Errorf("the server refused the bench's token (%s): is the JWT secret the server's, and its issuer and audience?", a.Kind)
	}
	if a.Kind != "" {
		return a.err("GET /v1/me/invitations")
	}
	return nil
}

// runWide are the figures of the whole run: the peak memory over every
// scenario and, with the server's pid, over its whole life.
func (b *bench) runWide() []Figure {
	var peak int64
	for _, s := range b.report.Scenarios {
		peak = max(peak, s.PeakRSSBytes)
	}
	out := []Figure{newFigure("all", "server peak RSS (seeding)", "MB", mb(b.seedPeak)).below(200),
		newFigure("all", "server peak RSS (scenarios)", "MB", mb(peak)).below(200)}
	if _, hwm := b.mem.lifetimePeak(); hwm > 0 {
		out = append(out, newFigure("all", "server peak RSS (process life, VmHWM, seeding included)", "MB", mb(hwm)).below(200))
	}
	return out
}

// progress writes a line to Config.Progress. The seeding steps and their
// tickers write from goroutines of their own, so lines are written whole,
// one at a time.
func (b *bench) progress(format string, args ...any) {
	b.progressMu.Lock()
	defer b.progressMu.Unlock()
	fmt.Fprintf(b.cfg.Progress, "bench: "+format+"\n", args...)
}

// summaryLine is a scenario's figures on one line, for the progress output.
func summaryLine(s *Scenario) string {
	var parts []string
	for _, f := range s.Figures {
		p := f.Name + " " + f.format(f.Value)
		if f.Pass != nil && !*f.Pass {
			p += " (FAIL " + f.Target + ")"
		}
		parts = append(parts, p)
	}
	if n := len(s.Errors); n > 0 {
		parts = append(parts, fmt.Sprintf("errors %v", s.Errors))
	}
	return strings.Join(parts, ", ")
}
