package consumers

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Querier is the part of a pool or connection Leaders and Terms read with.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Leader is who leads one consumer now, read from its lease.
type Leader struct {
	Consumer string
	// Instance leads the consumer; empty when no live instance holds its
	// lease (it was handed back, it ran out, or its holder's session is
	// gone), until another claims it.
	Instance string
	// Epoch counts the leases of the consumer so far.
	Epoch int64
	// Since is when Instance took the lease, Expires when it runs out
	// unless renewed.
	Since, Expires time.Time
	// Checkpoint is the consumer's stored checkpoint (a projection's, or
	// one the subscriber saves), eventstore.Start when it has none.
	Checkpoint eventstore.Position
}

// Leaders returns the lease of every consumer that has ever had one, by
// consumer name. It is safe for concurrent use.
func Leaders(ctx context.Context, q Querier) ([]Leader, error) {
	rows, err := q.Query(ctx, `SELECT l.consumer,
			CASE WHEN l.holder <> '' AND l.expires_at > clock_timestamp() AND i.id IS NOT NULL AND `+alive+`
				THEN l.holder ELSE '' END,
			l.epoch, l.acquired_at, l.expires_at,
			COALESCE(p.commit_position, c.commit_position, 0), COALESCE(p.prepare_position, c.prepare_position, 0)
		FROM consumer_leases l
		LEFT JOIN consumer_instances i ON i.id = l.holder
		LEFT JOIN projection_checkpoints p ON p.name = l.consumer
		LEFT JOIN consumer_checkpoints c ON c.name = l.consumer
		ORDER BY l.consumer`)
	if err != nil {
		return nil, fmt.Errorf("read the leases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Leader, error) {
		var (
			l          Leader
			commit, pr int64
		)
		err := row.Scan(&l.Consumer, &l.Instance, &l.Epoch, &l.Since, &l.Expires, &commit, &pr)
		l.Checkpoint = eventstore.Position{Commit: uint64(commit), Prepare: uint64(pr)}
		l.Since, l.Expires = l.Since.UTC(), l.Expires.UTC()
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the leases: %w", err)
	}
	return out, nil
}

// Term is one leadership of a consumer, as recorded in consumer_leadership.
type Term struct {
	Consumer string
	Epoch    int64
	Holder   string
	Acquired time.Time
	// Ended is when the lease was handed back or taken over; zero while
	// the term lasts (or its holder died and nobody took over yet).
	Ended time.Time
	// EndedBy says how it ended.
	EndedBy string
}

// Terms returns every leadership recorded, by consumer and epoch.
func Terms(ctx context.Context, q Querier) ([]Term, error) {
	rows, err := q.Query(ctx, `SELECT consumer, epoch, holder, acquired_at, ended_at, COALESCE(ended_by, '')
		FROM consumer_leadership ORDER BY consumer, epoch`)
	if err != nil {
		return nil, fmt.Errorf("read the leadership history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Term, error) {
		var (
			t     Term
			ended *time.Time
		)
		err := row.Scan(&t.Consumer, &t.Epoch, &t.Holder, &t.Acquired, &ended, &t.EndedBy)
		if ended != nil {
			t.Ended = ended.UTC()
		}
		t.Acquired = t.Acquired.UTC()
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the leadership history: %w", err)
	}
	return out, nil
}

// Overlaps returns, for terms as Terms returns them, a description of
// every pair of successive terms of one consumer that overlap: the later
// began before the earlier ended, or the earlier never ended. Nothing
// returned means no consumer was ever led by two instances at once.
func Overlaps(terms []Term) []string {
	var out []string
	for i := 1; i < len(terms); i++ {
		prev, t := terms[i-1], terms[i]
		if prev.Consumer != t.Consumer {
			continue
		}
		switch {
		case t.Epoch <= prev.Epoch:
			out = append(out, fmt.Sprintf("%s: epoch %d after epoch %d", t.Consumer, t.Epoch, prev.Epoch))
		case prev.Ended.IsZero():
			out = append(out, fmt.Sprintf("%s: epoch %d (%s) began at %s while epoch %d (%s) never ended",
				t.Consumer, t.Epoch, t.Holder, t.Acquired.Format(time.RFC3339Nano), prev.Epoch, prev.Holder))
		case t.Acquired.Before(prev.Ended):
			out = append(out, fmt.Sprintf("%s: epoch %d (%s) began at %s before epoch %d (%s) ended at %s",
				t.Consumer, t.Epoch, t.Holder, t.Acquired.Format(time.RFC3339Nano), prev.Epoch, prev.Holder, prev.Ended.Format(time.RFC3339Nano)))
		}
	}
	return out
}
