package webhooks_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rosterhq/roster/domain"
)

func joined(acc string) domain.MemberJoined {
	return domain.MemberJoined{Schema: 1, AccountID: acc, Email: acc + "@example.com", Role: domain.RoleAgent}
}

// TestDeliveriesArriveSignedInOrderAtLeastOnce: a real receiver answers
// 200, 500, hangs past the timeout, drops the connection and goes away and
// comes back; every event reaches it, signed, in the feed's order, the
// retries spaced as the backoff is configured, by the test's clock.
func TestDeliveriesArriveSignedInOrderAtLeastOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	var troubled string // the event that meets every kind of failure
	rcv := newReceiver(t, func(id string, attempt int) string {
		if id != troubled {
			return "ok"
		}
		return [...]string{"", "fail", "hang", "close", "fail", "ok"}[min(attempt, 5)]
	})
	eid, secret := f.endpoint(rcv.URL())
	var want []string
	for i := range 3 {
		want = append(want, f.emit(joined("acc-"+strconv.Itoa(i))))
	}
	troubled = want[1]
	want = append(want, f.emit(domain.MemberRoleChanged{Schema: 1, AccountID: "acc-0", From: domain.RoleAgent, To: domain.RoleAdmin}))
	// The receiver is down for the fourth attempt at the troubled event,
	// and back for the fifth.
	f.run(50, func(int) {
		switch n := len(rcv.got()); {
		case n == 5 && rcv.srv != nil:
			rcv.down()
		case n == 5 && rcv.srv == nil && f.clock.Now().After(time.Date(2026, 3, 1, 9, 6, 0, 0, time.UTC)):
			rcv.up()
		}
	})

	hits := rcv.got()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	var delivered, order []string
	var troubledAt []time.Time
	for _, h := range hits {
		// The library checks the signature; the timestamp is the test
		// clock's, which the library's own tolerance would compare with
		// the wall clock.
		if err := wh.VerifyIgnoringTimestamp(h.body, h.header); err != nil {
			t.Errorf("request for %s does not verify: %v", h.id, err)
		}
		var body struct {
			ID, Type string
		}
		if err := json.Unmarshal(h.body, &body); err != nil || body.ID != h.id || !strings.HasPrefix(body.Type, "roster.") {
			t.Errorf("body %s for webhook-id %s (%v)", h.body, h.id, err)
		}
		if h.answered == 200 {
			delivered = append(delivered, h.id)
		}
		if len(order) == 0 || order[len(order)-1] != h.id {
			order = append(order, h.id)
		}
		sec, _ := strconv.ParseInt(h.timestamp, 10, 64)
		if h.id == troubled {
			troubledAt = append(troubledAt, time.Unix(sec, 0))
		}
	}
	// The endpoint's own creation is its first event.
	if len(delivered) != len(want)+1 || !slices.Equal(delivered[1:], want) {
		t.Errorf("delivered %v, want the creation then %v", delivered, want)
	}
	if len(order) != len(want)+1 {
		t.Errorf("requests went out of order: %v", order)
	}
	// Six attempts, five of which reached the receiver (the fourth found
	// it down): the waits between them are the backoffs 1m, 2m, 4m, 8m,
	// 16m, each within a fifth either side, so the gaps the receiver saw
	// are 1m, 2m, 4m+8m and 16m.
	if len(troubledAt) != 5 {
		t.Fatalf("the troubled event reached the receiver %d times, want 5", len(troubledAt))
	}
	for i, g := range []time.Duration{time.Minute, 2 * time.Minute, 12 * time.Minute, 16 * time.Minute} {
		gap := troubledAt[i+1].Sub(troubledAt[i])
		// Whole seconds in the header: one either side.
		lo, hi := time.Duration(float64(g)*0.8)-time.Second, time.Duration(float64(g)*1.2)+time.Second
		if gap < lo || gap > hi {
			t.Errorf("gap %d is %s, want %s ± 20%%", i+1, gap, g)
		}
	}

	log, err := f.w.Log(context.Background(), eid, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range log {
		if d.Status != "delivered" || d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.LastDurationMS == nil {
			t.Errorf("delivery %d of %s: %+v", d.ID, d.EventID, d)
		}
		if d.EventID == troubled && d.Attempts != 6 {
			t.Errorf("the troubled delivery took %d attempts, want 6", d.Attempts)
		}
	}
}

