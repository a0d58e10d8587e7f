package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/privacy"
)

const privacyUsage = `usage: roster privacy <command> [flags]

commands:
  forget --email ADDR   destroy the key a person's data is sealed with and
                        rewrite their data in the read models as erased

Run 'roster privacy <command> -h' for the flags of a command.
`

func privacyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, privacyUsage)
		return errUsage
	}
	switch args[0] {
	case "forget":
		return forgetCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, privacyUsage)
		return nil
	}
	fmt.Fprintf(stderr, "roster privacy: unknown command %q\n\n%s", args[0], privacyUsage)
	return errUsage
}

// forgetCmd needs only PostgreSQL, where the keys and the read models are:
// no event store, no secrets. Serving processes hear of the forget through
// the database and drop what they cache.
func forgetCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("roster privacy forget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Empty by default and read from the environment after parsing, so -h
	// never prints a password the environment holds.
	pgURL := fs.String("pg-url", "", "PostgreSQL URL (env ROSTER_PG_URL, default "+config.DefaultPGURL+")")
	email := fs.String("email", "", "the `address` of the person to forget")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "roster privacy forget: unexpected arguments %v\n", fs.Args())
		return errUsage
	}
	if strings.TrimSpace(*email) == "" {
		fmt.Fprintln(stderr, "roster privacy forget: --email is required")
		return errUsage
	}
	url := orDefault(*pgURL, orDefault(strings.TrimSpace(getenv("ROSTER_PG_URL")), config.DefaultPGURL))
	pool, err := openPool(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	f, err := privacy.NewVault(pool).Forget(ctx, *email)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	return writeForgotten(stdout, f)
}

// writeForgotten says what Forget did, for people.
func writeForgotten(w io.Writer, f privacy.Forgotten) error {
	switch {
	case f.Erased:
		fmt.Fprintf(w, "roster: forgot %s: %d key(s) destroyed; it now reads as %s\n", f.Email, len(f.Subjects), f.Marker)
	case f.Marker != "":
		fmt.Fprintf(w, "roster: %s had no key (written before sealing, or forgotten before); its copies now read as %s\n", f.Email, f.Marker)
	default:
		fmt.Fprintf(w, "roster: %s has no key and no copy in the read models: never seen, or forgotten before\n", f.Email)
	}
	if len(f.Scrubbed) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nCOLUMN\tROWS REWRITTEN\n")
	cols := make([]string, 0, len(f.Scrubbed))
	for c := range f.Scrubbed {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	for _, c := range cols {
		fmt.Fprintf(tw, "%s\t%d\n", c, f.Scrubbed[c])
	}
	return tw.Flush()
}
