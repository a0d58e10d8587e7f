// Command roster is the membership and access service: `roster serve` runs
// the API and the projections; `roster migrate` applies the SQL migrations;
// `roster token` mints a development token.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"
)

func main() {
	// Request IDs are random UUIDs: drawn from a pool of random bytes, they
	// cost no read of the system's randomness each. Set before anything
	// runs, as the package asks.
	uuid.EnableRandPool()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: roster <command> [flags]

commands:
  serve     serve the HTTP API and run the projections
  migrate   apply the SQL migrations to ROSTER_PG_URL
  projections status|rebuild|skip|retry|skips
            show how far each projection lags the feed and where one stopped, rebuild read
            models from the events, or let a stopped projection pass over an event or retry it
  mail status|retry EVENT_ID
            count pending, sent and failed invitation mails, or send a failed one again
  privacy forget --email ADDR
            destroy a person's key and show their data as erased everywhere
  property show ID [-as-of RFC3339]
            the property and its members, now or at a past moment, from its events
  audit verify|head|check-head|public-key
            verify the properties' hash chains; sign a property's head, or check a stored one
  limits set|show
            raise a property's daily invitation limits, or show every limit on writes
  token     print a signed development token (needs ROSTER_JWT_SECRET)
  bench     drive a running server with the load scenarios and write a report

Run 'roster <command> -h' for the flags of a command.
`

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serveCmd(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		err = migrateCmd(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		err = tokenCmd(args[1:], getenv, stdout, stderr)
	case "projections":
		err = projectionsCmd(ctx, args[1:], getenv, stdout, stderr)
	case "mail":
		err = mailCmd(ctx, args[1:], getenv, stdout, stderr)
	case "privacy":
		err = privacyCmd(ctx, args[1:], getenv, stdout, stderr)
	case "audit":
		err = auditCmd(ctx, args[1:], getenv, stdout, stderr)
	case "property":
		err = propertyCmd(ctx, args[1:], getenv, stdout, stderr)
	case "limits":
		err = limitsCmd(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		err = benchCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "roster: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintf(stderr, "roster %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
