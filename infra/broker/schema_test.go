package broker_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/broker"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// Values that must never leave Roster in an integration event.
const (
	secretNonce     = "nonce-NEVER-PUBLISHED"
	inviteeEmail    = "invitee@example.com"
	memberEmail     = "member@example.com"
	actorEmail      = "actor@example.com"
	actorIP         = "203.0.113.9"
	actorUserAgent  = "SecretAgent/1.0"
	fixedOccurredAt = "2026-03-01T10:00:00Z"
	hookURL         = "https://hooks.example.com/receiver-token-NEVER-PUBLISHED"
)

var expiresAt = time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)

// sample is one internal event and the public JSON it must become (with
// id, occurred_at, property_id, revision, actor and correlation_id filled
// in by the test).
type sample struct {
	event   domain.Event
	typ     string
	subject string // the subject's tail after <prefix>.property.<pid>.
	public  string // "subject" and "data" of the expected envelope
}

func samples() []sample {
	return []sample{
		{domain.PropertyCreated{Schema: 1, PropertyID: "p", Name: "Acme chat", OwnerID: "acc-owner"},
			broker.TypePropertyCreated, "property.created.v1",
			`"subject": {}, "data": {"name": "Acme chat", "owner_account_id": "acc-owner"}`},
		{domain.MemberInvited{Schema: 1, InvitationID: "inv-1", Email: inviteeEmail, Role: domain.RoleAgent, InvitedBy: "acc-owner", ExpiresAt: expiresAt, TokenNonce: secretNonce},
			broker.TypeMemberInvited, "member.invited.v1",
			`"subject": {"invitation_id": "inv-1"}, "data": {"role": "agent", "expires_at": "2026-03-08T10:00:00Z"}`},
		{domain.InvitationResent{Schema: 1, InvitationID: "inv-1", ExpiresAt: expiresAt, TokenNonce: secretNonce},
			broker.TypeInvitationResent, "invitation.resent.v1",
			`"subject": {"invitation_id": "inv-1"}, "data": {"expires_at": "2026-03-08T10:00:00Z"}`},
		{domain.InvitationRevoked{Schema: 1, InvitationID: "inv-1"},
			broker.TypeInvitationRevoked, "invitation.revoked.v1",
			`"subject": {"invitation_id": "inv-1"}, "data": {}`},
		{domain.InvitationDeclined{Schema: 1, InvitationID: "inv-2"},
			broker.TypeInvitationDeclined, "invitation.declined.v1",
			`"subject": {"invitation_id": "inv-2"}, "data": {}`},
		{domain.InvitationAccepted{Schema: 1, InvitationID: "inv-3", AccountID: "acc-new"},
			broker.TypeInvitationAccepted, "invitation.accepted.v1",
			`"subject": {"account_id": "acc-new", "invitation_id": "inv-3"}, "data": {}`},
		{domain.MemberJoined{Schema: 1, AccountID: "acc-new", Email: memberEmail, Role: domain.RoleAgent, InvitationID: "inv-3"},
			broker.TypeMemberJoined, "member.joined.v1",
			`"subject": {"account_id": "acc-new"}, "data": {"role": "agent", "invitation_id": "inv-3"}`},
		{domain.MemberRoleChanged{Schema: 1, AccountID: "acc-new", From: domain.RoleAgent, To: domain.RoleAdmin},
			broker.TypeMemberRoleChanged, "member.role_changed.v1",
			`"subject": {"account_id": "acc-new"}, "data": {"from": "agent", "to": "admin"}`},
		{domain.MemberAccessDisabled{Schema: 1, AccountID: "acc-new"},
			broker.TypeMemberAccessDisabled, "member.access_disabled.v1",
			`"subject": {"account_id": "acc-new"}, "data": {}`},
		{domain.MemberAccessEnabled{Schema: 1, AccountID: "acc-new"},
			broker.TypeMemberAccessEnabled, "member.access_enabled.v1",
			`"subject": {"account_id": "acc-new"}, "data": {}`},
		{domain.OwnershipTransferred{Schema: 1, From: "acc-owner", To: "acc-new"},
			broker.TypeOwnershipTransferred, "property.ownership_transferred.v1",
			`"subject": {"account_id": "acc-new"}, "data": {"from_account_id": "acc-owner", "to_account_id": "acc-new"}`},
		{domain.InvitationPolicyChanged{Schema: 1, DefaultLifetimeSeconds: 86400, MaximumLifetimeSeconds: 604800},
			broker.TypeInvitationPolicyChanged, "property.invitation_policy_changed.v1",
			`"subject": {}, "data": {"default_lifetime_seconds": 86400, "maximum_lifetime_seconds": 604800}`},
		{domain.RoleCreated{Schema: 1, RoleID: "role-1", Name: "Lead", Permissions: []domain.Permission{domain.PermRespondToChats, domain.PermManageMembers}},
			broker.TypeRoleCreated, "role.created.v1",
			`"subject": {"role_id": "role-1"}, "data": {"name": "Lead", "permissions": ["respond_to_chats", "manage_members"]}`},
		{domain.RoleRenamed{Schema: 1, RoleID: "role-1", From: "Lead", To: "Team lead"},
			broker.TypeRoleRenamed, "role.renamed.v1",
			`"subject": {"role_id": "role-1"}, "data": {"from": "Lead", "to": "Team lead"}`},
		{domain.RolePermissionsChanged{Schema: 1, RoleID: "role-1", From: []domain.Permission{domain.PermRespondToChats}, To: []domain.Permission{domain.PermViewMembers}},
			broker.TypeRolePermissionsChanged, "role.permissions_changed.v1",
			`"subject": {"role_id": "role-1"}, "data": {"from": ["respond_to_chats"], "to": ["view_members"]}`},
		{domain.RoleDeleted{Schema: 1, RoleID: "role-1", Name: "Team lead"},
			broker.TypeRoleDeleted, "role.deleted.v1",
			`"subject": {"role_id": "role-1"}, "data": {"name": "Team lead"}`},
		{domain.MemberRemoved{Schema: 1, AccountID: "acc-other"},
			broker.TypeMemberRemoved, "member.removed.v1",
			`"subject": {"account_id": "acc-other"}, "data": {}`},
		{domain.MemberLeft{Schema: 1, AccountID: "acc-owner"},
			broker.TypeMemberLeft, "member.left.v1",
			`"subject": {"account_id": "acc-owner"}, "data": {}`},
		{domain.WebhookEndpointCreated{Schema: 1, EndpointID: "wh-1", URL: hookURL, EventTypes: []string{"*"}, Description: "CRM", SecretNonce: secretNonce},
			broker.TypeWebhookEndpointCreated, "webhook_endpoint.created.v1",
			`"subject": {"endpoint_id": "wh-1"}, "data": {"event_types": ["*"]}`},
		{domain.WebhookEndpointUpdated{Schema: 1, EndpointID: "wh-1", URL: hookURL, EventTypes: []string{broker.TypeMemberJoined}, Description: "CRM"},
			broker.TypeWebhookEndpointUpdated, "webhook_endpoint.updated.v1",
			`"subject": {"endpoint_id": "wh-1"}, "data": {"event_types": ["roster.member.joined.v1"]}`},
		{domain.WebhookEndpointDisabled{Schema: 1, EndpointID: "wh-1", Reason: domain.WebhookDisabledFailing},
			broker.TypeWebhookEndpointDisabled, "webhook_endpoint.disabled.v1",
			`"subject": {"endpoint_id": "wh-1"}, "data": {"reason": "failing"}`},
		{domain.WebhookEndpointEnabled{Schema: 1, EndpointID: "wh-1"},
			broker.TypeWebhookEndpointEnabled, "webhook_endpoint.enabled.v1",
			`"subject": {"endpoint_id": "wh-1"}, "data": {}`},
		{domain.WebhookSecretRotated{Schema: 1, EndpointID: "wh-1", SecretNonce: secretNonce, PreviousValidUntil: expiresAt},
			broker.TypeWebhookSecretRotated, "webhook_endpoint.secret_rotated.v1",
			`"subject": {"endpoint_id": "wh-1"}, "data": {}`},
		{domain.WebhookEndpointDeleted{Schema: 1, EndpointID: "wh-1"},
			broker.TypeWebhookEndpointDeleted, "webhook_endpoint.deleted.v1",
			`"subject": {"endpoint_id": "wh-1"}, "data": {}`},
		{domain.MemberAccessUntilChanged{Schema: 1, AccountID: "acc-new", AccessUntil: &expiresAt, By: "acc-owner"},
			broker.TypeMemberAccessUntilChanged, "member.access_until_changed.v1",
			`"subject": {"account_id": "acc-new"}, "data": {"access_until": "2026-03-08T10:00:00Z"}`},
		{domain.MemberAccessExpired{Schema: 1, AccountID: "acc-new", AccessUntil: expiresAt},
			broker.TypeMemberAccessExpired, "member.access_expired.v1",
			`"subject": {"account_id": "acc-new"}, "data": {"access_until": "2026-03-08T10:00:00Z"}`},
		{domain.MemberAccessEndingSoon{Schema: 1, AccountID: "acc-new", AccessUntil: expiresAt, BeforeSeconds: 86400},
			broker.TypeMemberAccessEndingSoon, "member.access_ending_soon.v1",
			`"subject": {"account_id": "acc-new"}, "data": {"access_until": "2026-03-08T10:00:00Z", "before_seconds": 86400}`},
	}
}

