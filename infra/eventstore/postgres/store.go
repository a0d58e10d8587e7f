// Package postgres is the event store on PostgreSQL (the default), on the
// events table of migrations/0001_events.sql, through pgx.
//
// The global feed is ordered by (transaction id, sequence) and Position is
// {Commit: transaction id, Prepare: sequence}. ReadAll explains why that
// order, and not the sequence alone, lets readers never skip an event.
package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
)

// notifyChannel is the LISTEN/NOTIFY channel an append signals on commit
// (roster_append in migrations/0018_append_function.sql names it too).
const notifyChannel = "roster_events"

// uniqueViolation is PostgreSQL's SQLSTATE for a broken unique constraint,
// and eventIDConstraint the name of the one on event IDs (0001_events.sql).
const (
	uniqueViolation   = "23505"
	eventIDConstraint = "events_event_id_key"
)

// Store is the PostgreSQL event store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// mu guards listener, the subscriptions' shared listening connection
	// while any subscription is open.
	mu       sync.Mutex
	listener *listener
}

var _ eventstore.Store = (*Store)(nil)

// New returns a store on the events table of the database behind pool,
// migrated by package migrations.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Append implements eventstore.Store in one call of roster_append
// (migrations/0018_append_function.sql): one round trip, one implicit
// transaction, which takes the stream's turn, recognises a repeat, checks
// the revision and inserts. It returns an error wrapping
// eventstore.ErrInvalidAppend for an append ValidateAppend refuses (no
// events, an ID that is not a UUID, ...), a *eventstore.ConflictError when
// stream is not at expected, and eventstore.ErrDuplicateEvent when some of
// the IDs are stored already but the append is not an exact repeat.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	want, ok := wantRevision(expected)
	if !ok {
		return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: -1}
	}
	ids, types, data, metadata := appendArgs(events)
	var (
		outcome       string
		revision, seq *int64
		commit        *uint64
	)
	err := s.pool.QueryRow(ctx, `SELECT outcome, last_revision, tx, last_seq
		FROM roster_append($1, $2, $3::text[]::uuid[], $4::text[], $5::text[], $6::text[])`,
		stream, want, ids, types, data, metadata).Scan(&outcome, &revision, &commit, &seq)
	if err != nil {
		return eventstore.AppendResult{}, appendError(stream, err)
	}
	switch outcome {
	case "appended", "repeat":
		return eventstore.AppendResult{Revision: uint64(*revision),
			Position: eventstore.Position{Commit: *commit, Prepare: uint64(*seq)}}, nil
	case "conflict":
		return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: *revision}
	case "duplicate":
		return eventstore.AppendResult{}, fmt.Errorf("stream %s: %w", stream, eventstore.ErrDuplicateEvent)
	}
	return eventstore.AppendResult{}, fmt.Errorf("append to stream %s: roster_append answered %q", stream, outcome)
}
