package postgres

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
)

const selectEvent = `SELECT seq, transaction_id, event_id::text, stream_id, revision, type, data, metadata, recorded_at FROM events `

// ReadStream implements eventstore.Store. A stream's visible revisions never
// have gaps, because revision n+1 is only written by a transaction that read
// revision n as committed, so reading it needs none of ReadAll's care.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64) ([]eventstore.RecordedEvent, error) {
	return s.readStream(ctx, stream, from, math.MaxInt64)
}

// ReadStreamPage implements eventstore.Store.
func (s *Store) ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("read stream %s: limit %d is not positive", stream, limit)
	}
	return s.readStream(ctx, stream, from, int64(limit))
}

func (s *Store) readStream(ctx context.Context, stream string, from uint64, limit int64) ([]eventstore.RecordedEvent, error) {
	rows, err := s.pool.Query(ctx, selectEvent+`
		WHERE stream_id = $1 AND revision >= $2
		ORDER BY revision LIMIT $3`, stream, clampInt64(from), limit)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	events, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	return events, nil
}

// readAllSQL reads the global feed. Why it cannot skip an event:
//
// seq comes from a sequence when a row is inserted, and transactions commit
// in any order, so ordering by seq alone lets a reader see seq 11 of a fast
// transaction, move its position past 10, and never see seq 10 when its
// slower transaction commits a moment later. Instead every row records the
// id of the transaction that wrote it (transaction ids are handed out in
// increasing order), the feed is ordered by (transaction_id, seq), and a
// reader only returns rows whose transaction_id is below
// pg_snapshot_xmin(pg_current_snapshot()): the oldest transaction still
// running when this statement's snapshot was taken. Every transaction below
// it has ended, so its rows are either visible now or never will be, and any
// transaction that commits later has an id of at least xmin, so it lands
// after everything returned here. The statement's snapshot decides both
// xmin and visibility, so they agree.
//
// The price is latency, not correctness: while a transaction is open, rows
// of later transactions wait for it. Appends are short; a long transaction
// anywhere on the server (xmin is cluster wide) delays the feed as long as
// it stays open.
//
// The row comparison uses the index on (transaction_id, seq), and $1 is
// passed as uint64, which pgx encodes as xid8 (there is no bigint cast).
const readAllSQL = selectEvent + `
	WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
	  AND (transaction_id, seq) > ($1::xid8, $2::bigint)
	ORDER BY transaction_id, seq
	LIMIT $3`

// ReadAll implements eventstore.Store: it returns up to limit events after
// after, in (transaction id, seq) order, holding back events of transactions
// that committed while an older one is still open. limit must be positive.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("read all: limit %d is not positive", limit)
	}
	rows, err := s.pool.Query(ctx, readAllSQL, after.Commit, clampInt64(after.Prepare), limit)
	if err != nil {
		return nil, fmt.Errorf("read all after %s: %w", after, err)
	}
	events, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("read all after %s: %w", after, err)
	}
	return events, nil
}

// collect scans rows of selectEvent. It returns an empty, non-nil slice when
// there are none.
func collect(rows pgx.Rows) ([]eventstore.RecordedEvent, error) {
	defer rows.Close()
	events := make([]eventstore.RecordedEvent, 0)
	for rows.Next() {
		var e eventstore.RecordedEvent
		var seq, revision int64
		// json scans into []byte as the stored text, byte for byte; a NULL
		// metadata scans as nil.
		err := rows.Scan(&seq, &e.Position.Commit, &e.ID, &e.StreamID, &revision, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt)
		if err != nil {
			return nil, err
		}
		e.Position.Prepare, e.Revision = uint64(seq), uint64(revision)
		e.RecordedAt = e.RecordedAt.UTC()
		events = append(events, e)
	}
	return events, rows.Err()
}

// clampInt64 turns a revision or sequence number from the caller into a
// bigint parameter. Stored values never exceed math.MaxInt64, so clamping a
// larger one keeps its meaning ("after everything").
func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
