package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/logging"
	"github.com/rosterhq/roster/infra/privacy"
	"github.com/rosterhq/roster/projections"
)

const projectionsUsage = `usage: roster projections <command> [flags]

commands:
  status              each projection's checkpoint, the head of the feed, how far behind it is,
                      which instance leads it and since when (and the same of the other consumers),
                      and where a stopped one stopped and why
  rebuild [NAME...]   replay every event into fresh tables and switch over (all projections when no NAME)
  skip NAME EVENT_ID  make projection NAME pass over the event for good, live and in every rebuild
                      (-reason required); a projection stopped at it resumes within seconds
  retry NAME          make stopped projection NAME try its event again, once its cause is fixed
  skips               the events skipped, by whom, when and why

Run 'roster projections <command> -h' for the flags of a command.
`

// logEvery is how often a rebuild that is not shown on a terminal logs its
// progress.
const logEvery = 5 * time.Second

func projectionsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, projectionsUsage)
		return errUsage
	}
	switch args[0] {
	case "status":
		return statusCmd(ctx, args[1:], getenv, stdout, stderr)
	case "rebuild":
		return rebuildCmd(ctx, args[1:], getenv, stdout, stderr)
	case "skip":
		return skipCmd(ctx, args[1:], getenv, stdout, stderr)
	case "retry":
		return retryCmd(ctx, args[1:], getenv, stdout, stderr)
	case "skips":
		return skipsCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, projectionsUsage)
		return nil
	}
	fmt.Fprintf(stderr, "roster projections: unknown command %q\n\n%s", args[0], projectionsUsage)
	return errUsage
}

// opsFlags are the settings the projection commands need: where the read
// models and the events are, and how to log. The rest of the configuration
// (tokens, mail) is not asked for, so an operator's shell needs no secrets.
type opsFlags struct {
	cfg    config.Config
	getenv func(string) string
}

func newOpsFlags(fs *flag.FlagSet, getenv func(string) string) *opsFlags {
	o := &opsFlags{getenv: getenv}
	env := func(name, def string) string { return orDefault(strings.TrimSpace(getenv(name)), def) }
	// The URLs default to empty and are read from the environment after
	// parsing, so -h never prints a password the environment holds.
	fs.StringVar(&o.cfg.PGURL, "pg-url", "", "PostgreSQL URL (env ROSTER_PG_URL, default "+config.DefaultPGURL+")")
	fs.StringVar(&o.cfg.ESDBURL, "esdb-url", "", "EventStoreDB connection string (env ROSTER_ESDB_URL)")
	fs.StringVar(&o.cfg.EventStore, "event-store", env("ROSTER_EVENT_STORE", config.DefaultEventStore), "postgres, esdb or memory (env ROSTER_EVENT_STORE)")
	fs.StringVar(&o.cfg.LogLevel, "log-level", env("ROSTER_LOG_LEVEL", config.DefaultLogLevel), "trace, debug, info, warn or error (env ROSTER_LOG_LEVEL)")
	fs.StringVar(&o.cfg.LogFormat, "log-format", env("ROSTER_LOG_FORMAT", config.DefaultLogFormat), "json or console (env ROSTER_LOG_FORMAT)")
	return o
}

// open connects to PostgreSQL and the event store. The memory store lives
// inside the process that serves, so another process can neither see nor
// replay its events: feed is nil for it. close releases both.
func (o *opsFlags) open(ctx context.Context) (pool *pgxpool.Pool, f eventstore.FeedReader, release func(), err error) {
	o.cfg.PGURL = orDefault(o.cfg.PGURL, orDefault(strings.TrimSpace(o.getenv("ROSTER_PG_URL")), config.DefaultPGURL))
	o.cfg.ESDBURL = orDefault(o.cfg.ESDBURL, strings.TrimSpace(o.getenv("ROSTER_ESDB_URL")))
	pool, err = openPool(ctx, o.cfg.PGURL)
	if err != nil {
		return nil, nil, nil, err
	}
	if o.cfg.EventStore == config.EventStoreMemory {
		return pool, nil, pool.Close, nil
	}
	store, err := openEventStore(o.cfg, pool)
	if err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	release = pool.Close
	if c, ok := store.(io.Closer); ok {
		release = func() { _ = c.Close(); pool.Close() }
	}
	f, ok := store.(eventstore.FeedReader)
	if !ok {
		release()
		return nil, nil, nil, fmt.Errorf("event store %s cannot read the global feed", o.cfg.EventStore)
	}
	return pool, f, release, nil
}

