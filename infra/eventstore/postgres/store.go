// Package postgres is the event store on PostgreSQL (the default), on the
// events table of migrations/0001_events.sql, through pgx.
//
// The global feed is ordered by (transaction id, sequence) and Position is
// {Commit: transaction id, Prepare: sequence}. ReadAll explains why that
// order, and not the sequence alone, lets readers never skip an event.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
)

// notifyChannel is the LISTEN/NOTIFY channel an append signals on commit.
const notifyChannel = "roster_events"

// maxAppendAttempts bounds how often Append starts over after losing a race
// to a concurrent writer of the same stream or the same event IDs.
const maxAppendAttempts = 10

// uniqueViolation is PostgreSQL's SQLSTATE for a broken unique constraint,
// and eventIDConstraint the name of the one on event IDs (0001_events.sql).
const (
	uniqueViolation   = "23505"
	eventIDConstraint = "events_event_id_key"
)

// Store is the PostgreSQL event store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ eventstore.Store = (*Store)(nil)

// New returns a store on the events table of the database behind pool,
// migrated by package migrations.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Append implements eventstore.Store in one transaction. It returns an error
// wrapping eventstore.ErrInvalidAppend for an append ValidateAppend refuses
// (no events, an ID that is not a UUID, ...), a *eventstore.ConflictError when
// stream is not at expected, and eventstore.ErrDuplicateEvent when some of
// the IDs are stored already but the append is not an exact repeat.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	for attempt := 1; ; attempt++ {
		res, err := s.appendOnce(ctx, stream, expected, events)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != uniqueViolation {
			return res, err
		}
		// A concurrent transaction committed this stream's next revision,
		// or some of these event IDs, after this one looked. The unique
		// index made this append wait for its commit, so a fresh attempt sees its
		// rows and answers as if it had come second: the first result for
		// an identical append, ErrDuplicateEvent, a ConflictError, or for
		// Any a write after it.
		if attempt == maxAppendAttempts {
			return eventstore.AppendResult{}, s.lostRace(ctx, stream, expected, pgErr)
		}
	}
}

// lostRace is Append's answer when concurrent writers kept winning: a
// duplicate when they took an event ID, else a conflict at the revision they
// reached.
func (s *Store) lostRace(ctx context.Context, stream string, expected eventstore.ExpectedRevision, pgErr *pgconn.PgError) error {
	if pgErr.ConstraintName == eventIDConstraint {
		return fmt.Errorf("stream %s: %w", stream, eventstore.ErrDuplicateEvent)
	}
	current, err := s.lastRevision(ctx, s.pool, stream)
	if err != nil {
		return fmt.Errorf("append to stream %s: %w", stream, err)
	}
	return &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: current}
}

func (s *Store) appendOnce(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to stream %s: begin: %w", stream, err)
	}
	// After Commit this is a no-op; on every other path it ends the
	// transaction even when ctx is over.
	defer tx.Rollback(context.WithoutCancel(ctx))

	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	if res, repeat, err := s.repeat(ctx, tx, stream, ids); repeat || err != nil {
		return res, err
	}
	current, err := s.lastRevision(ctx, tx, stream)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to stream %s: %w", stream, err)
	}
	if !expected.Allows(current) {
		return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: current}
	}
	res, err := insert(ctx, tx, stream, current, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to stream %s: commit: %w", stream, err)
	}
	return res, nil
}

