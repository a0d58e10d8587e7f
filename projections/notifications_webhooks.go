package projections

import (
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// NotificationWebhookDisabled tells an admin that Roster disabled a webhook
// endpoint whose deliveries failed for the whole retry horizon.
const NotificationWebhookDisabled = "webhook_disabled"

// WebhookDisabledDetails are the details of a webhook_disabled notification.
type WebhookDisabledDetails struct {
	EndpointID string `json:"endpoint_id"`
}

// notificationsWebhookDisabled notifies the admins the event names; an
// admin's own disabling names nobody.
func notificationsWebhookDisabled(s *notificationsBatch, e recorded.Event, ev domain.WebhookEndpointDisabled) error {
	for _, acc := range ev.Notified {
		if err := notify(s, e, acc, "", "", NotificationWebhookDisabled, WebhookDisabledDetails{EndpointID: ev.EndpointID}); err != nil {
			return err
		}
	}
	return nil
}