// TestASlowOrDeadEndpointHoldsBackNoOther: while one endpoint fails, the
// other gets every event at once, in order.
func TestASlowOrDeadEndpointHoldsBackNoOther(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	dead := newReceiver(t, func(string, int) string { return "hang" })
	fine := newReceiver(t, nil)
	f.endpoint(dead.URL())
	f.endpoint(fine.URL())
	var want []string
	for i := range 5 {
		want = append(want, f.emit(joined("acc-"+strconv.Itoa(i))))
	}
	if _, err := f.w.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range fine.got() {
		got = append(got, h.id)
	}
	// The fine endpoint's log starts with both creations it saw (its own
	// only: the first endpoint's came before it existed).
	if len(got) < len(want) || !slices.Equal(got[len(got)-len(want):], want) {
		t.Errorf("the fine endpoint got %v, want ... %v", got, want)
	}
	if n := len(dead.got()); n != 1 {
		t.Errorf("the dead endpoint was tried %d times at one moment, want once", n)
	}
}

// TestAnEndpointFailingForTheHorizonIsDisabled: retried until the horizon,
// the last attempt at it, then the delivery fails, the endpoint is disabled
// and nothing more is sent until it is enabled again.
func TestAnEndpointFailingForTheHorizonIsDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	failing := true
	rcv := newReceiver(t, func(string, int) string {
		if failing {
			return "fail"
		}
		return "ok"
	})
	start := f.clock.Now()
	eid, _ := f.endpoint(rcv.URL())
	f.emit(joined("acc-1"))
	f.run(200, nil)
	hits := rcv.got()
	last, _ := strconv.ParseInt(hits[len(hits)-1].timestamp, 10, 64)
	if got := time.Unix(last, 0).Sub(start); got != 72*time.Hour {
		t.Errorf("last attempt %s after the first, want at the horizon, 72h", got)
	}
	if len(f.disabled) != 1 || f.disabled[0] != eid {
		t.Fatalf("disabled %v, want %s once", f.disabled, eid)
	}
	log, err := f.w.Log(context.Background(), eid, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if log[len(log)-1].Status != "failed" || log[0].Status != "pending" {
		t.Errorf("log %+v: want the creation failed, the join waiting", log)
	}
	// The disabling comes back through the feed; an admin enables it again
	// once the receiver works, and the waiting event goes.
	f.emit(domain.WebhookEndpointDisabled{Schema: 1, EndpointID: eid, Reason: domain.WebhookDisabledFailing})
	n := len(rcv.got())
	f.clock.Set(f.clock.Now().Add(time.Hour))
	f.run(5, nil)
	if len(rcv.got()) != n {
		t.Error("a disabled endpoint was sent to")
	}
	failing = false
	f.emit(domain.WebhookEndpointEnabled{Schema: 1, EndpointID: eid})
	f.run(5, nil)
	got := rcv.got()
	if len(got) != n+2 || got[len(got)-1].answered != 200 {
		t.Errorf("after enabling the endpoint got %d more requests, want 2 (the join, the enabling)", len(got)-n)
	}
}

// TestRedeliverAndReplay send what was delivered again, after the open
// deliveries, with the same webhook-id.
func TestRedeliverAndReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	rcv := newReceiver(t, nil)
	eid, _ := f.endpoint(rcv.URL())
	first := f.emit(joined("acc-1"))
	f.clock.Set(f.clock.Now().Add(time.Hour))
	second := f.emit(joined("acc-2"))
	f.run(5, nil)
	log, err := f.w.Log(context.Background(), eid, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var firstDelivery int64
	for _, d := range log {
		if d.EventID == first {
			firstDelivery = d.ID
		}
	}
	ctx := context.Background()
	d, err := f.w.Redeliver(ctx, eid, firstDelivery)
	if err != nil || d.Origin != "redeliver" || d.EventID != first {
		t.Fatalf("Redeliver = %+v, %v", d, err)
	}
	if _, err := f.w.Redeliver(ctx, eid, 999999); err == nil {
		t.Error("an unknown delivery was redelivered")
	}
	n, err := f.w.Replay(ctx, eid, f.clock.Now().Add(-time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Replay = %d, %v; want the second event only", n, err)
	}
	f.run(5, nil)
	hits := rcv.got()
	var ids []string
	for _, h := range hits[len(hits)-2:] {
		ids = append(ids, h.id)
	}
	if !slices.Equal(ids, []string{first, second}) {
		t.Errorf("redelivered and replayed %v, want %v", ids, []string{first, second})
	}
}
