package domain_test

import (
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
)

// sampleEvents holds one fully populated event of every type, under the
// stored type name it must keep: renaming one is a migration, not a refactor.
func sampleEvents() map[string]domain.Event {
	// A zone other than UTC, to show that the instant survives the trip.
	expires := time.Date(2025, 3, 8, 10, 30, 0, 123000000, time.FixedZone("CET", 3600))
	return map[string]domain.Event{
		"PropertyCreated": domain.PropertyCreated{Schema: 1, PropertyID: pid, Name: "Shop ✓", OwnerID: owner.AccountID},
		"MemberInvited": domain.MemberInvited{Schema: 1, InvitationID: "inv-1", Email: pat.Email, Role: domain.RoleAdmin,
			InvitedBy: owner.AccountID, ExpiresAt: expires, TokenNonce: "n1", LifetimeSeconds: 86400},
		"InvitationResent":   domain.InvitationResent{Schema: 1, InvitationID: "inv-1", ExpiresAt: expires, TokenNonce: "n2"},
		"InvitationRevoked":  domain.InvitationRevoked{Schema: 1, InvitationID: "inv-1"},
		"InvitationDeclined": domain.InvitationDeclined{Schema: 1, InvitationID: "inv-1"},
		"InvitationAccepted": domain.InvitationAccepted{Schema: 1, InvitationID: "inv-1", AccountID: pat.AccountID},
		"MemberJoined": domain.MemberJoined{Schema: 1, AccountID: pat.AccountID, Email: pat.Email,
			Role: domain.RoleAgent, InvitationID: "inv-1"},
		"MemberRoleChanged": domain.MemberRoleChanged{Schema: 1, AccountID: pat.AccountID,
			From: domain.RoleAgent, To: domain.RoleAdmin},
		"MemberAccessDisabled": domain.MemberAccessDisabled{Schema: 1, AccountID: pat.AccountID},
		"MemberAccessEnabled":  domain.MemberAccessEnabled{Schema: 1, AccountID: pat.AccountID},
		"MemberRemoved":        domain.MemberRemoved{Schema: 1, AccountID: pat.AccountID},
		"MemberLeft":           domain.MemberLeft{Schema: 1, AccountID: pat.AccountID},
		"OwnershipTransferred": domain.OwnershipTransferred{Schema: 1, From: owner.AccountID, To: admin.AccountID},
		"InvitationPolicyChanged": domain.InvitationPolicyChanged{Schema: 1, DefaultLifetimeSeconds: 3 * 86400,
			MaximumLifetimeSeconds: 14 * 86400},
		"WebhookEndpointCreated": domain.WebhookEndpointCreated{Schema: 1, EndpointID: "wh-1", URL: "https://hooks.example.com/roster",
			EventTypes: []string{"roster.member.joined.v1"}, Description: "CRM", SecretNonce: "n3"},
		"WebhookEndpointUpdated": domain.WebhookEndpointUpdated{Schema: 1, EndpointID: "wh-1", URL: "https://hooks.example.com/v2",
			EventTypes: []string{"*"}, Description: "CRM v2"},
		"WebhookEndpointDisabled": domain.WebhookEndpointDisabled{Schema: 1, EndpointID: "wh-1", Reason: domain.WebhookDisabledFailing},
		"WebhookEndpointEnabled":  domain.WebhookEndpointEnabled{Schema: 1, EndpointID: "wh-1"},
		"WebhookSecretRotated":    domain.WebhookSecretRotated{Schema: 1, EndpointID: "wh-1", SecretNonce: "n4", PreviousValidUntil: expires},
		"WebhookEndpointDeleted":  domain.WebhookEndpointDeleted{Schema: 1, EndpointID: "wh-1"},
		"RoleCreated": domain.RoleCreated{Schema: 1, RoleID: "role-1", Name: "Support lead",
			Permissions: []domain.Permission{domain.PermRespondToChats, domain.PermManageInvitations}},
		"RoleRenamed": domain.RoleRenamed{Schema: 1, RoleID: "role-1", From: "Support lead", To: "Lead ✓"},
		"RolePermissionsChanged": domain.RolePermissionsChanged{Schema: 1, RoleID: "role-1",
			From: []domain.Permission{domain.PermRespondToChats}, To: []domain.Permission{domain.PermViewMembers}},
		"RoleDeleted": domain.RoleDeleted{Schema: 1, RoleID: "role-1", Name: "Lead ✓"},

		"MemberAccessUntilChanged": domain.MemberAccessUntilChanged{Schema: 1, AccountID: pat.AccountID, AccessUntil: &expires, By: owner.AccountID},
		"MemberAccessExpired":      domain.MemberAccessExpired{Schema: 1, AccountID: pat.AccountID, AccessUntil: expires},
		"MemberAccessEndingSoon":   domain.MemberAccessEndingSoon{Schema: 1, AccountID: pat.AccountID, AccessUntil: expires, BeforeSeconds: 86400},
	}
}