// parseListing parses the flags of a subcommand that lists what the
// database holds: the operations' connection flags and -json, no arguments.
func parseListing(name string, args []string, getenv func(string) string, stderr io.Writer) (*opsFlags, bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ops := newOpsFlags(fs, getenv)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return nil, false, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments %v\n", name, fs.Args())
		return nil, false, errUsage
	}
	return ops, *asJSON, nil
}

func statusCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ops, asJSON, err := parseListing("roster projections status", args, getenv, stderr)
	if err != nil {
		return err
	}
	pool, f, closeAll, err := ops.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	head, _ := f.(projections.FeedHead) // nil: unknown
	sts, err := projections.Statuses(ctx, pool, head, projections.All()...)
	if err != nil {
		return err
	}
	ls, err := leadersOf(ctx, pool, head)
	if err != nil {
		return err
	}
	if asJSON {
		return writeStatusJSON(stdout, sts, ls)
	}
	return writeStatusTable(stdout, sts, ls)
}

// leader is who leads a consumer, and how far behind its stored
// checkpoint is (-1: the store cannot tell).
type leader struct {
	consumers.Leader
	Behind int64
}

// leadersOf reads the leases of the consumers, by name.
func leadersOf(ctx context.Context, pool *pgxpool.Pool, head projections.FeedHead) (map[string]leader, error) {
	ls, err := consumers.Leaders(ctx, pool)
	if err != nil {
		return nil, err
	}
	out := make(map[string]leader, len(ls))
	for _, l := range ls {
		lead := leader{Leader: l, Behind: -1}
		if head != nil {
			if lead.Behind, err = head.CountAfter(ctx, l.Checkpoint); err != nil {
				return nil, err
			}
		}
		out[l.Consumer] = lead
	}
	return out, nil
}

// others returns the consumers of ls that are no projection, by name.
func others(ls map[string]leader) []leader {
	var out []leader
	for name, l := range ls {
		if !slices.Contains(projectionNames(), name) {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b leader) int { return strings.Compare(a.Consumer, b.Consumer) })
	return out
}

// statusJSON is the shape of `status -json`. Unknown values are null.
type statusJSON struct {
	Head        *string           `json:"head"`
	Projections []projectionState `json:"projections"`
	// Consumers are the feed's other consumers that ever ran (mail,
	// broker).
	Consumers []consumerState `json:"consumers"`
}

type projectionState struct {
	Name       string     `json:"name"`
	Checkpoint string     `json:"checkpoint"`
	UpdatedAt  *time.Time `json:"updated_at"`
	Behind     *int64     `json:"behind"`
	// Stopped is null while the projection runs.
	Stopped *stoppedState `json:"stopped"`
	// Leader is null while no instance leads the projection.
	Leader *leaderState `json:"leader"`
}

// consumerState is where a consumer other than a projection stands.
type consumerState struct {
	Name       string       `json:"name"`
	Checkpoint string       `json:"checkpoint"`
	Behind     *int64       `json:"behind"`
	Leader     *leaderState `json:"leader"`
}

// leaderState is the instance leading a consumer, since when, and the
// epoch of its lease.
type leaderState struct {
	Instance string    `json:"instance"`
	Since    time.Time `json:"since"`
	Epoch    int64     `json:"epoch"`
}

// leaderOf returns the leader of l for JSON, nil when none leads.
func leaderOf(l leader, ok bool) *leaderState {
	if !ok || l.Instance == "" {
		return nil
	}
	return &leaderState{Instance: l.Instance, Since: l.Since, Epoch: l.Epoch}
}

// leaderCells are the LEADER and SINCE cells of a table row.
func leaderCells(l leader, ok bool) (string, string) {
	if !ok || l.Instance == "" {
		return "none", "-"
	}
	return printable(l.Instance), l.Since.Format(time.RFC3339)
}

// stoppedState is where and why a projection stopped.
type stoppedState struct {
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Stream    string    `json:"stream"`
	Position  string    `json:"position"`
	Error     string    `json:"error"`
	Attempts  int       `json:"attempts"`
	Since     time.Time `json:"since"`
}

