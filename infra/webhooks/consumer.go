package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/broker"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/recorded"
)

// Handle is the watermill handler of one feed message, of one event or of
// a batch (feed.Events): it keeps webhook_endpoints current from the
// endpoints' events, and queues each event's public form for every enabled
// endpoint of its property that asks for its type, once per endpoint
// however often the feed delivers it. A message's writes are one
// statement batch, so one implicit transaction: the endpoints' events in
// feed order, each run of other events between them queued by one
// statement, so an event sees the endpoints as they were when it happened.
// An event whose property has no endpoint (one query per message tells) is
// neither mapped nor marshalled. It sends nothing: the dispatcher does, so
// a slow endpoint holds back neither the feed nor the other endpoints.
// Errors: the database's, for the router to retry the whole message, and a
// message that is no feed event or an event that does not decode, named,
// after which nothing of the message is written.
func (w *Webhooks) Handle(msg *message.Message) error {
	recs, err := feed.Events(msg)
	if err != nil {
		return err
	}
	events := make([]event, 0, len(recs))
	for _, rec := range recs {
		e, err := recorded.Decode(rec)
		if errors.Is(err, recorded.ErrForeignStream) {
			continue
		}
		if err != nil {
			return fmt.Errorf("webhooks: event %s: %w", rec.ID, err)
		}
		events = append(events, event{rec: rec, e: e})
	}
	if len(events) == 0 {
		return nil
	}
	ctx := msg.Context()
	watched, err := w.watched(ctx, events)
	if err != nil {
		return fmt.Errorf("webhooks: %s: %w", span(events), err)
	}
	b := &pgx.Batch{}
	var (
		run    deliveries
		queued int64
	)
	count := func(ct pgconn.CommandTag) error {
		queued += ct.RowsAffected()
		return nil
	}
	for _, ev := range events {
		if isEndpointEvent(ev.e) {
			run.queue(b, w.c.Now(), count)
			w.applyEndpoint(b, ev.e)
		}
		if !watched[ev.e.PropertyID] {
			continue
		}
		if err := run.add(ev); err != nil {
			return fmt.Errorf("webhooks: event %s: %w", ev.rec.ID, err)
		}
	}
	run.queue(b, w.c.Now(), count)
	if b.Len() == 0 {
		return nil
	}
	if err := w.c.Pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("webhooks: %s: %w", span(events), err)
	}
	if queued > 0 {
		w.wake()
	}
	return nil
}

// event is one event of a message, as stored and decoded.
type event struct {
	rec eventstore.RecordedEvent
	e   recorded.Event
}

// span names the events of a message in an error.
func span(events []event) string {
	if len(events) == 1 {
		return "event " + events[0].rec.ID
	}
	return fmt.Sprintf("%d events from %s to %s", len(events), events[0].rec.ID, events[len(events)-1].rec.ID)
}

func isEndpointEvent(e recorded.Event) bool {
	switch e.Event.(type) {
	case domain.WebhookEndpointCreated, domain.WebhookEndpointUpdated, domain.WebhookEndpointDisabled,
		domain.WebhookEndpointEnabled, domain.WebhookSecretRotated, domain.WebhookEndpointDeleted:
		return true
	}
	return false
}