func TestCodecCoversEveryEventType(t *testing.T) {
	var sampled []string
	for name := range sampleEvents() {
		sampled = append(sampled, name)
	}
	known := domain.EventTypes()
	sort.Strings(sampled)
	sort.Strings(known)
	if diff := cmp.Diff(sampled, known); diff != "" {
		t.Errorf("every event type needs a round-trip sample (-sampled +known):\n%s", diff)
	}
}

func TestEveryEventRoundTrips(t *testing.T) {
	for name, e := range sampleEvents() {
		t.Run(name+" round-trips", func(t *testing.T) {
			typ, data, err := domain.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			if typ != name || e.EventType() != name {
				t.Errorf("stored type = %q (EventType %q), want %q", typ, e.EventType(), name)
			}
			back, err := domain.DecodeEvent(typ, data)
			if err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			if diff := cmp.Diff(e, back); diff != "" {
				t.Errorf("round trip mismatch (-encoded +decoded):\n%s", diff)
			}
		})
	}
}

// The payloads' field names are the stored format too.
func TestStoredPayloads(t *testing.T) {
	tests := []struct {
		name string
		e    domain.Event
		want string
	}{
		{"property created", domain.PropertyCreated{Schema: 1, PropertyID: "p", Name: "Shop", OwnerID: "o"},
			`{"schema":1,"property_id":"p","name":"Shop","owner_id":"o"}`},
		{"member invited", domain.MemberInvited{Schema: 1, InvitationID: "i", Email: "a@b.c", Role: domain.RoleAgent,
			InvitedBy: "o", ExpiresAt: t0, TokenNonce: "n"},
			`{"schema":1,"invitation_id":"i","email":"a@b.c","role":"agent","invited_by":"o","expires_at":"2025-03-01T09:00:00Z","token_nonce":"n"}`},
		{"owner joins without an invitation id", domain.MemberJoined{Schema: 1, AccountID: "o", Email: "a@b.c", Role: domain.RoleAdmin},
			`{"schema":1,"account_id":"o","email":"a@b.c","role":"admin"}`},
		{"ownership transferred", domain.OwnershipTransferred{Schema: 1, From: "o", To: "a"},
			`{"schema":1,"from":"o","to":"a"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, data, err := domain.EncodeEvent(tt.e)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.want {
				t.Errorf("payload = %s\nwant      %s", data, tt.want)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name, typ, data string
	}{
		{"an unknown type", "MemberPromoted", `{"schema":1,"account_id":"a"}`},
		{"a type spelled in another case", "memberleft", `{"schema":1,"account_id":"a"}`},
		{"an empty type", "", `{"schema":1}`},
		{"schema 0", "MemberLeft", `{"schema":0,"account_id":"a"}`},
		{"a missing schema", "MemberLeft", `{"account_id":"a"}`},
		{"schema 2, newer than this build", "MemberLeft", `{"schema":2,"account_id":"a"}`},
		{"a negative schema", "MemberLeft", `{"schema":-1,"account_id":"a"}`},
		{"a null payload", "MemberLeft", `null`},
		{"malformed JSON", "MemberLeft", `{"schema":1,`},
		{"a field of the wrong type", "MemberInvited", `{"schema":1,"expires_at":"next week"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			if e, err := domain.DecodeEvent(tt.typ, []byte(tt.data)); err == nil {
				t.Errorf("DecodeEvent(%q, %s) = %#v, want an error", tt.typ, tt.data, e)
			}
		})
	}
}

func TestStreamName(t *testing.T) {
	if got := domain.StreamName("prop-1"); got != "property-prop-1" {
		t.Errorf("StreamName = %q, want property-prop-1", got)
	}
	if domain.StreamPrefix != "property-" {
		t.Errorf("StreamPrefix = %q, want property-", domain.StreamPrefix)
	}
}