func writeStatusJSON(w io.Writer, sts []projections.Status, ls map[string]leader) error {
	out := statusJSON{Projections: []projectionState{}, Consumers: []consumerState{}}
	for _, st := range sts {
		l, ok := ls[st.Name]
		ps := projectionState{Name: st.Name, Checkpoint: st.Checkpoint.String(), Leader: leaderOf(l, ok)}
		if f := st.Stopped; f != nil {
			ps.Stopped = &stoppedState{EventID: f.EventID, EventType: f.EventType, Stream: f.StreamID, Position: f.Position.String(),
				Error: f.Error, Attempts: f.Attempts, Since: f.FirstFailedAt}
		}
		if !st.UpdatedAt.IsZero() {
			ps.UpdatedAt = &st.UpdatedAt
		}
		if st.Behind >= 0 {
			ps.Behind = &st.Behind
		}
		if st.HeadKnown && out.Head == nil {
			h := st.Head.String()
			out.Head = &h
		}
		out.Projections = append(out.Projections, ps)
	}
	for _, l := range others(ls) {
		cs := consumerState{Name: l.Consumer, Checkpoint: l.Checkpoint.String(), Leader: leaderOf(l, true)}
		if l.Behind >= 0 {
			cs.Behind = &l.Behind
		}
		out.Consumers = append(out.Consumers, cs)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeStatusTable prints a row per projection, then one per other
// consumer, then, for each stopped projection, where and why it stopped
// and the ways out.
func writeStatusTable(w io.Writer, sts []projections.Status, ls map[string]leader) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECTION\tCHECKPOINT\tHEAD\tBEHIND\tSTATE\tUPDATED\tLEADER\tSINCE")
	for _, st := range sts {
		head, behind, updated, state := "unknown", "unknown", "never", "running"
		if st.HeadKnown {
			head = st.Head.String()
		}
		if st.Behind >= 0 {
			behind = fmt.Sprint(st.Behind)
		}
		if !st.UpdatedAt.IsZero() {
			updated = st.UpdatedAt.Format(time.RFC3339)
		}
		if st.Stopped != nil {
			state = "stopped"
		}
		l, ok := ls[st.Name]
		lead, since := leaderCells(l, ok)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Name, st.Checkpoint, head, behind, state, updated, lead, since)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if more := others(ls); len(more) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CONSUMER\tCHECKPOINT\tBEHIND\tLEADER\tSINCE")
		for _, l := range more {
			behind := "unknown"
			if l.Behind >= 0 {
				behind = fmt.Sprint(l.Behind)
			}
			lead, since := leaderCells(l, true)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(l.Consumer), l.Checkpoint, behind, lead, since)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, st := range sts {
		if f := st.Stopped; f != nil {
			fmt.Fprintf(w, "\n%s %s\n  skip it with `roster projections skip %s %s -reason TEXT`, or fix the cause and run `roster projections retry %s`\n",
				st.Name, printable(f.Summary()), st.Name, f.EventID, st.Name)
		}
	}
	return nil
}

// printable replaces the control characters of s, which an event's data
// may carry into an error and which would garble or steer a terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

func rebuildCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster projections rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: roster projections rebuild [flags] [NAME...]\n\nprojections: %s\n\nflags:\n", strings.Join(projectionNames(), ", "))
		fs.PrintDefaults()
	}
	ops := newOpsFlags(fs, getenv)
	batch := fs.Int("batch", projections.DefaultRebuildBatch, "events read and applied per transaction")
	workers := fs.Int("workers", projections.DefaultRebuildWorkers, "connections that replay the events at once")
	lockWait := fs.Duration("lock-wait", projections.DefaultSwitchLockWait, "how long the switch-over waits for a lock before it retries")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	chosen, err := chooseProjections(fs.Args())
	if err != nil {
		return err
	}
	if *batch <= 0 || *workers <= 0 || *lockWait <= 0 {
		return fmt.Errorf("-batch %d, -workers %d and -lock-wait %s must be positive", *batch, *workers, *lockWait)
	}
	log, err := logging.New(stderr, ops.cfg.LogLevel, ops.cfg.LogFormat)
	if err != nil {
		return err
	}
	pool, f, closeAll, err := ops.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	if f == nil {
		return errors.New("the memory event store lives inside the serving process; another process cannot replay it")
	}
	// One replay of the feed feeds every projection chosen.
	names := make([]string, len(chosen))
	for i, p := range chosen {
		names[i] = p.Name
	}
	report := newReporter(stdout, log, strings.Join(names, ", "))
	start := time.Now()
	pos, err := projections.RebuildAll(ctx, pool, f, chosen, projections.RebuildConfig{
		BatchSize: *batch, Workers: *workers, LockWait: *lockWait, Progress: report.progress, Log: log,
		// Sealed personal fields are opened in the transactions that
		// write them, so a forget meanwhile scrubs the copies too.
		Opener: privacy.NewVault(pool, privacy.WithLogger(log)),
	})
	var partial *projections.PartialRebuildError
	if err != nil && !errors.As(err, &partial) {
		report.finish(err)
		return err
	}
	report.finish(nil)
	took := time.Since(start)
	for i, p := range chosen {
		if partial != nil && partial.GaveUp(p.Name) {
			continue
		}
		fmt.Fprintf(stdout, "rebuilt %s: %d events in %s (%.0f events/s), checkpoint %s\n",
			p.Name, report.done, took.Round(time.Millisecond), float64(report.done)/max(took.Seconds(), 1e-9), pos[i])
	}
	if partial == nil {
		return nil
	}
	// The others were rebuilt: each projection given up is left as it was,
	// and says which event to skip for its next rebuild to get past.
	for _, f := range partial.Failed {
		fmt.Fprintf(stdout, "not rebuilt %s: it cannot apply event %s (%s in %s at %s): %s\n"+
			"  skip it with `roster projections skip %s %s -reason TEXT` and rebuild %s again\n",
			f.Projection, f.EventID, f.EventType, printable(f.StreamID), f.Position, printable(f.Err.Error()), f.Projection, f.EventID, f.Projection)
	}
	return fmt.Errorf("%d of %d projections not rebuilt", len(partial.Failed), len(chosen))
}

