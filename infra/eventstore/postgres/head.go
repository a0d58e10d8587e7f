package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
)

// headSQL finds the last event ReadAll can return now. It applies
// readAllSQL's horizon (below the oldest running transaction), so the head
// never lies beyond what a reader may be given, and walks the feed index
// backwards to its first row: one index probe however long the feed.
const headSQL = `SELECT transaction_id, seq FROM events
	WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
	ORDER BY transaction_id DESC, seq DESC
	LIMIT 1`

// lastCommittedSQL finds the last event committed, horizon or not: every
// event committed before the statement began lies at or before it.
const lastCommittedSQL = `SELECT transaction_id, seq FROM events
	ORDER BY transaction_id DESC, seq DESC
	LIMIT 1`

// countAfterSQL counts what ReadAll would return after a position, with the
// same horizon and the same row comparison, so an index(-only) scan of
// events_feed_idx answers it without touching the payloads.
const countAfterSQL = `SELECT count(*) FROM events
	WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
	  AND (transaction_id, seq) > ($1::xid8, $2::bigint)`

// Head returns the position of the last event of the global feed that
// ReadAll would return at this moment, or eventstore.Start when there is
// none. Events of transactions still open, or committed behind one still
// open, are not counted yet. It is safe for concurrent use.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	return s.last(ctx, headSQL, "head of the feed")
}

// LastCommitted returns the position of the last event committed when it
// is called, or eventstore.Start when there is none. Unlike Head it counts
// events held back behind a transaction still open (anywhere on the
// server): a reader that has reached this position holds every event
// committed before the call, which Head cannot promise while the feed is
// held back. It is safe for concurrent use.
func (s *Store) LastCommitted(ctx context.Context) (eventstore.Position, error) {
	return s.last(ctx, lastCommittedSQL, "last committed event")
}

func (s *Store) last(ctx context.Context, query, what string) (eventstore.Position, error) {
	var (
		pos eventstore.Position
		seq int64
	)
	err := s.pool.QueryRow(ctx, query).Scan(&pos.Commit, &seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Start, nil
	}
	if err != nil {
		return eventstore.Start, fmt.Errorf("read the %s: %w", what, err)
	}
	pos.Prepare = uint64(seq)
	return pos, nil
}

// CountAfter returns how many events of the global feed come after position
// after, counting only those ReadAll would return at this moment. Its cost
// grows with the answer (an index scan of the rows counted), not with the
// length of the feed before after. It is safe for concurrent use.
func (s *Store) CountAfter(ctx context.Context, after eventstore.Position) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, countAfterSQL, after.Commit, clampInt64(after.Prepare)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events after %s: %w", after, err)
	}
	return n, nil
}
