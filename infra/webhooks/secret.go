// Package webhooks delivers the feed's events to the webhook endpoints of
// their property: a consumer of the feed queues one delivery per event and
// endpoint in PostgreSQL, and a dispatcher sends them, signed as the
// Standard Webhooks specification says, in order per endpoint, retrying
// with backoff, each endpoint apart from the others (docs/ARCHITECTURE.md
// section 11).
package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// SecretPrefix starts every signing secret, as the Standard Webhooks
// specification has it.
const SecretPrefix = "whsec_"

// Secrets derives endpoints' signing secrets from the nonce their events
// hold, under a server key: no event or table holds a secret, and the API
// shows one only when it issues it. It is safe for concurrent use.
type Secrets struct {
	key []byte
}

// NewSecrets returns Secrets under the server key key.
func NewSecrets(key []byte) *Secrets { return &Secrets{key: append([]byte(nil), key...)} }

// Secret returns the secret of endpointID of propertyID with nonce:
// "whsec_" and 32 bytes in standard base64.
func (s *Secrets) Secret(propertyID, endpointID, nonce string) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(s.raw(propertyID, endpointID, nonce))
}

func (s *Secrets) raw(propertyID, endpointID, nonce string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("roster-webhook-secret-v1\x00" + propertyID + "\x00" + endpointID + "\x00" + nonce))
	return m.Sum(nil)
}

// Sign returns the webhook-signature header of a message: "v1,<base64>"
// under each key, space-separated (the current secret first, then the one
// a rotation keeps for a while). The specification's own library signs, so
// the scheme is the one receivers verify with.
func Sign(keys [][]byte, msgID string, at time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		wh, err := standardwebhooks.NewWebhookRaw(k)
		if err != nil {
			return "", fmt.Errorf("webhook signing key: %w", err)
		}
		sig, err := wh.Sign(msgID, at, body)
		if err != nil {
			return "", fmt.Errorf("sign webhook %s: %w", msgID, err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// DecodeSecret returns the key of a "whsec_" secret. Errors: the secret is
// not base64 after its prefix.
func DecodeSecret(secret string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, errors.New("webhook secret is not base64 after whsec_")
	}
	return b, nil
}
