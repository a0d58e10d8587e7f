package webhooks_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/rosterhq/roster/infra/webhooks"
)

// The test vector the Standard Webhooks specification publishes.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specPayload   = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationsVector(t *testing.T) {
	key, err := webhooks.DecodeSecret(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := webhooks.Sign([][]byte{key}, specMsgID, time.Unix(specTimestamp, 0), []byte(specPayload))
	if err != nil || got != specSignature {
		t.Errorf("signature %q (%v), want %q", got, err, specSignature)
	}
}

// TestSignaturesVerifyWithTheStandardWebhooksLibrary: the reference Go
// library of the specification, not our code, checks what we sign, under
// each of the secrets a rotation leaves signing.
func TestSignaturesVerifyWithTheStandardWebhooksLibrary(t *testing.T) {
	s := webhooks.NewSecrets([]byte("a server key of thirty-two bytes!"))
	current, previous := s.Secret("p1", "wh1", "nonce-2"), s.Secret("p1", "wh1", "nonce-1")
	if current == previous || !strings.HasPrefix(current, "whsec_") {
		t.Fatalf("secrets %q and %q", current, previous)
	}
	if s.Secret("p1", "wh1", "nonce-2") != current {
		t.Fatal("the same nonce derives another secret")
	}
	keys := [][]byte{}
	for _, sec := range []string{current, previous} {
		k, err := webhooks.DecodeSecret(sec)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	at := time.Now()
	body := []byte(`{"id":"evt-1","type":"roster.member.joined.v1"}`)
	h := http.Header{}
	h.Set("webhook-id", "evt-1")
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	sig, err := webhooks.Sign(keys, "evt-1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	h.Set("webhook-signature", sig)
	for _, sec := range []string{current, previous} {
		wh, err := standardwebhooks.NewWebhook(sec)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("the library refuses our signature under %s: %v", sec[:10], err)
		}
		if err := wh.Verify([]byte(`{"id":"evt-2"}`), h); err == nil {
			t.Error("the library takes our signature over another body")
		}
	}
	other, _ := standardwebhooks.NewWebhook(s.Secret("p1", "wh2", "nonce-2"))
	if err := other.Verify(body, h); err == nil {
		t.Error("another endpoint's secret verifies the signature")
	}
}