// repeat looks up the append's event IDs. repeat is true when all of them
// are stored in stream at consecutive revisions in this order: res is then
// what the first append of these events returned. err is ErrDuplicateEvent
// when only some are stored, or elsewhere.
func (s *Store) repeat(ctx context.Context, tx pgx.Tx, stream string, ids []string) (res eventstore.AppendResult, repeat bool, err error) {
	rows, err := tx.Query(ctx, `
		SELECT event_id::text, stream_id, revision, transaction_id, seq
		FROM events
		WHERE event_id = ANY($1::text[]::uuid[])`, ids)
	if err != nil {
		return res, false, fmt.Errorf("append to stream %s: look up event ids: %w", stream, err)
	}
	type stored struct {
		stream   string
		revision int64
		pos      eventstore.Position
	}
	found := make(map[string]stored, len(ids))
	for rows.Next() {
		var id string
		var st stored
		var seq int64
		if err := rows.Scan(&id, &st.stream, &st.revision, &st.pos.Commit, &seq); err != nil {
			rows.Close()
			return res, false, fmt.Errorf("append to stream %s: look up event ids: %w", stream, err)
		}
		st.pos.Prepare = uint64(seq)
		found[id] = st
	}
	if err := rows.Err(); err != nil {
		return res, false, fmt.Errorf("append to stream %s: look up event ids: %w", stream, err)
	}
	if len(found) == 0 {
		return res, false, nil
	}
	first, ok := found[ids[0]]
	for i, id := range ids {
		st, stored := found[id]
		if !ok || !stored || st.stream != stream || st.revision != first.revision+int64(i) {
			return res, false, fmt.Errorf("stream %s: event %s: %w", stream, id, eventstore.ErrDuplicateEvent)
		}
	}
	last := found[ids[len(ids)-1]]
	return eventstore.AppendResult{Revision: uint64(last.revision), Position: last.pos}, true, nil
}

// querier is what pgx.Tx and *pgxpool.Pool have in common here.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// lastRevision returns the stream's last revision, or -1 when it has none.
func (s *Store) lastRevision(ctx context.Context, q querier, stream string) (int64, error) {
	var current int64
	err := q.QueryRow(ctx, `SELECT coalesce(max(revision), -1) FROM events WHERE stream_id = $1`, stream).Scan(&current)
	if err != nil {
		return 0, fmt.Errorf("read last revision: %w", err)
	}
	return current, nil
}

// insertSQL writes all of an append's rows in one statement. Revisions
// follow the stream's current last one; seq is drawn in ordinality order, so
// the feed keeps the append's order. transaction_id and recorded_at take
// their defaults: this transaction's id and its start time.
const insertSQL = `
	WITH ins AS (
		INSERT INTO events (event_id, stream_id, revision, type, data, metadata)
		SELECT e.id::uuid, $1, $2 + e.ord, e.type, e.data::json, e.metadata::json
		FROM unnest($3::text[], $4::text[], $5::text[], $6::text[])
			WITH ORDINALITY AS e(id, type, data, metadata, ord)
		ORDER BY e.ord
		RETURNING revision, transaction_id, seq
	)
	SELECT revision, transaction_id, seq FROM ins ORDER BY revision DESC LIMIT 1`

// insert appends events after revision current and queues the notification
// that wakes subscribers; PostgreSQL delivers it only if the transaction
// commits.
func insert(ctx context.Context, tx pgx.Tx, stream string, current int64, events []eventstore.EventData) (eventstore.AppendResult, error) {
	ids := make([]string, len(events))
	types := make([]string, len(events))
	data := make([]string, len(events))
	metadata := make([]*string, len(events))
	for i, e := range events {
		ids[i], types[i], data[i] = e.ID, e.Type, string(e.Data)
		if len(e.Metadata) > 0 {
			m := string(e.Metadata)
			metadata[i] = &m
		}
	}
	batch := &pgx.Batch{}
	batch.Queue(insertSQL, stream, current, ids, types, data, metadata)
	batch.Queue(`SELECT pg_notify($1, '')`, notifyChannel)
	br := tx.SendBatch(ctx, batch)
	defer br.Close()

	var revision, seq int64
	var res eventstore.AppendResult
	if err := br.QueryRow().Scan(&revision, &res.Position.Commit, &seq); err != nil {
		// Wrapped with %w: Append retries on a unique violation.
		return eventstore.AppendResult{}, fmt.Errorf("append to stream %s: insert: %w", stream, err)
	}
	if _, err := br.Exec(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to stream %s: notify: %w", stream, err)
	}
	if err := br.Close(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to stream %s: %w", stream, err)
	}
	res.Revision, res.Position.Prepare = uint64(revision), uint64(seq)
	return res, nil
}
