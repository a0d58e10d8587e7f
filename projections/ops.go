package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/opsaudit"
)

// Bounds of what an operator writes down with an action.
const (
	MaxReasonChars   = opsaudit.MaxReasonChars
	MaxOperatorChars = opsaudit.MaxOperatorChars
)

// Errors of the operators' actions on projections.
var (
	// ErrNotStopped is returned by Retry for a projection that is not stopped.
	ErrNotStopped = errors.New("projection is not stopped")
	// ErrAlreadySkipped is returned by SkipEvent for an event skipped before.
	ErrAlreadySkipped = errors.New("event already skipped")
	// ErrEventNotFound is returned by SkipEvent for an event the feed does not hold.
	ErrEventNotFound = errors.New("event not in the feed")
)

// Skip is an operator's decision that one projection passes over one event
// for good: live, and in every rebuild.
type Skip struct {
	Projection string
	EventID    string
	StreamID   string
	EventType  string
	Position   eventstore.Position
	Reason     string
	Operator   string
	At         time.Time
}

// SkipRequest asks SkipEvent to skip an event for a projection.
type SkipRequest struct {
	Projection Projection
	// EventID is the event's ID: the one the projection is stopped at, or
	// any event of the feed the projection applies.
	EventID string
	// Reason says why, for whoever reads the audit trail: 1 to
	// MaxReasonChars characters, no control or formatting characters.
	Reason string
	// Operator is who decided: 1 to MaxOperatorChars characters, likewise.
	Operator string
}

// SkipResult is what a skip did.
type SkipResult struct {
	Skip Skip
	// Stopped says the projection was stopped at the event: it resumes
	// within seconds, wherever it runs.
	Stopped bool
	// Applied says the projection had applied the event already (its
	// checkpoint is at or past it): the skip shows in its rebuilds only.
	Applied bool
}

// SkipEvent records that req.Projection passes over the event req.EventID:
// in projection_skips, and in the audit trail of operations (ops_audit),
// in one transaction. A projection stopped at the event is released: its
// runner, on whichever instance, applies the rest of the feed from there
// (see StopOnPoison); a rebuild passes over the event for that projection,
// and for no other.
//
// The event is looked up where the projection is stopped, then in feed
// (read whole when need be; nil when the event store cannot be read from
// here). It returns an error naming the problem, and changing nothing,
// when the reason or operator is blank, too long or holds control or
// formatting characters, when the ID is not a UUID, when the event is not
// in the feed (ErrEventNotFound) or of a type the projection does not
// apply, or when it is skipped already (ErrAlreadySkipped); and the
// database's or the feed's errors.
func SkipEvent(ctx context.Context, pool *pgxpool.Pool, feed eventstore.FeedReader, req SkipRequest) (SkipResult, error) {
	reason, err := opsaudit.Text("reason", req.Reason, MaxReasonChars)
	if err != nil {
		return SkipResult{}, err
	}
	operator, err := opsaudit.Text("operator", req.Operator, MaxOperatorChars)
	if err != nil {
		return SkipResult{}, err
	}
	want, err := uuid.Parse(strings.TrimSpace(req.EventID))
	if err != nil || strings.ContainsAny(strings.TrimSpace(req.EventID), "{}:") {
		return SkipResult{}, fmt.Errorf("event ID %q is not a UUID", req.EventID)
	}
	p := req.Projection
	stopped, err := Stopped(ctx, pool)
	if err != nil {
		return SkipResult{}, err
	}
	var rec eventstore.RecordedEvent
	failure, isStopped := stopped[p.Name]
	if isStopped && sameEvent(failure.EventID, want) {
		rec = eventstore.RecordedEvent{ID: failure.EventID, StreamID: failure.StreamID, Type: failure.EventType, Position: failure.Position}
	} else {
		isStopped = false
		if rec, err = findEvent(ctx, feed, want); err != nil {
			return SkipResult{}, err
		}
	}
	if _, ok := p.Reducers[rec.Type]; !ok || !strings.HasPrefix(rec.StreamID, domain.StreamPrefix) {
		return SkipResult{}, fmt.Errorf("%s does not apply event %s (%s in %s): there is nothing to skip", p.Name, rec.ID, rec.Type, rec.StreamID)
	}
	c, pr, err := toDB(rec.Position)
	if err != nil {
		return SkipResult{}, err
	}
	res := SkipResult{Stopped: isStopped, Skip: Skip{Projection: p.Name, EventID: rec.ID, StreamID: storable(rec.StreamID, maxFieldBytes),
		EventType: storable(rec.Type, maxFieldBytes), Position: rec.Position, Reason: reason, Operator: operator}}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		s := &res.Skip
		err := tx.QueryRow(ctx, `INSERT INTO projection_skips
			(projection, event_id, stream_id, event_type, commit_position, prepare_position, reason, operator)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (projection, event_id) DO NOTHING RETURNING skipped_at`,
			s.Projection, s.EventID, s.StreamID, s.EventType, c, pr, s.Reason, s.Operator).Scan(&s.At)
		if errors.Is(err, pgx.ErrNoRows) {
			var by, why string
			var at time.Time
			if err := tx.QueryRow(ctx, `SELECT operator, reason, skipped_at FROM projection_skips WHERE projection = $1 AND event_id = $2`,
				s.Projection, s.EventID).Scan(&by, &why, &at); err != nil {
				return err
			}
			return fmt.Errorf("event %s is already skipped for %s, by %s at %s (%s): %w", s.EventID, s.Projection, by,
				at.UTC().Format(time.RFC3339), why, ErrAlreadySkipped)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE projection_failures SET resolved_at = now(), resolution = 'skipped'
			WHERE projection = $1 AND event_id = $2 AND resolved_at IS NULL`, s.Projection, s.EventID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT (commit_position, prepare_position) >= ($2, $3) FROM projection_checkpoints WHERE name = $1`,
			s.Projection, c, pr).Scan(&res.Applied); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return recordAction(ctx, tx, s.Operator, "projections.skip", s.Projection, map[string]any{
			"event_id": s.EventID, "event_type": s.EventType, "stream": s.StreamID, "position": s.Position.String(),
			"reason": s.Reason, "stopped": res.Stopped, "applied": res.Applied,
		})
	})
	if err != nil {
		if errors.Is(err, ErrAlreadySkipped) {
			return SkipResult{}, err
		}
		return SkipResult{}, fmt.Errorf("skip event %s for %s: %w", rec.ID, p.Name, err)
	}
	res.Skip.At = res.Skip.At.UTC()
	return res, nil
}

