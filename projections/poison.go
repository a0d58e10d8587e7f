package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/infra/eventstore"
)

// EventError is a projection's failure on one event of the feed: the
// Handler returns it when it can tell which event failed, and a rebuild
// names with it each projection it gave up.
type EventError struct {
	Projection string
	EventID    string
	StreamID   string
	EventType  string
	Position   eventstore.Position
	// Attempts is how many times in a row this handler failed on the event.
	Attempts int
	Err      error
}

func newEventError(projection string, rec eventstore.RecordedEvent, err error) *EventError {
	return &EventError{Projection: projection, EventID: rec.ID, StreamID: rec.StreamID, EventType: rec.Type,
		Position: rec.Position, Attempts: 1, Err: err}
}

func (e *EventError) Error() string {
	return fmt.Sprintf("%s: event %s (%s in %s at %s): %v", e.Projection, e.EventID, e.EventType, e.StreamID, e.Position, e.Err)
}

func (e *EventError) Unwrap() error { return e.Err }

// Poison reports whether the event itself is what cannot be applied (see
// IsPoison), so that the projection stops at it rather than retrying.
func (e *EventError) Poison() bool { return IsPoison(e.Err) }

// errUnreadable marks the errors an event causes before any database is
// involved: it does not decode, or decodes to a type its step does not take.
var errUnreadable = errors.New("the event cannot be read")

// IsPoison reports whether err says that applying the event failed because
// of the event (or of the projection's code meeting it), so that applying it
// again fails again: a projection stops at such an event, after its
// bounded retries, until an operator skips it or retries it.
//
// The rule, strict so that a passing fault never stops a projection:
//   - PostgreSQL refused the values: SQLSTATE class 22 (data exception:
//     22021 character_not_in_repertoire for U+0000, 22P05
//     untranslatable_character, 22001 string too long, a number out of
//     range...), class 23 (integrity constraint violation) and class 54
//     (program limit exceeded: a value too large for an index);
//   - the event does not decode (unknown type, malformed payload or
//     metadata).
//
// Everything else is transient and retried with backoff for as long as it
// lasts: a lost connection, a serialization failure or deadlock (class
// 40), a lock or statement timeout, a shutdown (class 57), too many
// connections (class 53), a cancelled context, and any error not listed
// above, which errs on the side of retrying.
func IsPoison(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		class := pgErr.Code[:min(2, len(pgErr.Code))]
		return class == "22" || class == "23" || class == "54"
	}
	return errors.Is(err, errUnreadable)
}

// storable returns s as PostgreSQL text can hold it, at most max bytes:
// invalid UTF-8 and U+0000 (what made the event fail, often, and what its
// error text may quote) become U+FFFD.
func storable(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
