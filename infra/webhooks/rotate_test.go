package webhooks_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/webhooks"
)

// TestARotatedSecretStillSignsForADay: after a rotation both secrets
// verify a delivery for 24 hours; after that only the new one does.
func TestARotatedSecretStillSignsForADay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	rcv := newReceiver(t, nil)
	eid, old := f.endpoint(rcv.URL())
	nonce := uuid.NewString()
	f.emit(domain.WebhookSecretRotated{Schema: 1, EndpointID: eid, SecretNonce: nonce, PreviousValidUntil: f.clock.Now().Add(domain.WebhookSecretGrace)})
	current := webhooks.NewSecrets(serverKey).Secret(f.pid, eid, nonce)
	verifies := func(secret string, h hit) bool {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh.VerifyIgnoringTimestamp(h.body, h.header) == nil
	}
	f.clock.Set(f.clock.Now().Add(23 * time.Hour))
	f.emit(joined("acc-1"))
	f.run(5, nil)
	f.clock.Set(f.clock.Now().Add(2 * time.Hour))
	f.emit(joined("acc-2"))
	f.run(5, nil)
	hits := rcv.got()
	within, after := hits[len(hits)-2], hits[len(hits)-1]
	if !verifies(current, within) || !verifies(old, within) {
		t.Error("within the day, a delivery does not verify under both secrets")
	}
	if !verifies(current, after) || verifies(old, after) {
		t.Error("after the day, a delivery verifies under the old secret, or not under the new one")
	}
}

// TestTwoDispatchersSendEachDeliveryOnce: processes that dispatch from one
// database at once claim each delivery before sending it.
func TestTwoDispatchersSendEachDeliveryOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	other, err := webhooks.New(webhooks.Config{Pool: f.pool, Secrets: webhooks.NewSecrets(serverKey), Now: f.clock.Now,
		AllowHTTP: true, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	rcvs := make([]*receiver, 4)
	for i := range rcvs {
		rcvs[i] = newReceiver(t, nil)
		f.endpoint(rcvs[i].URL())
	}
	for i := range 20 {
		f.emit(joined("acc-" + uuid.NewString()[:8] + string(rune('a'+i))))
	}
	var wg sync.WaitGroup
	for _, w := range []*webhooks.Webhooks{f.w, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Drain(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, r := range rcvs {
		seen := map[string]int{}
		for _, h := range r.got() {
			seen[h.id]++
			if seen[h.id] > 1 {
				t.Errorf("receiver %d got %s twice", i, h.id)
			}
		}
		// Its own creation, the later endpoints' and the 20 joins.
		if want := 20 + len(rcvs) - i; len(seen) != want {
			t.Errorf("receiver %d got %d events, want %d", i, len(seen), want)
		}
	}
}