// Retry releases a stopped projection so that it tries its event again,
// for an operator who fixed the cause (a column widened, a key restored): on
// whichever instance it runs, it applies the event within seconds, or
// stops at it again after its retries. The action is recorded in the audit
// trail of operations with reason, which may be empty. It returns an error
// wrapping ErrNotStopped when the projection is not stopped, one naming
// the problem when operator or reason is not fit to record, and the
// database's.
func Retry(ctx context.Context, pool *pgxpool.Pool, p Projection, operator, reason string) (Failure, error) {
	operator, err := opsaudit.Text("operator", operator, MaxOperatorChars)
	if err != nil {
		return Failure{}, err
	}
	if strings.TrimSpace(reason) != "" {
		if reason, err = opsaudit.Text("reason", reason, MaxReasonChars); err != nil {
			return Failure{}, err
		}
	}
	stopped, err := Stopped(ctx, pool)
	if err != nil {
		return Failure{}, err
	}
	f, ok := stopped[p.Name]
	if !ok {
		return Failure{}, fmt.Errorf("%s is not stopped: %w", p.Name, ErrNotStopped)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE projection_failures SET resolved_at = now(), resolution = 'retried'
			WHERE id = $1 AND resolved_at IS NULL`, f.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%s is not stopped: %w", p.Name, ErrNotStopped)
		}
		return recordAction(ctx, tx, operator, "projections.retry", p.Name, map[string]any{
			"event_id": f.EventID, "event_type": f.EventType, "stream": f.StreamID, "position": f.Position.String(),
			"error": f.Error, "reason": reason,
		})
	})
	if err != nil {
		if errors.Is(err, ErrNotStopped) {
			return Failure{}, err
		}
		return Failure{}, fmt.Errorf("retry %s: %w", p.Name, err)
	}
	return f, nil
}

// Skips returns every skip recorded, oldest first. It is safe for
// concurrent use; it returns the database's error.
func Skips(ctx context.Context, pool *pgxpool.Pool) ([]Skip, error) {
	rows, err := pool.Query(ctx, `SELECT projection, event_id, stream_id, event_type, commit_position, prepare_position,
		reason, operator, skipped_at FROM projection_skips ORDER BY skipped_at, projection, event_id`)
	if err != nil {
		return nil, fmt.Errorf("read skipped events: %w", err)
	}
	var (
		out  []Skip
		s    Skip
		c, p int64
	)
	_, err = pgx.ForEachRow(rows, []any{&s.Projection, &s.EventID, &s.StreamID, &s.EventType, &c, &p, &s.Reason, &s.Operator, &s.At}, func() error {
		s.Position, s.At = fromDB(c, p), s.At.UTC()
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read skipped events: %w", err)
	}
	return out, nil
}

// recordAction adds an operator's action to the audit trail of operations
// inside tx, the transaction that takes it.
func recordAction(ctx context.Context, tx pgx.Tx, operator, action, target string, detail map[string]any) error {
	_, err := tx.Exec(ctx, `INSERT INTO ops_audit (operator, action, target, detail) VALUES ($1, $2, $3, $4)`,
		operator, action, target, detail)
	return err
}

// sameEvent reports whether the stored ID id is the UUID want.
func sameEvent(id string, want uuid.UUID) bool {
	got, err := uuid.Parse(id)
	return err == nil && got == want
}

// findEvent reads feed until it finds the event want, a page at a time.
func findEvent(ctx context.Context, feed eventstore.FeedReader, want uuid.UUID) (eventstore.RecordedEvent, error) {
	if feed == nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("event %s is not where the projection is stopped, and this event store cannot be searched from here", want)
	}
	const page = 5000
	after := eventstore.Start
	for {
		batch, err := feed.ReadAll(ctx, after, page)
		if err != nil {
			return eventstore.RecordedEvent{}, fmt.Errorf("look for event %s after %s: %w", want, after, err)
		}
		for _, rec := range batch {
			if sameEvent(rec.ID, want) {
				return rec, nil
			}
		}
		if len(batch) < page {
			return eventstore.RecordedEvent{}, fmt.Errorf("event %s is not in the feed: %w", want, ErrEventNotFound)
		}
		after = batch[len(batch)-1].Position
	}
}
