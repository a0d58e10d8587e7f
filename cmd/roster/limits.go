package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/httpapi"
	"github.com/rosterhq/roster/infra/limits"
)

// newLimits builds the limits on writes (docs/ARCHITECTURE.md section 10):
// the invitation counters in PostgreSQL, shared by every instance, and the
// buckets per account and per address in memory, each instance allowed its
// share of the quota by the live instances its heartbeat counts.
func newLimits(cfg config.Config, pool *pgxpool.Pool, subs *consumers.Consumers, reg prometheus.Registerer) (httpapi.Limits, error) {
	m, err := limits.NewMetrics(reg)
	if err != nil {
		return httpapi.Limits{}, err
	}
	l := cfg.Limits
	store := limits.NewStore(limits.StoreConfig{Pool: pool, Metrics: m, Limits: limits.InviteLimits{
		PerActorHour: l.InvitationsPerActorHour, PerPropertyDay: l.InvitationsPerPropertyDay, NewEmailsPerPropertyDay: l.NewEmailsPerPropertyDay}})
	cmds, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.CommandsPerAccount, Quota: l.CommandsPerAccountSecond,
		Window: config.CommandsWindow, Instances: subs.LiveInstances, Metrics: m})
	if err != nil {
		return httpapi.Limits{}, err
	}
	failures, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.TokenFailuresPerIP, Quota: l.TokenFailuresPerIPMinute,
		Window: config.TokenFailuresWindow, Instances: subs.LiveInstances, Metrics: m})
	if err != nil {
		return httpapi.Limits{}, err
	}
	return httpapi.Limits{
		ReserveInvitations: func(ctx context.Context, commandID, propertyID, actorID string, emails []string) (func(context.Context) error, error) {
			res, err := store.ReserveInvitations(ctx, commandID, propertyID, actorID, emails)
			if err != nil {
				return nil, err
			}
			return res.Release, nil
		},
		Commands:      cmds,
		TokenFailures: failures,
	}, nil
}

const limitsUsage = `usage: roster limits set|show

  set PROPERTY_ID [--invitations-per-day N] [--new-emails-per-day N] --reason TEXT
        raise (or lower) one property's daily limits, on every instance at once;
        0 returns a limit to the configured default
  show [PROPERTY_ID] [-json]
        the configured limits and every property's own

Run 'roster limits <command> -h' for the flags of a command.
`

func limitsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, limitsUsage)
		return errUsage
	}
	switch args[0] {
	case "set":
		return limitsSetCmd(ctx, args[1:], getenv, stdout, stderr)
	case "show":
		return limitsShowCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, limitsUsage)
		return nil
	}
	fmt.Fprintf(stderr, "roster limits: unknown command %q\n\n%s", args[0], limitsUsage)
	return errUsage
}

// withLimitsPool runs fn on a pool of ROSTER_PG_URL, or -pg-url, where the
// limits live.
func withLimitsPool(ctx context.Context, flagURL string, getenv func(string) string, fn func(*pgxpool.Pool) error) error {
	pool, err := openPool(ctx, orDefault(flagURL, orDefault(strings.TrimSpace(getenv("ROSTER_PG_URL")), config.DefaultPGURL)))
	if err != nil {
		return err
	}
	defer pool.Close()
	return fn(pool)
}

func limitsSetCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster limits set", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: roster limits set PROPERTY_ID [--invitations-per-day N] [--new-emails-per-day N] --reason TEXT [flags]

Set the property's own daily limits, in place of ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY
and ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY; every instance applies them to its next
invitation. A limit not given stays as it is; 0 returns it to the default. Recorded, with
the reason and the operator, in the audit trail of operations (ops_audit).

flags:
`)
		fs.PrintDefaults()
	}
	pgURL := fs.String("pg-url", "", "PostgreSQL URL (env ROSTER_PG_URL, default "+config.DefaultPGURL+")")
	invitations := fs.Int("invitations-per-day", 0, "invitations the property may send in a UTC day (`n`; 0: the default)")
	newEmails := fs.Int("new-emails-per-day", 0, "distinct addresses the property may invite in a UTC day (`n`; 0: the default)")
	reason := fs.String("reason", "", "why, for the audit trail (required)")
	who := operatorFlag(fs, getenv)
	pos, err := parseInterspersed(fs, args)
	switch {
	case err != nil:
		return errUsage
	case len(pos) != 1:
		fs.Usage()
		return errUsage
	}
	req := limits.OverrideRequest{PropertyID: pos[0], Operator: who(), Reason: *reason}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "invitations-per-day":
			req.InvitationsPerDay = invitations
		case "new-emails-per-day":
			req.NewEmailsPerDay = newEmails
		}
	})
	var o limits.Override
	if err := withLimitsPool(ctx, *pgURL, getenv, func(pool *pgxpool.Pool) (err error) {
		o, err = limits.SetOverride(ctx, pool, req)
		return err
	}); err != nil {
		return err
	}
	defaults, _ := config.Load(getenv) // only the limits are read; they have defaults
	fmt.Fprintf(stdout, "property %s may now send %s invitations and invite %s new addresses a day (UTC), set by %s\n", printable(o.PropertyID),
		orDefaultLimit(o.InvitationsPerDay, defaults.Limits.InvitationsPerPropertyDay),
		orDefaultLimit(o.NewEmailsPerDay, defaults.Limits.NewEmailsPerPropertyDay), o.SetBy)
	return nil
}

// orDefaultLimit prints a property's limit, or the default it follows.
func orDefaultLimit(v *int, def int) string {
	if v == nil {
		return fmt.Sprintf("%d (the default)", def)
	}
	return strconv.Itoa(*v)
}

// limitsJSON is `limits show -json`.
type limitsJSON struct {
	Defaults   config.Limits     `json:"defaults"`
	Properties []limits.Override `json:"properties"`
}

func limitsShowCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster limits show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pgURL := fs.String("pg-url", "", "PostgreSQL URL (env ROSTER_PG_URL, default "+config.DefaultPGURL+")")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	if len(pos) > 1 {
		fmt.Fprintf(stderr, "roster limits show: unexpected arguments %v\n", pos[1:])
		return errUsage
	}
	pid := ""
	if len(pos) == 1 {
		pid = pos[0]
	}
	cfg, _ := config.Load(getenv) // only the limits are read; they have defaults
	d := cfg.Limits
	var list []limits.Override
	if err := withLimitsPool(ctx, *pgURL, getenv, func(pool *pgxpool.Pool) (err error) {
		list, err = limits.Overrides(ctx, pool, pid)
		return err
	}); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(limitsJSON{Defaults: d, Properties: append([]limits.Override{}, list...)})
	}
	fmt.Fprintf(stdout, "invitations per account per hour   %d\ninvitations per property per day   %d\n"+
		"new emails per property per day    %d\ncommands per account per second    %d\ntoken failures per address per min  %d\n\n",
		d.InvitationsPerActorHour, d.InvitationsPerPropertyDay, d.NewEmailsPerPropertyDay, d.CommandsPerAccountSecond, d.TokenFailuresPerIPMinute)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROPERTY\tINVITATIONS/DAY\tNEW EMAILS/DAY\tSET BY\tAT\tREASON")
	for _, o := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", printable(o.PropertyID), orDefaultLimit(o.InvitationsPerDay, d.InvitationsPerPropertyDay),
			orDefaultLimit(o.NewEmailsPerDay, d.NewEmailsPerPropertyDay), o.SetBy, o.SetAt.UTC().Format(time.RFC3339), o.Reason)
	}
	return tw.Flush()
}
