// Package eventstore defines the event store port in the write side's terms:
// append to a stream with an expected revision, read a stream forwards, and
// read or subscribe to the global ordered feed. Adapters live in the
// sub-packages memory, postgres and esdb; storetest holds the contract suite
// every adapter passes.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Position is a place in the global feed. It has two parts because
// EventStoreDB's $all positions do (commit, prepare); the PostgreSQL adapter
// stores (transaction id, sequence). Positions order lexicographically. The
// zero Position is the start of the feed: no adapter gives it to an event.
type Position struct {
	Commit  uint64
	Prepare uint64
}

// Start is the position before the first event.
var Start = Position{}

// Less reports whether p comes before q in the feed.
func (p Position) Less(q Position) bool {
	if p.Commit != q.Commit {
		return p.Commit < q.Commit
	}
	return p.Prepare < q.Prepare
}

// IsZero reports whether p is Start.
func (p Position) IsZero() bool { return p == Start }

// String formats p as "commit.prepare", the form ParsePosition reads and the
// HTTP API carries in Roster-Position and Roster-Min-Position.
func (p Position) String() string {
	return strconv.FormatUint(p.Commit, 10) + "." + strconv.FormatUint(p.Prepare, 10)
}

// ParsePosition reads a position written by String.
func ParsePosition(s string) (Position, error) {
	c, pr, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok {
		return Position{}, fmt.Errorf("position %q is not of the form commit.prepare", s)
	}
	commit, err1 := strconv.ParseUint(c, 10, 64)
	prepare, err2 := strconv.ParseUint(pr, 10, 64)
	if err1 != nil || err2 != nil {
		return Position{}, fmt.Errorf("position %q is not of the form commit.prepare", s)
	}
	return Position{Commit: commit, Prepare: prepare}, nil
}

// ExpectedRevision is what an append expects of the stream's current state.
type ExpectedRevision struct {
	kind     expectKind
	revision uint64
}

type expectKind int

const (
	expectAny expectKind = iota
	expectNoStream
	expectExact
)

// Any accepts the stream in whatever state it is.
func Any() ExpectedRevision { return ExpectedRevision{kind: expectAny} }

// NoStream requires that the stream has no events yet.
func NoStream() ExpectedRevision { return ExpectedRevision{kind: expectNoStream} }

// Exact requires that the stream's last event has this revision (0-based).
func Exact(revision uint64) ExpectedRevision {
	return ExpectedRevision{kind: expectExact, revision: revision}
}

// IsAny, IsNoStream and Revision let adapters translate the expectation.
func (e ExpectedRevision) IsAny() bool      { return e.kind == expectAny }
func (e ExpectedRevision) IsNoStream() bool { return e.kind == expectNoStream }

// Revision returns the exact revision expected, and false for Any or NoStream.
func (e ExpectedRevision) Revision() (uint64, bool) { return e.revision, e.kind == expectExact }

// Allows reports whether a stream whose last revision is current (-1 when it
// has no events) satisfies the expectation.
func (e ExpectedRevision) Allows(current int64) bool {
	switch e.kind {
	case expectNoStream:
		return current < 0
	case expectExact:
		return current == int64(e.revision)
	}
	return true
}

func (e ExpectedRevision) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectExact:
		return "revision " + strconv.FormatUint(e.revision, 10)
	}
	return "any"
}

// EventData is an event to append. ID is a UUID chosen by the writer: an
// append whose IDs are already stored returns the first result instead.
type EventData struct {
	ID       string
	Type     string
	Data     []byte
	Metadata []byte
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID         string
	StreamID   string
	Revision   uint64
	Position   Position
	Type       string
	Data       []byte
	Metadata   []byte
	RecordedAt time.Time
}

// AppendResult says where an append landed.
type AppendResult struct {
	// Revision is the revision of the last event appended.
	Revision uint64
	// Position is the global position of the last event appended.
	Position Position
}

// ErrConflict is matched by errors.Is for every *ConflictError.
var ErrConflict = errors.New("wrong expected revision")

// ErrDuplicateEvent is returned when some, but not all, of an append's event
// IDs are stored already, or they are stored in another stream or order: the
// append is neither new nor a repeat, so it is refused whole.
var ErrDuplicateEvent = errors.New("event id already stored with other content")

// ConflictError is returned by Append when the stream is not at the expected revision.
type ConflictError struct {
	Stream   string
	Expected ExpectedRevision
	// Actual is the stream's last revision, or -1 when it has no events.
	Actual int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("stream %s: expected %s, stream is at %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Subscription delivers the global feed in order, batch by batch.
type Subscription interface {
	// Next blocks until at least one event after the last delivered one is
	// available, or ctx ends, or the subscription fails. It returns events in
	// feed order; no event is delivered twice or skipped.
	Next(ctx context.Context) ([]RecordedEvent, error)
	// Close releases the subscription. It is safe to call more than once.
	Close() error
}

// Store is the whole port. Consumers declare the narrower interfaces they use.
type Store interface {
	// Append writes events to the end of stream if it is at expected. It
	// returns a *ConflictError (errors.Is ErrConflict) otherwise. Appending
	// events whose IDs are all stored already, in this stream in this order,
	// stores nothing and returns the first append's result.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events []EventData) (AppendResult, error)
	// ReadStream returns the stream's events from revision from onwards, in
	// revision order; a stream with no events gives an empty slice.
	ReadStream(ctx context.Context, stream string, from uint64) ([]RecordedEvent, error)
	// ReadStreamPage is ReadStream returning at most limit events, so a long
	// stream can be folded a page at a time in bounded memory.
	ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]RecordedEvent, error)
	// ReadAll returns up to limit events of the global feed that come after
	// position after, in feed order. It never returns an event before one that
	// may still commit with an earlier position.
	ReadAll(ctx context.Context, after Position, limit int) ([]RecordedEvent, error)
	// SubscribeAll follows the global feed from after: catch-up, then live.
	SubscribeAll(ctx context.Context, after Position) (Subscription, error)
}
