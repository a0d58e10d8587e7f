package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// deliveryNotFound is the error for a delivery an endpoint's log does not hold.
func deliveryNotFound(endpointID string, id int64) error {
	return domain.Errorf(domain.KindNotFound, domain.CodeWebhookDeliveryNotFound,
		"webhook endpoint %s has no delivery %d", endpointID, id)
}

// Delivery is one row of an endpoint's delivery log.
type Delivery struct {
	ID         int64     `json:"id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	OccurredAt time.Time `json:"occurred_at"`
	// Origin is feed (queued from the feed), redeliver or replay.
	Origin string `json:"origin"`
	// Status is pending, sending, delivered, failed or cancelled.
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	// The last attempt's answer: its status code (nil when none came),
	// error and duration.
	LastStatusCode *int       `json:"last_status_code"`
	LastError      string     `json:"last_error,omitempty"`
	LastDurationMS *int       `json:"last_duration_ms"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	// NextAttemptAt is when it is tried next (pending only).
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

// DefaultLogLimit and MaxLogLimit bound a page of the delivery log.
const (
	DefaultLogLimit = 50
	MaxLogLimit     = 200
)

// Log returns endpointID's deliveries, newest first, those with an ID below
// before when it is positive, at most limit (DefaultLogLimit when zero).
// Errors: the database's.
func (w *Webhooks) Log(ctx context.Context, endpointID string, before int64, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	limit = min(limit, MaxLogLimit)
	rows, err := w.c.Pool.Query(ctx, `
SELECT id, event_id, event_type, occurred_at, origin, status, attempts, last_status_code, coalesce(last_error, ''),
       last_duration_ms, last_attempt_at, CASE WHEN status = 'pending' THEN next_attempt_at END, delivered_at, created_at
FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2 <= 0 OR id < $2) ORDER BY id DESC LIMIT $3`, endpointID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("webhooks: delivery log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.ID, &d.EventID, &d.EventType, &d.OccurredAt, &d.Origin, &d.Status, &d.Attempts, &d.LastStatusCode,
			&d.LastError, &d.LastDurationMS, &d.LastAttemptAt, &d.NextAttemptAt, &d.DeliveredAt, &d.CreatedAt)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: delivery log: %w", err)
	}
	return out, nil
}

// Redeliver queues delivery deliveryID of endpointID again, as a new
// delivery after the endpoint's open ones, and returns it. Errors: a
// *domain.Error with CodeWebhookDeliveryNotFound, and the database's.
func (w *Webhooks) Redeliver(ctx context.Context, endpointID string, deliveryID int64) (Delivery, error) {
	now := w.c.Now()
	var id int64
	err := w.c.Pool.QueryRow(ctx, `
INSERT INTO webhook_deliveries (endpoint_id, property_id, event_id, event_type, occurred_at, body, origin, status, next_attempt_at, created_at)
SELECT endpoint_id, property_id, event_id, event_type, occurred_at, body, 'redeliver', 'pending', $3, $3
FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2
RETURNING id`, endpointID, deliveryID, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, deliveryNotFound(endpointID, deliveryID)
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("webhooks: redeliver: %w", err)
	}
	w.wake()
	log, err := w.Log(ctx, endpointID, id+1, 1)
	if err != nil || len(log) == 0 {
		return Delivery{}, errors.Join(err, fmt.Errorf("webhooks: redelivery %d vanished", id))
	}
	return log[0], nil
}

// Replay queues again, in their order, every event queued for endpointID
// from the feed that happened at or after since, and returns how many.
// Errors: the database's.
func (w *Webhooks) Replay(ctx context.Context, endpointID string, since time.Time) (int64, error) {
	now := w.c.Now()
	tag, err := w.c.Pool.Exec(ctx, `
INSERT INTO webhook_deliveries (endpoint_id, property_id, event_id, event_type, occurred_at, body, origin, status, next_attempt_at, created_at)
SELECT endpoint_id, property_id, event_id, event_type, occurred_at, body, 'replay', 'pending', $3, $3
FROM webhook_deliveries WHERE endpoint_id = $1 AND origin = 'feed' AND occurred_at >= $2
ORDER BY id`, endpointID, since, now)
	if err != nil {
		return 0, fmt.Errorf("webhooks: replay: %w", err)
	}
	if tag.RowsAffected() > 0 {
		w.wake()
	}
	return tag.RowsAffected(), nil
}
