package projections

import (
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// SubjectWebhook is the kind of subject of an audit row about a webhook
// endpoint; its id is the endpoint's.
const SubjectWebhook = "webhook"

// The audit rows of webhook endpoints: one reducer per event type, each
// naming the endpoint and, where one changed, the value. Never the
// secret's nonce.

func auditWebhookCreated(s *auditBatch, e recorded.Event, ev domain.WebhookEndpointCreated) error {
	return auditWebhook(s, e, ev.EndpointID, "url", "", ev.URL)
}

func auditWebhookUpdated(s *auditBatch, e recorded.Event, ev domain.WebhookEndpointUpdated) error {
	return auditWebhook(s, e, ev.EndpointID, "", "", "")
}

func auditWebhookDisabled(s *auditBatch, e recorded.Event, ev domain.WebhookEndpointDisabled) error {
	return auditWebhook(s, e, ev.EndpointID, "status", string(domain.StatusEnabled), string(domain.StatusDisabled))
}

func auditWebhookEnabled(s *auditBatch, e recorded.Event, ev domain.WebhookEndpointEnabled) error {
	return auditWebhook(s, e, ev.EndpointID, "status", string(domain.StatusDisabled), string(domain.StatusEnabled))
}

func auditWebhookSecretRotated(s *auditBatch, e recorded.Event, ev domain.WebhookSecretRotated) error {
	return auditWebhook(s, e, ev.EndpointID, "", "", "")
}

func auditWebhookDeleted(s *auditBatch, e recorded.Event, ev domain.WebhookEndpointDeleted) error {
	return auditWebhook(s, e, ev.EndpointID, "", "", "")
}

func auditWebhook(s *auditBatch, e recorded.Event, endpointID, field, before, after string) error {
	return writeAudit(s, e, auditEntry{kind: SubjectWebhook, id: endpointID, field: field, before: before, after: after})
}
