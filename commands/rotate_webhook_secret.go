package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// RotateWebhookSecret gives an endpoint a new signing secret; the previous
// one keeps signing for domain.WebhookSecretGrace.
type RotateWebhookSecret struct {
	PropertyID string
	EndpointID string
}

// RotateWebhookSecretHandler handles RotateWebhookSecret.
type RotateWebhookSecretHandler struct {
	exec    *Executor
	secrets WebhookSecrets
}

// Handle decides the rotation and derives the new secret.
func (h RotateWebhookSecretHandler) Handle(ctx context.Context, m Meta, c RotateWebhookSecret) (WebhookSecretResult, error) {
	if h.secrets == nil {
		return WebhookSecretResult{}, errNoWebhookSecrets
	}
	res, err := h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, now time.Time, ids IDs) ([]domain.Event, error) {
		return p.RotateWebhookSecret(m.Actor, now, c.EndpointID, ids.Next("webhook/nonce"))
	})
	if err != nil {
		return WebhookSecretResult{}, err
	}
	out := WebhookSecretResult{Result: res, EndpointID: c.EndpointID}
	for _, e := range res.Events {
		if ev, ok := e.(domain.WebhookSecretRotated); ok {
			out.Secret = h.secrets.Secret(c.PropertyID, ev.EndpointID, ev.SecretNonce)
		}
	}
	return out, nil
}