// chooseProjections returns the projections named, in the order given, or
// all of them when names is empty. It refuses an unknown name, listing the
// known ones.
func chooseProjections(names []string) ([]projections.Projection, error) {
	all := projections.All()
	if len(names) == 0 {
		return all, nil
	}
	var out []projections.Projection
	for _, n := range names {
		i := slices.IndexFunc(all, func(p projections.Projection) bool { return p.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("unknown projection %q (known: %s)", n, strings.Join(projectionNames(), ", "))
		}
		if !slices.ContainsFunc(out, func(p projections.Projection) bool { return p.Name == n }) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

func projectionNames() []string {
	var out []string
	for _, p := range projections.All() {
		out = append(out, p.Name)
	}
	return out
}

// reporter shows a rebuild's progress: a bar with events/s and time left on
// a terminal, a log line every few seconds elsewhere (files, CI, pipes).
// name is the projections rebuilt, comma-separated.
type reporter struct {
	name     string
	out      io.Writer
	terminal bool
	bar      *progressbar.ProgressBar
	log      zerolog.Logger
	start    time.Time
	logged   time.Time // when the last log line was written; zero before the first
	done     int64
	total    int64 // -1: unknown
}

func newReporter(stdout io.Writer, log zerolog.Logger, name string) *reporter {
	f, ok := stdout.(*os.File)
	return &reporter{name: name, out: stdout, terminal: ok && term.IsTerminal(int(f.Fd())),
		log: log, start: time.Now(), total: -1}
}

// progress is the RebuildConfig.Progress callback.
func (r *reporter) progress(done, total int64) {
	r.done, r.total = done, total
	if !r.terminal {
		if now := time.Now(); r.logged.IsZero() || now.Sub(r.logged) >= logEvery {
			r.logged = now
			r.logLine("rebuilding")
		}
		return
	}
	if r.bar == nil {
		// max -1 draws a spinner: the feed could not count its events.
		r.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(r.out),
			progressbar.OptionSetDescription(r.name),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
		)
	}
	// The total is what the feed held when the rebuild started; events
	// appended since carry done past it.
	if total >= 0 && done > r.bar.GetMax64() {
		r.bar.ChangeMax64(done)
	}
	_ = r.bar.Set64(done)
}

// finish ends the bar where it got to, or logs the last line. A failed
// rebuild's bar stops short, and its error is reported by the caller.
func (r *reporter) finish(err error) {
	switch {
	case r.bar != nil && err != nil:
		_ = r.bar.Exit()
		fmt.Fprintln(r.out)
	case r.bar != nil:
		_ = r.bar.Finish()
		fmt.Fprintln(r.out)
	case !r.terminal && err == nil:
		r.logLine("replayed")
	}
}

func (r *reporter) logLine(msg string) {
	rate := float64(r.done) / max(time.Since(r.start).Seconds(), 1e-9)
	e := r.log.Info().Str("projection", r.name).Int64("done", r.done).Float64("events_per_s", math.Round(rate))
	if r.total >= 0 {
		e = e.Int64("total", r.total)
	} else {
		e = e.Str("total", "unknown")
	}
	e.Msg(msg)
}
