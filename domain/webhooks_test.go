package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
)

const (
	hookURL  = "https://hooks.example.com/roster"
	joinedV1 = "roster.member.joined.v1"
	leftV1   = "roster.member.left.v1"
)

var hookRules = domain.WebhookRules{KnownTypes: []string{joinedV1, leftV1}}

func str(s string) *string { return &s }

func types(ts ...string) *[]string { return &ts }

func hookCreated() domain.WebhookEndpointCreated {
	return domain.WebhookEndpointCreated{Schema: domain.SchemaV1, EndpointID: "wh-1", URL: hookURL,
		EventTypes: []string{joinedV1}, Description: "CRM", SecretNonce: "nonce-wh-1"}
}

func hookDisabled(reason string) domain.WebhookEndpointDisabled {
	return domain.WebhookEndpointDisabled{Schema: domain.SchemaV1, EndpointID: "wh-1", Reason: reason}
}

func createHook(a domain.Actor, s domain.WebhookSettings, rules domain.WebhookRules) decision {
	return func(p *domain.Property) ([]domain.Event, error) {
		return p.CreateWebhook(a, "wh-1", "nonce-wh-1", s, rules)
	}
}

func updateHook(a domain.Actor, id string, s domain.WebhookSettings) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.UpdateWebhook(a, id, s, hookRules) }
}

func TestWebhookEndpointsAreAdministeredByAdmins(t *testing.T) {
	valid := domain.WebhookSettings{URL: str(" " + hookURL + " "), EventTypes: types(joinedV1, joinedV1), Description: str(" CRM ")}
	withHook := events(team(), hookCreated())
	run(t, []spec{
		{name: "an admin creates an endpoint, settings normalised", given: team(), when: createHook(admin, valid, hookRules),
			then: []domain.Event{hookCreated()}},
		{name: "no event types means all", given: team(), when: createHook(owner, domain.WebhookSettings{URL: str(hookURL)}, hookRules),
			then: []domain.Event{domain.WebhookEndpointCreated{Schema: 1, EndpointID: "wh-1", URL: hookURL, EventTypes: []string{"*"}, SecretNonce: "nonce-wh-1"}}},
		{name: "an agent may not", given: team(), when: createHook(agent, valid, hookRules),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "administrate_settings"}},
		{name: "a disabled admin may not", given: team(), when: createHook(offAdmin, valid, hookRules),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeAccessDisabled}},
		{name: "an outsider learns nothing", given: team(), when: createHook(outsider, valid, hookRules),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
		{name: "http is refused outside development", given: team(),
			when:  createHook(owner, domain.WebhookSettings{URL: str("http://hooks.example.com/")}, hookRules),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidWebhookURL, says: "https://"}},
		{name: "http is taken in development", given: team(),
			when: createHook(owner, domain.WebhookSettings{URL: str("http://localhost:9000/h"), EventTypes: types("*")},
				domain.WebhookRules{KnownTypes: hookRules.KnownTypes, AllowHTTP: true}),
			then: []domain.Event{domain.WebhookEndpointCreated{Schema: 1, EndpointID: "wh-1", URL: "http://localhost:9000/h", EventTypes: []string{"*"}, SecretNonce: "nonce-wh-1"}}},
		{name: "an unknown event type is refused by name", given: team(),
			when:  createHook(owner, domain.WebhookSettings{URL: str(hookURL), EventTypes: types("roster.member.promoted.v1")}, hookRules),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidEventTypes, says: "roster.member.promoted.v1"}},
		{name: "an empty list of event types is refused", given: team(),
			when:  createHook(owner, domain.WebhookSettings{URL: str(hookURL), EventTypes: types()}, hookRules),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidEventTypes}},
		{name: "all stands alone", given: team(),
			when:  createHook(owner, domain.WebhookSettings{URL: str(hookURL), EventTypes: types("*", joinedV1)}, hookRules),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidEventTypes}},
		{name: "a description with a control character is refused", given: team(),
			when:  createHook(owner, domain.WebhookSettings{URL: str(hookURL), Description: str("a\x00b")}, hookRules),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidDescription, says: "NUL"}},
		{name: "a too long description is refused", given: team(),
			when:  createHook(owner, domain.WebhookSettings{URL: str(hookURL), Description: str(strings.Repeat("d", 501))}, hookRules),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidDescription}},
		{name: "the update changes only what it names", given: withHook, when: updateHook(admin, "wh-1", domain.WebhookSettings{EventTypes: types("*")}),
			then: []domain.Event{domain.WebhookEndpointUpdated{Schema: 1, EndpointID: "wh-1", URL: hookURL, EventTypes: []string{"*"}, Description: "CRM"}}},
		{name: "an update that changes nothing has no event", given: withHook, when: updateHook(admin, "wh-1", domain.WebhookSettings{URL: str(hookURL)})},
		{name: "an unknown endpoint is not found", given: withHook, when: updateHook(admin, "wh-2", domain.WebhookSettings{URL: str(hookURL)}),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeWebhookNotFound, says: "wh-2"}},
		{name: "an agent may not update", given: withHook, when: updateHook(agent, "wh-1", domain.WebhookSettings{URL: str(hookURL)}),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden}},
		{name: "an admin disables an endpoint", given: withHook,
			when: func(p *domain.Property) ([]domain.Event, error) { return p.DisableWebhook(admin, "wh-1") },
			then: []domain.Event{hookDisabled(domain.WebhookDisabledByAdmin)}},
		{name: "disabling a disabled endpoint changes nothing", given: events(withHook, hookDisabled(domain.WebhookDisabledFailing)),
			when: func(p *domain.Property) ([]domain.Event, error) { return p.DisableWebhook(admin, "wh-1") }},
		{name: "an admin enables it again", given: events(withHook, hookDisabled(domain.WebhookDisabledFailing)),
			when: func(p *domain.Property) ([]domain.Event, error) { return p.EnableWebhook(admin, "wh-1") },
			then: []domain.Event{domain.WebhookEndpointEnabled{Schema: 1, EndpointID: "wh-1"}}},
		{name: "rotation keeps the old secret a day", given: withHook,
			when: func(p *domain.Property) ([]domain.Event, error) {
				return p.RotateWebhookSecret(owner, tNow, "wh-1", "nonce-2")
			},
			then: []domain.Event{domain.WebhookSecretRotated{Schema: 1, EndpointID: "wh-1", SecretNonce: "nonce-2", PreviousValidUntil: tNow.Add(24 * time.Hour)}}},
		{name: "an admin deletes an endpoint", given: withHook,
			when: func(p *domain.Property) ([]domain.Event, error) { return p.DeleteWebhook(admin, "wh-1") },
			then: []domain.Event{domain.WebhookEndpointDeleted{Schema: 1, EndpointID: "wh-1"}}},
		{name: "a deleted endpoint is not found", given: events(withHook, domain.WebhookEndpointDeleted{Schema: 1, EndpointID: "wh-1"}),
			when:  func(p *domain.Property) ([]domain.Event, error) { return p.DeleteWebhook(admin, "wh-1") },
			fails: failure{kind: domain.KindNotFound, code: domain.CodeWebhookNotFound}},
		{name: "Roster disables a failing endpoint and tells the enabled admins, the owner first", given: withHook,
			when: func(p *domain.Property) ([]domain.Event, error) { return p.DisableFailingWebhook("wh-1"), nil },
			then: []domain.Event{domain.WebhookEndpointDisabled{Schema: 1, EndpointID: "wh-1", Reason: domain.WebhookDisabledFailing,
				Notified: []string{owner.AccountID, admin.AccountID}}}},
		{name: "Roster leaves a disabled endpoint alone", given: events(withHook, hookDisabled(domain.WebhookDisabledByAdmin)),
			when: func(p *domain.Property) ([]domain.Event, error) { return p.DisableFailingWebhook("wh-1"), nil }},
	})
}

