// Package outage recognises the errors that mean a dependency of Roster
// cannot be reached now: PostgreSQL down, restarting, refusing connections
// or cut off by the network. The HTTP edge answers them 503 with
// Retry-After, as a client can do nothing but try again later, rather than
// 500, which says the fault is Roster's and permanent.
//
// It is the one place that knows pgx's error types, so the HTTP layer needs
// no database driver to tell an outage from a bug.
package outage

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/domain"
)

// RetryAfter is how long a caller is told to wait: about what PostgreSQL
// takes to restart or fail over.
const RetryAfter = 5 * time.Second

// unavailableStates are the SQLSTATEs, besides class 08 (connection
// exception), that say the server will not serve now but may soon:
// admin_shutdown, crash_shutdown, cannot_connect_now (starting up or in
// recovery), too_many_connections.
var unavailableStates = []string{"57P01", "57P02", "57P03", "53300"}

// Is reports whether err says a dependency cannot be reached now: a failed
// connection attempt (the pool's acquire included), a connection lost or
// closed under a query (end of file where an answer was due), a network
// error, or a SQLSTATE of class 08 or one
// of unavailableStates. Errors of a query the server did run (a constraint,
// a syntax error) are not outages, and neither is a context the caller
// cancelled.
func Is(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The server answered: only these states mean it will not serve.
		return strings.HasPrefix(pgErr.Code, "08") || slices.Contains(unavailableStates, pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), errors.Is(err, pgconn.ErrConnClosed):
		return true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		// What pgx returns, as its reader gave it, when the server's end
		// of a connection closes under a query. Roster's own decoding of
		// what it stored reports syntax errors, not these.
		return true
	}
	// pgconn marks the errors it raised before sending anything to the
	// server, such as a connection that broke while idle.
	return pgconn.SafeToRetry(err)
}

// Classify returns a *domain.Error of KindUnavailable (CodeUnavailable,
// with RetryAfter) naming what failed when Is(err), and nil otherwise. The
// message names the dependency, never its address or user.
func Classify(err error) *domain.Error {
	if !Is(err) {
		return nil
	}
	return &domain.Error{Kind: domain.KindUnavailable, Code: domain.CodeUnavailable, RetryAfter: RetryAfter,
		Message: "the database cannot be reached now; try again later"}
}
