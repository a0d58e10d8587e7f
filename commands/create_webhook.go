package commands

import (
	"context"
	"errors"
	"time"

	"github.com/rosterhq/roster/domain"
)

// WebhookSecrets derives an endpoint's signing secret from the nonce its
// events hold, under a server key, so no event or table holds the secret.
type WebhookSecrets interface {
	Secret(propertyID, endpointID, nonce string) string
}

// errNoWebhookSecrets is a wiring fault: Config.WebhookSecrets is unset.
var errNoWebhookSecrets = errors.New("commands: no webhook secret key configured")

// CreateWebhook adds a webhook endpoint to a property.
type CreateWebhook struct {
	PropertyID string
	Settings   domain.WebhookSettings
}

// WebhookSecretResult is the answer of a command that issues a signing
// secret: the one time the secret is shown. A repeat of the command with
// the same idempotency key shows it again: it is the same secret, and the
// client may have lost the first answer.
type WebhookSecretResult struct {
	Result
	EndpointID string
	Secret     string
}

// CreateWebhookHandler handles CreateWebhook.
type CreateWebhookHandler struct {
	exec    *Executor
	secrets WebhookSecrets
	rules   domain.WebhookRules
}

// Handle decides the endpoint and derives its secret.
func (h CreateWebhookHandler) Handle(ctx context.Context, m Meta, c CreateWebhook) (WebhookSecretResult, error) {
	if h.secrets == nil {
		return WebhookSecretResult{}, errNoWebhookSecrets
	}
	res, err := h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, ids IDs) ([]domain.Event, error) {
		return p.CreateWebhook(m.Actor, ids.Next("webhook"), ids.Next("webhook/nonce"), c.Settings, h.rules)
	})
	if err != nil {
		return WebhookSecretResult{}, err
	}
	out := WebhookSecretResult{Result: res}
	for _, e := range res.Events {
		if ev, ok := e.(domain.WebhookEndpointCreated); ok {
			out.EndpointID, out.Secret = ev.EndpointID, h.secrets.Secret(c.PropertyID, ev.EndpointID, ev.SecretNonce)
		}
	}
	return out, nil
}
