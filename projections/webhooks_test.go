package projections_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// TestWebhookEndpointEventsInTheAuditAndTheBell: every endpoint event is an
// audit row about the endpoint, and Roster's own disabling notifies the
// admins it names.
func TestWebhookEndpointEventsInTheAuditAndTheBell(t *testing.T) {
	t.Parallel()
	const wid = "wh-1"
	by := func(actor string, e domain.Event) pt.Step {
		return pt.Step{PropertyID: pt.Acme, ActorID: actor, ActorEmail: pt.OwnerEmail, Event: e}
	}
	steps := []pt.Step{
		by(pt.Owner, domain.PropertyCreated{Schema: 1, PropertyID: pt.Acme, Name: "Acme", OwnerID: pt.Owner}),
		by(pt.Owner, domain.MemberJoined{Schema: 1, AccountID: pt.Owner, Email: pt.OwnerEmail, Role: domain.RoleAdmin}),
		by(pt.Owner, domain.WebhookEndpointCreated{Schema: 1, EndpointID: wid, URL: "https://hooks.example.com/x", EventTypes: []string{"*"}, SecretNonce: "n1"}),
		by(pt.Owner, domain.WebhookEndpointUpdated{Schema: 1, EndpointID: wid, URL: "https://hooks.example.com/y", EventTypes: []string{"*"}}),
		by(pt.Owner, domain.WebhookSecretRotated{Schema: 1, EndpointID: wid, SecretNonce: "n2", PreviousValidUntil: pt.At(9)}),
		by(pt.Owner, domain.WebhookEndpointDisabled{Schema: 1, EndpointID: wid, Reason: domain.WebhookDisabledByAdmin}),
		by(pt.Owner, domain.WebhookEndpointEnabled{Schema: 1, EndpointID: wid}),
		by("roster-webhooks", domain.WebhookEndpointDisabled{Schema: 1, EndpointID: wid, Reason: domain.WebhookDisabledFailing, Notified: []string{pt.Owner}}),
		by(pt.Owner, domain.WebhookEndpointDeleted{Schema: 1, EndpointID: wid}),
	}
	pool := project(t, steps)
	type auditRow struct{ Type, Kind, ID, Field, Before, After string }
	got := rows[auditRow](t, pool, `SELECT event_type, subject_kind, subject_id, change_field, before_value, after_value
		FROM rm_audit WHERE property_id = '`+pt.Acme+`' AND subject_kind = 'webhook' ORDER BY revision`)
	want := []auditRow{
		{"WebhookEndpointCreated", "webhook", wid, "url", "", "https://hooks.example.com/x"},
		{"WebhookEndpointUpdated", "webhook", wid, "", "", ""},
		{"WebhookSecretRotated", "webhook", wid, "", "", ""},
		{"WebhookEndpointDisabled", "webhook", wid, "status", "enabled", "disabled"},
		{"WebhookEndpointEnabled", "webhook", wid, "status", "disabled", "enabled"},
		{"WebhookEndpointDisabled", "webhook", wid, "status", "enabled", "disabled"},
		{"WebhookEndpointDeleted", "webhook", wid, "", "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rm_audit (-want +got):\n%s", diff)
	}
	notes := rows[notificationRow](t, pool, `SELECT coalesce(account_id, email), property_name, kind, details::text
		FROM rm_notifications WHERE property_id = '`+pt.Acme+`' AND kind = 'webhook_disabled'`)
	if diff := cmp.Diff([]notificationRow{{pt.Owner, "Acme", "webhook_disabled", `{"endpoint_id": "wh-1"}`}}, notes); diff != "" {
		t.Errorf("rm_notifications (-want +got):\n%s", diff)
	}
	var revision int64
	if err := pool.QueryRow(t.Context(), `SELECT revision FROM rm_properties WHERE property_id = $1`, pt.Acme).Scan(&revision); err != nil || revision != int64(len(steps)-1) {
		t.Errorf("rm_properties revision %d (%v), want %d: every event moves it", revision, err, len(steps)-1)
	}
}