func TestWebhookURLsAreChecked(t *testing.T) {
	for _, tc := range []struct{ url, says string }{
		{"", "required"},
		{"hooks.example.com/roster", "https://"},
		{"ftp://hooks.example.com/", "https://"},
		{"https:///path", "no host"},
		{"https://user:pw@hooks.example.com/", "user name or password"},
		{"https://hooks.example.com/#frag", "fragment"},
		{"https://hooks.example.com:99999/", "port"},
		{"https://hooks.example.com/\x7f", "control character"},
		{"https://hooks.example.com/" + strings.Repeat("a", 2000), "longer than"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := given(team()...).CreateWebhook(owner, "wh-1", "n", domain.WebhookSettings{URL: str(tc.url)}, hookRules)
			check(t, got, err, nil, failure{kind: domain.KindInvalid, code: domain.CodeInvalidWebhookURL, says: tc.says})
		})
	}
}

func TestWebhookStateFollowsItsEvents(t *testing.T) {
	p := given(events(team(), hookCreated(),
		domain.WebhookSecretRotated{Schema: 1, EndpointID: "wh-1", SecretNonce: "nonce-2", PreviousValidUntil: later},
		hookDisabled(domain.WebhookDisabledFailing))...)
	list, err := p.ListWebhooks(admin)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("got %d endpoints, want 1", len(list))
	}
	w := list[0]
	want := domain.WebhookEndpoint{ID: "wh-1", URL: hookURL, EventTypes: []string{joinedV1}, Description: "CRM",
		DisabledReason: domain.WebhookDisabledFailing, SecretNonce: "nonce-2", PreviousNonce: "nonce-wh-1", PreviousUntil: later,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if diff := cmp.Diff(want, *w); diff != "" {
		t.Errorf("endpoint (-want +got):\n%s", diff)
	}
	if !w.Wants(joinedV1) || w.Wants(leftV1) {
		t.Errorf("an endpoint asking for %v wants the wrong types", w.EventTypes)
	}
	if _, err := p.ListWebhooks(agent); domain.CodeOf(err) != domain.CodeForbidden {
		t.Errorf("an agent listed the endpoints: %v", err)
	}
}

func TestTooManyWebhooksAreRefused(t *testing.T) {
	h := team()
	for i := range domain.MaxWebhooksPerProperty {
		c := hookCreated()
		c.EndpointID = "wh-" + strings.Repeat("x", i+2)
		h = append(h, c)
	}
	got, err := given(h...).CreateWebhook(owner, "wh-new", "n", domain.WebhookSettings{URL: str(hookURL)}, hookRules)
	check(t, got, err, nil, failure{kind: domain.KindConflict, code: domain.CodeTooManyWebhooks})
}
