package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/rosterhq/roster/infra/privacy"
	"github.com/rosterhq/roster/readmodels"
)

const propertyUsage = `usage: roster property <command> [flags]

commands:
  show ID [-as-of RFC3339] [-json]
            the property and its members, now or as they stood at a past moment, from its events

Run 'roster property <command> -h' for the flags of a command.
`

func propertyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, propertyUsage)
		return errUsage
	}
	switch args[0] {
	case "show":
		return propertyShowCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, propertyUsage)
		return nil
	}
	fmt.Fprintf(stderr, "roster property: unknown command %q\n\n%s", args[0], propertyUsage)
	return errUsage
}

// propertyShowCmd folds the property's events up to the moment asked (now
// by default), so an operator sees exactly who was a member then. It reads
// the event store only, never the read models.
func propertyShowCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster property show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: roster property show [flags] ID\n\nflags:\n")
		fs.PrintDefaults()
	}
	ops := newOpsFlags(fs, getenv)
	asOf := fs.String("as-of", "", "show the property as it stood at this RFC 3339 moment (default now)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	id, err := parseOneArg(fs, args)
	if err != nil {
		return err
	}
	at := time.Now().UTC()
	if *asOf != "" {
		if at, err = readmodels.ParseAsOf(*asOf); err != nil {
			fmt.Fprintf(stderr, "roster property show: -as-of %q is not an RFC 3339 time such as 2026-03-02T09:00:00Z\n", *asOf)
			return errUsage
		}
	}
	pool, f, release, err := ops.open(ctx)
	if err != nil {
		return err
	}
	defer release()
	events, ok := f.(readmodels.StreamReader)
	if !ok {
		return fmt.Errorf("event store %s cannot be read from another process: its events live inside the serving one", ops.cfg.EventStore)
	}
	// The vault's keys are in PostgreSQL whichever store holds the events;
	// values written before sealing existed open as they are.
	snap, err := readmodels.NewHistory(readmodels.HistoryConfig{Events: events, Opener: privacy.NewVault(pool), Pool: pool}).
		Snapshot(ctx, id, at)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(snap)
	}
	return writeSnapshotTable(stdout, snap)
}

// parseOneArg parses fs from args and returns its one positional argument.
// Flags may come before or after it (`show ID -json` reads as people type
// it), which the flag package alone does not allow.
func parseOneArg(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", errUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return "", errUsage
	}
	arg := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return "", errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected arguments %v\n", fs.Name(), fs.Args())
		return "", errUsage
	}
	return arg, nil
}

func writeSnapshotTable(w io.Writer, s readmodels.Snapshot) error {
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := s.Property
	fmt.Fprintf(tw, "property\t%s\nname\t%s\nowner\t%s\nrevision\t%d\nas of\t%s\ncreated\t%s\nmembers\t%d\npending invitations\t%d\n",
		p.ID, p.Name, p.OwnerID, p.Revision, s.AsOf.UTC().Format(time.RFC3339Nano), stamp(p.CreatedAt),
		p.MemberCount, p.PendingInvitationCount)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Members) == 0 {
		return nil
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "ACCOUNT\tEMAIL\tROLE\tSTATUS\tOWNER\tJOINED\tUPDATED")
	for _, m := range s.Members {
		owner := "no"
		if m.Owner {
			owner = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.AccountID, m.Email, m.Role, m.Status, owner,
			stamp(m.JoinedAt), stamp(m.UpdatedAt))
	}
	return tw.Flush()
}
