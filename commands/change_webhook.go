package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// WebhookChange is what ChangeWebhook does to an endpoint.
type WebhookChange int

// The changes of an endpoint that issue no secret.
const (
	WebhookUpdate WebhookChange = iota + 1
	WebhookDisable
	WebhookEnable
	WebhookDelete
)

// ChangeWebhook updates, disables, enables or deletes an endpoint.
type ChangeWebhook struct {
	PropertyID string
	EndpointID string
	Change     WebhookChange
	// Settings are the update's; the other changes take none.
	Settings domain.WebhookSettings
}

// ChangeWebhookHandler handles ChangeWebhook.
type ChangeWebhookHandler struct {
	exec  *Executor
	rules domain.WebhookRules
}

// Handle decides the change.
func (h ChangeWebhookHandler) Handle(ctx context.Context, m Meta, c ChangeWebhook) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		switch c.Change {
		case WebhookUpdate:
			return p.UpdateWebhook(m.Actor, c.EndpointID, c.Settings, h.rules)
		case WebhookDisable:
			return p.DisableWebhook(m.Actor, c.EndpointID)
		case WebhookEnable:
			return p.EnableWebhook(m.Actor, c.EndpointID)
		case WebhookDelete:
			return p.DeleteWebhook(m.Actor, c.EndpointID)
		}
		return nil, domain.Errorf(domain.KindInternal, domain.CodeInternal, "unknown webhook change %d", c.Change)
	})
}

// DisableFailingWebhookHandler disables an endpoint whose deliveries kept
// failing: Roster's own decision, which the webhook dispatcher takes.
type DisableFailingWebhookHandler struct {
	exec *Executor
}

// WebhookActor is who Roster's own decisions on webhooks are recorded as.
var WebhookActor = domain.Actor{AccountID: "roster-webhooks"}

// Handle disables endpointID of propertyID unless it is disabled or gone.
func (h DisableFailingWebhookHandler) Handle(ctx context.Context, correlationID, propertyID, endpointID string) (Result, error) {
	m := Meta{Actor: WebhookActor, CorrelationID: correlationID}
	return h.exec.Run(ctx, m, propertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		return p.DisableFailingWebhook(endpointID), nil
	})
}

// ListWebhooksHandler answers the endpoints of a property from its stream,
// to those who administer its settings.
type ListWebhooksHandler struct {
	exec *Executor
}

// Handle returns copies of the endpoints, oldest first. Errors: those of
// authorization.
func (h ListWebhooksHandler) Handle(ctx context.Context, m Meta, propertyID string) ([]domain.WebhookEndpoint, error) {
	var out []domain.WebhookEndpoint
	err := h.exec.Inspect(ctx, m, propertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		list, err := p.ListWebhooks(m.Actor)
		out = make([]domain.WebhookEndpoint, 0, len(list))
		for _, w := range list {
			c := *w
			c.EventTypes = append([]string(nil), w.EventTypes...)
			out = append(out, c)
		}
		return nil, err
	})
	return out, err
}
