package projections_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/projections"
)

// TestIsPoison: the errors that stop a projection are those that say the
// event cannot be stored; every other error may pass and is retried. (An
// event that does not decode stops it too: see
// TestAnEventThatDoesNotDecodeStopsTheProjectionsOfItsType.)
func TestIsPoison(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"U+0000 in a text value (22021) is the event's fault", pg("22021"), true},
		{"a character the encoding lacks (22P05) is the event's fault", pg("22P05"), true},
		{"a string too long (22001) is the event's fault", pg("22001"), true},
		{"a value of the wrong syntax (22P02) is the event's fault", pg("22P02"), true},
		{"a unique violation (23505) is the event's fault", pg("23505"), true},
		{"a check violation (23514) is the event's fault", pg("23514"), true},
		{"a value too large for an index (54000) is the event's fault", pg("54000"), true},
		{"wrapped, it still is", fmt.Errorf("members: apply: %w", pg("22021")), true},
		{"a serialization failure (40001) may pass", pg("40001"), false},
		{"a deadlock (40P01) may pass", pg("40P01"), false},
		{"a connection failure (08006) may pass", pg("08006"), false},
		{"an administrator's shutdown (57P01) may pass", pg("57P01"), false},
		{"a cancelled statement (57014) may pass", pg("57014"), false},
		{"too many connections (53300) may pass", pg("53300"), false},
		{"a lock timeout (55P03) may pass", pg("55P03"), false},
		{"a missing table (42P01) may pass: a migration is on its way", pg("42P01"), false},
		{"a cancelled context may pass, whatever else it wraps", errors.Join(context.Canceled, pg("22021")), false},
		{"a deadline may pass", fmt.Errorf("apply: %w", context.DeadlineExceeded), false},
		{"a network error may pass", &net.OpError{Op: "read", Err: io.ErrUnexpectedEOF}, false},
		{"an error of no known kind may pass", errors.New("something"), false},
		{"no error is no poison", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := projections.IsPoison(tt.err); got != tt.want {
				t.Errorf("IsPoison(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
