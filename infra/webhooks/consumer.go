package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/broker"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/recorded"
)

// Handle is the watermill handler of one feed message: it keeps
// webhook_endpoints current from the endpoints' events, and queues the
// event's public form for every enabled endpoint of its property that asks
// for its type, once per endpoint however often the feed delivers it. It
// sends nothing: the dispatcher does, so a slow endpoint holds back neither
// the feed nor the other endpoints. Errors: the database's, for the router
// to retry, and a message that is no feed event or an event that does not
// decode, for the poison queue.
func (w *Webhooks) Handle(msg *message.Message) error {
	rec, err := feed.FromMessage(msg)
	if err != nil {
		return err
	}
	e, err := recorded.Decode(rec)
	if errors.Is(err, recorded.ErrForeignStream) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx := msg.Context()
	tx, err := w.c.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := w.applyEndpoint(ctx, tx, e); err != nil {
		return fmt.Errorf("webhooks: event %s: %w", rec.ID, err)
	}
	n, err := w.enqueue(ctx, tx, rec, e)
	if err != nil {
		return fmt.Errorf("webhooks: event %s: %w", rec.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("webhooks: event %s: %w", rec.ID, err)
	}
	if n > 0 {
		w.wake()
	}
	return nil
}

// applyEndpoint folds an endpoint's event into webhook_endpoints.
func (w *Webhooks) applyEndpoint(ctx context.Context, tx pgx.Tx, e recorded.Event) error {
	var err error
	switch ev := e.Event.(type) {
	case domain.WebhookEndpointCreated:
		_, err = tx.Exec(ctx, `INSERT INTO webhook_endpoints (endpoint_id, property_id, url, event_types, enabled, secret_nonce)
VALUES ($1, $2, $3, $4, true, $5) ON CONFLICT (endpoint_id) DO NOTHING`, ev.EndpointID, e.PropertyID, ev.URL, ev.EventTypes, ev.SecretNonce)
	case domain.WebhookEndpointUpdated:
		_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET url = $2, event_types = $3 WHERE endpoint_id = $1`, ev.EndpointID, ev.URL, ev.EventTypes)
	case domain.WebhookEndpointDisabled:
		_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET enabled = false WHERE endpoint_id = $1`, ev.EndpointID)
	case domain.WebhookEndpointEnabled:
		// A fresh start: the failures before it no longer count, and the
		// delivery that waited goes now.
		if _, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET enabled = true, failing_since = NULL WHERE endpoint_id = $1`, ev.EndpointID); err == nil {
			_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt_at = least(next_attempt_at, $2)
WHERE endpoint_id = $1 AND status = 'pending'`, ev.EndpointID, w.c.Now())
		}
	case domain.WebhookSecretRotated:
		_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET previous_nonce = secret_nonce, previous_until = $2, secret_nonce = $3
WHERE endpoint_id = $1`, ev.EndpointID, ev.PreviousValidUntil, ev.SecretNonce)
	case domain.WebhookEndpointDeleted:
		if _, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET deleted = true, enabled = false WHERE endpoint_id = $1`, ev.EndpointID); err == nil {
			_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'cancelled', claimed_until = NULL
WHERE endpoint_id = $1 AND status IN ('pending', 'sending')`, ev.EndpointID)
		}
	}
	return err
}

// enqueue queues rec's public form for the endpoints that want it and
// returns how many it queued.
func (w *Webhooks) enqueue(ctx context.Context, tx pgx.Tx, rec eventstore.RecordedEvent, e recorded.Event) (int64, error) {
	pub, err := broker.ToIntegration(rec)
	if errors.Is(err, broker.ErrUnmapped) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(pub)
	if err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `
INSERT INTO webhook_deliveries (endpoint_id, property_id, event_id, event_type, occurred_at, body, origin, status, next_attempt_at, created_at)
SELECT endpoint_id, property_id, $2, $3, $4, $5, 'feed', 'pending', $6, $6
FROM webhook_endpoints
WHERE property_id = $1 AND enabled AND NOT deleted AND (event_types @> ARRAY['*'] OR event_types @> ARRAY[$3::text])
ORDER BY endpoint_id
ON CONFLICT (endpoint_id, event_id) WHERE origin = 'feed' DO NOTHING`, e.PropertyID, rec.ID, pub.Type, e.At(), body, w.c.Now())
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