func TestPublicTypesAreEveryMappedType(t *testing.T) {
	var mapped []string
	for _, s := range samples() {
		mapped = append(mapped, s.typ)
	}
	slices.Sort(mapped)
	got := broker.PublicTypes()
	slices.Sort(got)
	if diff := cmp.Diff(mapped, got); diff != "" {
		t.Errorf("PublicTypes (-mapped +listed):\n%s", diff)
	}
}

// record builds the stored form of e as the feed delivers it.
func record(tb testing.TB, pid, id string, revision uint64, e domain.Event) eventstore.RecordedEvent {
	tb.Helper()
	typ, data, err := domain.EncodeEvent(e)
	if err != nil {
		tb.Fatal(err)
	}
	occurred, _ := time.Parse(time.RFC3339, fixedOccurredAt)
	meta, err := json.Marshal(domain.Metadata{
		EventID: id, CommandID: "cmd-" + id, CorrelationID: "corr-" + id, CausationID: "cause-" + id,
		ActorID: "acc-actor", ActorEmail: actorEmail, OccurredAt: occurred,
		ClientIP: actorIP, UserAgent: actorUserAgent, Schema: 1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return eventstore.RecordedEvent{
		ID: id, StreamID: domain.StreamName(pid), Revision: revision, Type: typ, Data: data, Metadata: meta,
		Position:   eventstore.Position{Commit: revision + 1, Prepare: revision + 1},
		RecordedAt: occurred.Add(time.Second),
	}
}

func feedMessage(tb testing.TB, pid, id string, revision uint64, e domain.Event) *message.Message {
	tb.Helper()
	return feed.ToMessage(record(tb, pid, id, revision, e))
}

// wantJSON is the full public envelope expected for sample s.
func wantJSON(s sample, pid, id string, revision uint64) string {
	return `{"id": "` + id + `", "type": "` + s.typ + `", "occurred_at": "` + fixedOccurredAt + `",
		"property_id": "` + pid + `", "revision": ` + jsonNumber(revision) + `,
		"actor": {"account_id": "acc-actor"}, "correlation_id": "corr-` + id + `", ` + s.public + `}`
}

func jsonNumber(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// diffJSON compares two JSON documents by value.
func diffJSON(tb testing.TB, want, got string) string {
	tb.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		tb.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	return cmp.Diff(w, g)
}

// assertNoSecrets fails when body holds anything that must stay internal.
func assertNoSecrets(tb testing.TB, body string) {
	tb.Helper()
	for _, s := range []string{secretNonce, "token_nonce", "nonce", inviteeEmail, memberEmail, actorEmail, "@", actorIP, actorUserAgent, "cmd-", "cause-", hookURL, "CRM"} {
		if strings.Contains(body, s) {
			tb.Errorf("published body holds %q:\n%s", s, body)
		}
	}
}

func TestToIntegrationMapsEachTypeToItsPublicSchemaOnly(t *testing.T) {
	for i, s := range samples() {
		t.Run(s.typ, func(t *testing.T) {
			id := "evt-" + s.event.EventType()
			got, err := broker.ToIntegration(record(t, "prop-1", id, uint64(i), s.event))
			if err != nil {
				t.Fatalf("ToIntegration: %v", err)
			}
			body, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffJSON(t, wantJSON(s, "prop-1", id, uint64(i)), string(body)); d != "" {
				t.Errorf("public event (-want +got):\n%s", d)
			}
			assertNoSecrets(t, string(body))
		})
	}
}

func TestEveryDomainEventTypeHasAPublicMapping(t *testing.T) {
	covered := map[string]bool{}
	for _, s := range samples() {
		covered[s.event.EventType()] = true
	}
	for _, typ := range domain.EventTypes() {
		if !covered[typ] {
			t.Errorf("domain event %s has no sample here: map it in schema.go and document it in docs/integration-events.md", typ)
		}
	}
}

func TestToIntegrationRefuses(t *testing.T) {
	good := record(t, "prop-1", "evt-1", 0, domain.MemberLeft{Schema: 1, AccountID: "a"})
	tests := []struct {
		name     string
		edit     func(*eventstore.RecordedEvent)
		unmapped bool
	}{
		{"an unknown type, as unmapped", func(r *eventstore.RecordedEvent) { r.Type = "SomethingNew" }, true},
		{"an event outside a property stream, as unmapped", func(r *eventstore.RecordedEvent) { r.StreamID = "other-1" }, true},
		{"a payload of a newer schema", func(r *eventstore.RecordedEvent) { r.Data = []byte(`{"schema": 99, "account_id": "a"}`) }, false},
		{"malformed metadata", func(r *eventstore.RecordedEvent) { r.Metadata = []byte(`{`) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := good
			tt.edit(&rec)
			_, err := broker.ToIntegration(rec)
			if err == nil {
				t.Fatal("ToIntegration succeeded, want an error")
			}
			if got := errors.Is(err, broker.ErrUnmapped); got != tt.unmapped {
				t.Errorf("errors.Is(%v, ErrUnmapped) = %v, want %v", err, got, tt.unmapped)
			}
		})
	}
}

func TestSubjectForNamesPropertyAndTypeAndRefusesWildcards(t *testing.T) {
	tests := []struct {
		name, pid, want string
		wantErr         bool
	}{
		{"a uuid property", "0b7c6a9e-1f2d-4c3b-9a8e-7d6c5b4a3f21", "roster.property.0b7c6a9e-1f2d-4c3b-9a8e-7d6c5b4a3f21.member.invited.v1", false},
		{"a dot would split the token", "a.b", "", true},
		{"a wildcard", "*", "", true},
		{"a full wildcard", ">", "", true},
		{"a space", "a b", "", true},
		{"empty", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := broker.SubjectFor("roster", tt.pid, broker.TypeMemberInvited)
			if (err != nil) != tt.wantErr {
				t.Fatalf("SubjectFor error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("SubjectFor = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := broker.Config{Stream: "a.b", SubjectPrefix: "x.*", DuplicateWindow: -1, PublishTimeout: -1}.Validate()
	if err == nil {
		t.Fatal("Validate succeeded, want errors")
	}
	for _, want := range []string{"URL is empty", `stream name "a.b"`, `subject prefix "x.*"`, "duplicate window", "publish timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	if _, err := broker.NewForwarder(broker.Config{}, nil); err == nil {
		t.Error("NewForwarder without a URL succeeded, want an error")
	}
}