// watched returns the properties of events that may have an endpoint to
// queue them for: those with one in webhook_endpoints, and those whose
// endpoint events are among events. Most properties have none, and their
// events need no public form.
func (w *Webhooks) watched(ctx context.Context, events []event) (map[string]bool, error) {
	out := map[string]bool{}
	var ask []string
	for _, ev := range events {
		if isEndpointEvent(ev.e) {
			out[ev.e.PropertyID] = true
		}
	}
	for _, ev := range events {
		if _, ok := out[ev.e.PropertyID]; !ok {
			out[ev.e.PropertyID] = false
			ask = append(ask, ev.e.PropertyID)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	rows, err := w.c.Pool.Query(ctx, `SELECT DISTINCT property_id FROM webhook_endpoints WHERE property_id = ANY($1) AND NOT deleted`, ask)
	if err != nil {
		return nil, err
	}
	var pid string
	_, err = pgx.ForEachRow(rows, []any{&pid}, func() error {
		out[pid] = true
		return nil
	})
	return out, err
}

// deliveries is a run of consecutive events to queue for their
// properties' endpoints, in one statement.
type deliveries struct {
	properties, ids, types []string
	at                     []time.Time
	bodies                 [][]byte
}

// add maps ev to its public form and adds it to the run, unless it has
// none.
func (d *deliveries) add(ev event) error {
	pub, err := broker.ToIntegration(ev.rec)
	if errors.Is(err, broker.ErrUnmapped) {
		return nil
	}
	if err != nil {
		return err
	}
	body, err := json.Marshal(pub)
	if err != nil {
		return err
	}
	d.properties = append(d.properties, ev.e.PropertyID)
	d.ids = append(d.ids, ev.rec.ID)
	d.types = append(d.types, pub.Type)
	d.at = append(d.at, ev.e.At())
	d.bodies = append(d.bodies, body)
	return nil
}

// queue queues onto b the statement that queues the run's events for the
// endpoints that want them, in feed order, and empties the run; count is
// given its result.
func (d *deliveries) queue(b *pgx.Batch, now time.Time, count func(pgconn.CommandTag) error) {
	if len(d.ids) == 0 {
		return
	}
	b.Queue(`
INSERT INTO webhook_deliveries (endpoint_id, property_id, event_id, event_type, occurred_at, body, origin, status, next_attempt_at, created_at)
SELECT w.endpoint_id, w.property_id, d.event_id, d.event_type, d.occurred_at, d.body, 'feed', 'pending', $6, $6
FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bytea[])
	WITH ORDINALITY AS d (property_id, event_id, event_type, occurred_at, body, n)
JOIN webhook_endpoints w ON w.property_id = d.property_id
WHERE w.enabled AND NOT w.deleted AND (w.event_types @> ARRAY['*'] OR w.event_types @> ARRAY[d.event_type])
ORDER BY d.n, w.endpoint_id
ON CONFLICT (endpoint_id, event_id) WHERE origin = 'feed' DO NOTHING`,
		d.properties, d.ids, d.types, d.at, d.bodies, now).Exec(count)
	*d = deliveries{}
}

// applyEndpoint queues onto b the statements that fold an endpoint's
// event into webhook_endpoints.
func (w *Webhooks) applyEndpoint(b *pgx.Batch, e recorded.Event) {
	switch ev := e.Event.(type) {
	case domain.WebhookEndpointCreated:
		b.Queue(`INSERT INTO webhook_endpoints (endpoint_id, property_id, url, event_types, enabled, secret_nonce)
VALUES ($1, $2, $3, $4, true, $5) ON CONFLICT (endpoint_id) DO NOTHING`, ev.EndpointID, e.PropertyID, ev.URL, ev.EventTypes, ev.SecretNonce)
	case domain.WebhookEndpointUpdated:
		b.Queue(`UPDATE webhook_endpoints SET url = $2, event_types = $3 WHERE endpoint_id = $1`, ev.EndpointID, ev.URL, ev.EventTypes)
	case domain.WebhookEndpointDisabled:
		b.Queue(`UPDATE webhook_endpoints SET enabled = false WHERE endpoint_id = $1`, ev.EndpointID)
	case domain.WebhookEndpointEnabled:
		// A fresh start: the failures before it no longer count, and the
		// delivery that waited goes now.
		b.Queue(`UPDATE webhook_endpoints SET enabled = true, failing_since = NULL WHERE endpoint_id = $1`, ev.EndpointID)
		b.Queue(`UPDATE webhook_deliveries SET next_attempt_at = least(next_attempt_at, $2)
WHERE endpoint_id = $1 AND status = 'pending'`, ev.EndpointID, w.c.Now())
	case domain.WebhookSecretRotated:
		b.Queue(`UPDATE webhook_endpoints SET previous_nonce = secret_nonce, previous_until = $2, secret_nonce = $3
WHERE endpoint_id = $1`, ev.EndpointID, ev.PreviousValidUntil, ev.SecretNonce)
	case domain.WebhookEndpointDeleted:
		b.Queue(`UPDATE webhook_endpoints SET deleted = true, enabled = false WHERE endpoint_id = $1`, ev.EndpointID)
		b.Queue(`UPDATE webhook_deliveries SET status = 'cancelled', claimed_until = NULL
WHERE endpoint_id = $1 AND status IN ('pending', 'sending')`, ev.EndpointID)
	}
}
