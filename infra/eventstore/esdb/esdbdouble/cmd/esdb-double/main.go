// Command esdb-double serves the EventStoreDB protocol double on an address
// until it is interrupted, so that test suites written for EventStoreDB can
// be pointed at it:
//
//	esdb-double -addr 127.0.0.1:2113
//
// It prints the insecure connection string to use on standard output, then
// nothing more. The log lives in memory and goes with the process.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "esdb-double:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, after writing the connection string to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("esdb-double", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:2113", "host:port to serve on (port 0 picks a free one)")
	version := fs.String("version", "", "server version to report (default 24.10.0)")
	noSystem := fs.Bool("no-system-events", false, "start with an empty log, without stand-ins for a fresh node's system events")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := esdbdouble.StartWith(*addr, esdbdouble.Options{Version: *version, NoSystemEvents: *noSystem})
	if err != nil {
		return err
	}
	defer srv.Close()
	if _, err := fmt.Fprintln(out, srv.URL()); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
