package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	osuser "os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rosterhq/roster/projections"
)

// The operator's ways out for a projection stopped at an event it cannot
// apply: skip the event, or retry once the cause is fixed. Both are
// recorded in the audit trail of operations (ops_audit) under the
// operator's name: -operator, else ROSTER_OPERATOR, else the OS user.

// operatorFlag adds -operator to fs; who returns the name to record.
func operatorFlag(fs *flag.FlagSet, getenv func(string) string) (who func() string) {
	name := fs.String("operator", "", "who takes the action, for the audit trail (env ROSTER_OPERATOR, default the OS user)")
	return func() string {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "operator" })
		if set {
			return *name // refused later if blank: an explicit blank is a mistake
		}
		if v := strings.TrimSpace(getenv("ROSTER_OPERATOR")); v != "" {
			return v
		}
		if u, err := osuser.Current(); err == nil && u.Username != "" {
			return u.Username
		}
		return getenv("USER")
	}
}

// parseInterspersed parses fs from args with flags before, between or after
// the positional arguments (`skip NAME EVENT_ID -reason TEXT`), which
// flag.Parse alone stops at, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func skipCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster projections skip", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: roster projections skip NAME EVENT_ID -reason TEXT [flags]

Make projection NAME pass over the event EVENT_ID for good: live, and in
every rebuild of NAME (other projections still apply it). A projection
stopped at the event resumes within seconds, wherever it runs. EVENT_ID is
the event NAME is stopped at (roster projections status), or any event of
the feed NAME applies. The skip is recorded, with the reason and the
operator, in the audit trail of operations (roster projections skips).

projections: %s

flags:
`, strings.Join(projectionNames(), ", "))
		fs.PrintDefaults()
	}
	ops := newOpsFlags(fs, getenv)
	reason := fs.String("reason", "", fmt.Sprintf("why the event is skipped, for the audit trail (required, at most %d characters)", projections.MaxReasonChars))
	who := operatorFlag(fs, getenv)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != 2 {
		fs.Usage()
		return errUsage
	}
	if *reason == "" {
		fmt.Fprintln(stderr, "roster projections skip: -reason is required: say why the event is skipped")
		return errUsage
	}
	chosen, err := chooseProjections(pos[:1])
	if err != nil {
		return err
	}
	pool, f, closeAll, err := ops.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	res, err := projections.SkipEvent(ctx, pool, f, projections.SkipRequest{
		Projection: chosen[0], EventID: pos[1], Reason: *reason, Operator: who(),
	})
	if err != nil {
		return err
	}
	s := res.Skip
	fmt.Fprintf(stdout, "skipped event %s (%s in %s at %s) for %s, by %s\n", s.EventID, s.EventType, printable(s.StreamID), s.Position, s.Projection, s.Operator)
	switch {
	case res.Stopped:
		fmt.Fprintf(stdout, "%s was stopped there: it resumes within seconds\n", s.Projection)
	case res.Applied:
		fmt.Fprintf(stdout, "%s had applied the event already: its rebuilds pass over it\n", s.Projection)
	default:
		fmt.Fprintf(stdout, "%s will pass over the event when it gets there\n", s.Projection)
	}
	return nil
}

func retryCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster projections retry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: roster projections retry NAME [flags]

Make projection NAME, stopped at an event, try it again within seconds,
wherever it runs: once the cause is fixed. Should it fail again, it stops
again after its retries. Recorded in the audit trail of operations.

flags:
`)
		fs.PrintDefaults()
	}
	ops := newOpsFlags(fs, getenv)
	reason := fs.String("reason", "", "why, for the audit trail (optional)")
	who := operatorFlag(fs, getenv)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	chosen, err := chooseProjections(pos)
	if err != nil {
		return err
	}
	pool, _, closeAll, err := ops.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	f, err := projections.Retry(ctx, pool, chosen[0], who(), *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s tries event %s (%s in %s at %s) again within seconds; roster projections status shows whether it stops there again\n",
		chosen[0].Name, f.EventID, f.EventType, printable(f.StreamID), f.Position)
	return nil
}

// skipJSON is one skip as `skips -json` prints it.
type skipJSON struct {
	Projection string    `json:"projection"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Stream     string    `json:"stream"`
	Position   string    `json:"position"`
	Operator   string    `json:"operator"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason"`
}

func skipsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ops, asJSON, err := parseListing("roster projections skips", args, getenv, stderr)
	if err != nil {
		return err
	}
	pool, _, closeAll, err := ops.open(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	skips, err := projections.Skips(ctx, pool)
	if err != nil {
		return err
	}
	if asJSON {
		out := []skipJSON{}
		for _, s := range skips {
			out = append(out, skipJSON{Projection: s.Projection, EventID: s.EventID, EventType: s.EventType, Stream: s.StreamID,
				Position: s.Position.String(), Operator: s.Operator, At: s.At, Reason: s.Reason})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECTION\tEVENT\tTYPE\tSTREAM\tOPERATOR\tAT\tREASON")
	for _, s := range skips {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Projection, s.EventID, printable(s.EventType), printable(s.StreamID),
			s.Operator, s.At.Format(time.RFC3339), s.Reason)
	}
	return tw.Flush()
}
