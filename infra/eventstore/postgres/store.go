// Package postgres is the event store on PostgreSQL (the default), on the
// events table of migrations/0001_events.sql, through pgx.
//
// The global feed is ordered by (transaction id, sequence) and Position is
// {Commit: transaction id, Prepare: sequence}. ReadAll explains why that
// order, and not the sequence alone, lets readers never skip an event.
package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
)

// notifyChannel is the LISTEN/NOTIFY channel appends are announced on,
// after their commit (announce; roster_append of migrations/0018, which
// older binaries call, notifies on it in its own transaction).
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
	// pending and notifying coalesce the NOTIFYs announce sends.
	pending, notifying atomic.Bool
}

var _ eventstore.Store = (*Store)(nil)

// New returns a store on the events table of the database behind pool,
// migrated by package migrations.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Append implements eventstore.Store in one call of roster_append with
// keys (migrations/0033_append_with_keys.sql, that of 0018 without its
// NOTIFY), given none: one round trip, one implicit transaction, which takes the
// stream's turn, recognises a repeat, checks the revision and inserts; the
// subscribers are signalled after it commits (announce). It returns an
// error wrapping eventstore.ErrInvalidAppend for an append ValidateAppend
// refuses (no events, an ID that is not a UUID, ...), a
// *eventstore.ConflictError when stream is not at expected, and
// eventstore.ErrDuplicateEvent when some of the IDs are stored already but
// the append is not an exact repeat.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	return s.append(ctx, stream, expected, events, nil)
}
