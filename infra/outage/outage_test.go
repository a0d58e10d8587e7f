package outage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/outage"
	"github.com/rosterhq/roster/infra/pgtest"
)

func TestIsTellsAnOutageFromAFault(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"an administrator's shutdown of the backend is an outage", fmt.Errorf("read members: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"a crash shutdown is an outage", &pgconn.PgError{Code: "57P02"}, true},
		{"a server starting up is an outage", &pgconn.PgError{Code: "57P03"}, true},
		{"a server out of connections is an outage", &pgconn.PgError{Code: "53300"}, true},
		{"a connection failure of class 08 is an outage", &pgconn.PgError{Code: "08006"}, true},
		{"a refused dial is an outage", fmt.Errorf("append: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"a connection already closed is an outage", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"a connection that ends under an answer is an outage", fmt.Errorf("privacy: find or create keys: %w", io.ErrUnexpectedEOF), true},
		{"a unique violation is no outage", &pgconn.PgError{Code: "23505"}, false},
		{"text PostgreSQL cannot hold is no outage", &pgconn.PgError{Code: "22021"}, false},
		{"a missing table is no outage", &pgconn.PgError{Code: "42P01"}, false},
		{"a query the caller cancelled is no outage", fmt.Errorf("query: %w", context.Canceled), false},
		{"a plain error is no outage", errors.New("boom"), false},
		{"a domain error is no outage", domain.Errorf(domain.KindNotFound, domain.CodePropertyNotFound, "no"), false},
		{"no error is no outage", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outage.Is(tt.err); got != tt.want {
				t.Errorf("Is(%v) = %v, want %v", tt.err, got, tt.want)
			}
			de := outage.Classify(tt.err)
			if (de != nil) != tt.want {
				t.Fatalf("Classify(%v) = %v, want an error exactly when Is", tt.err, de)
			}
			if de != nil && (de.Kind != domain.KindUnavailable || de.Code != domain.CodeUnavailable || de.RetryAfter <= 0) {
				t.Errorf("Classify = %+v, want unavailable with a Retry-After", de)
			}
		})
	}
}

// closedAddress is a loopback address nothing listens on.
func closedAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestIsRecognisesWhatPgxReturnsInAnOutage: the errors pgx itself returns
// when PostgreSQL is not there, or drops a connection under a query, are
// outages; an error of a query the server ran is not.
func TestIsRecognisesWhatPgxReturnsInAnOutage(t *testing.T) {
	ctx := context.Background()
	t.Run("connecting to no server", func(t *testing.T) {
		_, err := pgx.Connect(ctx, "postgres://postgres@"+closedAddress(t)+"/roster?connect_timeout=5")
		if err == nil || !outage.Is(err) {
			t.Errorf("Connect = %v, want an outage", err)
		}
	})
	t.Run("a pool acquiring from no server", func(t *testing.T) {
		pool, err := pgxpool.New(ctx, "postgres://postgres@"+closedAddress(t)+"/roster?connect_timeout=5")
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if err := pool.Ping(ctx); err == nil || !outage.Is(err) {
			t.Errorf("Ping = %v, want an outage", err)
		}
	})
	pool := pgtest.NewPool(t)
	t.Run("a backend terminated under the connection", func(t *testing.T) {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		if _, err := pool.Exec(ctx, "SELECT pg_terminate_backend($1)", conn.Conn().PgConn().PID()); err != nil {
			t.Fatal(err)
		}
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err = conn.Exec(waitCtx, "SELECT 1")
		if err == nil || !outage.Is(err) {
			t.Errorf("Exec on a terminated backend = %v, want an outage", err)
		}
	})
	t.Run("a query the server refuses", func(t *testing.T) {
		_, err := pool.Exec(ctx, "SELECT $1::text", "a\x00b")
		if err == nil || outage.Is(err) {
			t.Errorf("Exec of U+0000 = %v, want an error that is no outage", err)
		}
		_, err = pool.Exec(ctx, "SELECT * FROM no_such_table")
		if err == nil || outage.Is(err) {
			t.Errorf("Exec on a missing table = %v, want an error that is no outage", err)
		}
	})
}
