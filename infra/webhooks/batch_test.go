package webhooks_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// handleBatch gives recs to the consumer as one batch message.
func (f *fixture) handleBatch(recs ...eventstore.RecordedEvent) error {
	msg := feed.ToBatchMessage(recs)
	msg.SetContext(context.Background())
	return f.w.Handle(msg)
}

// queued returns, in the order they were queued, the event IDs of the
// feed's deliveries to endpoint among those of ids.
func (f *fixture) queued(endpoint string, ids ...string) []string {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT event_id FROM webhook_deliveries
		WHERE endpoint_id = $1 AND origin = 'feed' ORDER BY id`, endpoint)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			f.t.Fatal(err)
		}
		if slices.Contains(ids, id) {
			out = append(out, id)
		}
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func created(id string, types ...string) domain.WebhookEndpointCreated {
	return domain.WebhookEndpointCreated{Schema: 1, EndpointID: id, URL: "http://127.0.0.1:9/hook", EventTypes: types, SecretNonce: uuid.NewString()}
}

// TestABatchSeesTheEndpointsAsEachEventFoundThem: the endpoints' events of
// a batch apply in feed order among its other events, so each event is
// queued for the endpoints as they were when it happened, as one event per
// message would have it; a property without an endpoint gets nothing.
func TestABatchSeesTheEndpointsAsEachEventFoundThem(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	eid := uuid.NewString()
	before := f.next("", joined("acc-before"))
	create := f.next("", created(eid, "*"))
	a := f.next("", joined("acc-a"))
	elsewhere := f.next(uuid.NewString(), joined("acc-elsewhere"))
	disable := f.next("", domain.WebhookEndpointDisabled{Schema: 1, EndpointID: eid})
	b := f.next("", joined("acc-b"))
	enable := f.next("", domain.WebhookEndpointEnabled{Schema: 1, EndpointID: eid})
	c := f.next("", joined("acc-c"))
	if err := f.handleBatch(before, create, a, elsewhere, disable, b, enable, c); err != nil {
		t.Fatalf("Handle = %v", err)
	}
	got := f.queued(eid, before.ID, a.ID, elsewhere.ID, b.ID, c.ID)
	if diff := cmp.Diff([]string{a.ID, c.ID}, got); diff != "" {
		t.Errorf("events queued for the endpoint (-want +got):\n%s", diff)
	}
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE event_id = $1`, elsewhere.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("deliveries of the event of a property without endpoints = %d (%v), want 0", n, err)
	}
}

// TestABatchRetriedAfterAFailureHalfWayQueuesEachEventOnce: a batch is one
// transaction, so a failure after some of its writes leaves none, and the
// batch sent again (and again, as after a crash before the checkpoint's
// save) queues each event once per endpoint, in order.
func TestABatchRetriedAfterAFailureHalfWayQueuesEachEventOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	eid := uuid.NewString()
	recs := []eventstore.RecordedEvent{
		f.next("", created(eid, "roster.member.joined.v1")),
		f.next("", joined("acc-a")),
		f.next("", domain.WebhookEndpointUpdated{Schema: 1, EndpointID: eid, URL: "http://127.0.0.1:9/other", EventTypes: []string{"*"}}),
		f.next("", joined("acc-b")),
		f.next("", joined("acc-c")),
	}
	ids := []string{recs[1].ID, recs[3].ID, recs[4].ID}
	// The first attempt fails at the delivery of acc-b, after the endpoint
	// and acc-a's delivery were written; a sequence is not rolled back, so
	// the second attempt goes through.
	ctx := context.Background()
	if _, err := f.pool.Exec(ctx, `CREATE SEQUENCE fail_once;
CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.event_id = '`+recs[3].ID+`' AND nextval('fail_once') = 1 THEN
		RAISE EXCEPTION 'the database fails half-way';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER fail_once BEFORE INSERT ON webhook_deliveries FOR EACH ROW EXECUTE FUNCTION fail_once();`); err != nil {
		t.Fatal(err)
	}
	err := f.handleBatch(recs...)
	if err == nil || !strings.Contains(err.Error(), "half-way") {
		t.Fatalf("first Handle = %v, want the database's failure", err)
	}
	var endpoints, deliveries int
	if err := f.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM webhook_endpoints), (SELECT count(*) FROM webhook_deliveries)`).Scan(&endpoints, &deliveries); err != nil {
		t.Fatal(err)
	}
	if endpoints != 0 || deliveries != 0 {
		t.Fatalf("after the failed batch: %d endpoints and %d deliveries, want none", endpoints, deliveries)
	}
	for attempt := range 2 {
		if err := f.handleBatch(recs...); err != nil {
			t.Fatalf("Handle again (%d) = %v", attempt+1, err)
		}
	}
	if diff := cmp.Diff(ids, f.queued(eid, ids...)); diff != "" {
		t.Errorf("events queued for the endpoint, each once (-want +got):\n%s", diff)
	}
}

// TestABatchItCannotReadWritesNothing: a batch holding an event that does
// not decode, or a batch message that is not one, fails naming what, and
// none of its events is queued: the whole batch is retried, never skipped.
func TestABatchItCannotReadWritesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  func(good, bad eventstore.RecordedEvent) *message.Message
		want func(good, bad eventstore.RecordedEvent) string
	}{
		{"an event that does not decode after a good one",
			func(good, bad eventstore.RecordedEvent) *message.Message {
				bad.Data = []byte(`{"schema": 99}`)
				return feed.ToBatchMessage([]eventstore.RecordedEvent{good, bad})
			},
			func(_, bad eventstore.RecordedEvent) string { return bad.ID }},
		{"a batch whose payload is cut short",
			func(good, bad eventstore.RecordedEvent) *message.Message {
				m := feed.ToBatchMessage([]eventstore.RecordedEvent{good, bad})
				m.Payload = m.Payload[:len(m.Payload)-3]
				return m
			},
			func(eventstore.RecordedEvent, eventstore.RecordedEvent) string { return "not a feed batch" }},
		{"a batch that says more events than it holds",
			func(good, bad eventstore.RecordedEvent) *message.Message {
				m := feed.ToBatchMessage([]eventstore.RecordedEvent{good, bad})
				m.Metadata.Set(feed.KeyBatch, "3")
				return m
			},
			func(eventstore.RecordedEvent, eventstore.RecordedEvent) string { return "not a feed batch" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			eid, _ := f.endpoint("http://127.0.0.1:9/hook")
			good, bad := f.next("", joined("acc-good")), f.next("", joined("acc-bad"))
			msg := tt.msg(good, bad)
			msg.SetContext(context.Background())
			err := f.w.Handle(msg)
			if want := tt.want(good, bad); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Handle = %v, want an error naming %q", err, want)
			}
			if got := f.queued(eid, good.ID, bad.ID); len(got) != 0 {
				t.Errorf("queued %v from a batch that failed, want nothing", got)
			}
		})
	}
}
