package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Stored event type names. They are written into the event store, so they
// never change with a Go rename: renaming one is a migration.
const (
	TypePropertyCreated         = "PropertyCreated"
	TypeMemberInvited           = "MemberInvited"
	TypeInvitationResent        = "InvitationResent"
	TypeInvitationRevoked       = "InvitationRevoked"
	TypeInvitationDeclined      = "InvitationDeclined"
	TypeInvitationAccepted      = "InvitationAccepted"
	TypeMemberJoined            = "MemberJoined"
	TypeMemberRoleChanged       = "MemberRoleChanged"
	TypeMemberAccessDisabled    = "MemberAccessDisabled"
	TypeMemberAccessEnabled     = "MemberAccessEnabled"
	TypeMemberRemoved           = "MemberRemoved"
	TypeMemberLeft              = "MemberLeft"
	TypeOwnershipTransferred    = "OwnershipTransferred"
	TypeInvitationPolicyChanged = "InvitationPolicyChanged"

	TypeMemberAccessUntilChanged = "MemberAccessUntilChanged"
	TypeMemberAccessExpired      = "MemberAccessExpired"
	TypeMemberAccessEndingSoon   = "MemberAccessEndingSoon"

	TypeWebhookEndpointCreated  = "WebhookEndpointCreated"
	TypeWebhookEndpointUpdated  = "WebhookEndpointUpdated"
	TypeWebhookEndpointDisabled = "WebhookEndpointDisabled"
	TypeWebhookEndpointEnabled  = "WebhookEndpointEnabled"
	TypeWebhookSecretRotated    = "WebhookSecretRotated"
	TypeWebhookEndpointDeleted  = "WebhookEndpointDeleted"

	TypeRoleCreated            = "RoleCreated"
	TypeRoleRenamed            = "RoleRenamed"
	TypeRolePermissionsChanged = "RolePermissionsChanged"
	TypeRoleDeleted            = "RoleDeleted"
)

// SchemaV1 is the payload schema every event is written with today. A reader
// refuses a schema newer than it knows rather than guess at its meaning.
const SchemaV1 = 1

// Event is one fact about a property. Payloads hold no secrets: an
// invitation carries a nonce from which only the server key derives a token.
type Event interface {
	EventType() string
}

// PropertyCreated starts a property's stream; the creator becomes its owner.
type PropertyCreated struct {
	Schema     int    `json:"schema"`
	PropertyID string `json:"property_id"`
	Name       string `json:"name"`
	OwnerID    string `json:"owner_id"`
}

// MemberInvited records a pending invitation.
type MemberInvited struct {
	Schema       int       `json:"schema"`
	InvitationID string    `json:"invitation_id"`
	Email        string    `json:"email"`
	Role         Role      `json:"role"`
	InvitedBy    string    `json:"invited_by"`
	ExpiresAt    time.Time `json:"expires_at"`
	TokenNonce   string    `json:"token_nonce"`
	// LifetimeSeconds is the lifetime the inviter chose, or 0 when they took
	// the property's default: a resend renews a chosen lifetime and gives a
	// defaulted one the default of its day (Property.Resend).
	LifetimeSeconds int64 `json:"lifetime_seconds,omitempty"`
	// AccessUntil is when the membership this invitation offers ends; nil
	// when it does not.
	AccessUntil *time.Time `json:"access_until,omitempty"`
}

// InvitationResent replaces an invitation's token and expiry.
type InvitationResent struct {
	Schema       int       `json:"schema"`
	InvitationID string    `json:"invitation_id"`
	ExpiresAt    time.Time `json:"expires_at"`
	TokenNonce   string    `json:"token_nonce"`
}

// InvitationRevoked records that an admin withdrew a pending invitation.
type InvitationRevoked struct {
	Schema       int    `json:"schema"`
	InvitationID string `json:"invitation_id"`
}

// InvitationDeclined records that the invitee said no.
type InvitationDeclined struct {
	Schema       int    `json:"schema"`
	InvitationID string `json:"invitation_id"`
}

// InvitationAccepted records that the invitee said yes; MemberJoined follows.
type InvitationAccepted struct {
	Schema       int    `json:"schema"`
	InvitationID string `json:"invitation_id"`
	AccountID    string `json:"account_id"`
}

// MemberJoined adds a member: the owner at creation, or an invitee on accepting.
type MemberJoined struct {
	Schema       int    `json:"schema"`
	AccountID    string `json:"account_id"`
	Email        string `json:"email"`
	Role         Role   `json:"role"`
	InvitationID string `json:"invitation_id,omitempty"`
	// AccessUntil is when the membership ends, inherited from the
	// invitation; nil when it does not.
	AccessUntil *time.Time `json:"access_until,omitempty"`
}

// MemberRoleChanged records a role change, with the role before it.
type MemberRoleChanged struct {
	Schema    int    `json:"schema"`
	AccountID string `json:"account_id"`
	From      Role   `json:"from"`
	To        Role   `json:"to"`
}

// MemberAccessDisabled records that a member lost every permission.
type MemberAccessDisabled struct {
	Schema    int    `json:"schema"`
	AccountID string `json:"account_id"`
}

// MemberAccessEnabled records that a disabled member got their role's permissions back.
type MemberAccessEnabled struct {
	Schema    int    `json:"schema"`
	AccountID string `json:"account_id"`
}

// MemberRemoved records that an admin removed a member.
type MemberRemoved struct {
	Schema    int    `json:"schema"`
	AccountID string `json:"account_id"`
}

// MemberLeft records that a member left by themselves.
type MemberLeft struct {
	Schema    int    `json:"schema"`
	AccountID string `json:"account_id"`
}

// OwnershipTransferred records that ownership moved from one admin to another.
type OwnershipTransferred struct {
	Schema int    `json:"schema"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// WebhookEndpointCreated adds a webhook endpoint. Its signing secret is
// derived from SecretNonce under a server key, never stored.
type WebhookEndpointCreated struct {
	Schema      int      `json:"schema"`
	EndpointID  string   `json:"endpoint_id"`
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
	SecretNonce string   `json:"secret_nonce"`
}

// WebhookEndpointUpdated records an endpoint's settings after a change.
type WebhookEndpointUpdated struct {
	Schema      int      `json:"schema"`
	EndpointID  string   `json:"endpoint_id"`
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
}

// WebhookEndpointDisabled stops an endpoint's deliveries; Reason says who
// decided (WebhookDisabledByAdmin, WebhookDisabledFailing). Notified are
// the accounts told of a disabling Roster decided: the enabled admins then.
type WebhookEndpointDisabled struct {
	Schema     int      `json:"schema"`
	EndpointID string   `json:"endpoint_id"`
	Reason     string   `json:"reason"`
	Notified   []string `json:"notified,omitempty"`
}

// WebhookEndpointEnabled resumes a disabled endpoint's deliveries.
type WebhookEndpointEnabled struct {
	Schema     int    `json:"schema"`
	EndpointID string `json:"endpoint_id"`
}

// WebhookSecretRotated gives an endpoint a new secret nonce; the previous
// secret still signs until PreviousValidUntil.
type WebhookSecretRotated struct {
	Schema             int       `json:"schema"`
	EndpointID         string    `json:"endpoint_id"`
	SecretNonce        string    `json:"secret_nonce"`
	PreviousValidUntil time.Time `json:"previous_valid_until"`
}

// WebhookEndpointDeleted removes an endpoint.
type WebhookEndpointDeleted struct {
	Schema     int    `json:"schema"`
	EndpointID string `json:"endpoint_id"`
}

// InvitationPolicyChanged records a property's new invitation policy: the
// lifetime of an invitation whose inviter chooses none, and the longest one
// an inviter may choose, both in seconds.
type InvitationPolicyChanged struct {
	Schema                 int   `json:"schema"`
	DefaultLifetimeSeconds int64 `json:"default_lifetime_seconds"`
	MaximumLifetimeSeconds int64 `json:"maximum_lifetime_seconds"`
}

// RoleCreated adds a custom role to the property. RoleID never changes:
// members and invitations hold it, so a rename keeps who holds the role.
type RoleCreated struct {
	Schema      int          `json:"schema"`
	RoleID      Role         `json:"role_id"`
	Name        string       `json:"name"`
	Permissions []Permission `json:"permissions"`
}

// RoleRenamed gives a custom role a new name, with the name before it.
type RoleRenamed struct {
	Schema int    `json:"schema"`
	RoleID Role   `json:"role_id"`
	From   string `json:"from"`
	To     string `json:"to"`
}

// RolePermissionsChanged replaces a custom role's permissions, with those
// before it; every holder of the role has the new ones from this event on.
type RolePermissionsChanged struct {
	Schema int          `json:"schema"`
	RoleID Role         `json:"role_id"`
	From   []Permission `json:"from"`
	To     []Permission `json:"to"`
}

// RoleDeleted removes a custom role nobody held.
type RoleDeleted struct {
	Schema int    `json:"schema"`
	RoleID Role   `json:"role_id"`
	Name   string `json:"name"`
}

// MemberAccessUntilChanged records when a member's access ends, as an admin
// (By) set it; a nil AccessUntil means it ends no more.
type MemberAccessUntilChanged struct {
	Schema      int        `json:"schema"`
	AccountID   string     `json:"account_id"`
	AccessUntil *time.Time `json:"access_until"`
	By          string     `json:"by"`
}

// MemberAccessExpired records that a member's access ended at AccessUntil:
// the member is disabled, as by MemberAccessDisabled.
type MemberAccessExpired struct {
	Schema      int       `json:"schema"`
	AccountID   string    `json:"account_id"`
	AccessUntil time.Time `json:"access_until"`
}

// MemberAccessEndingSoon records that the member was told their access ends
// at AccessUntil, BeforeSeconds ahead of it.
type MemberAccessEndingSoon struct {
	Schema        int       `json:"schema"`
	AccountID     string    `json:"account_id"`
	AccessUntil   time.Time `json:"access_until"`
	BeforeSeconds int64     `json:"before_seconds"`
}

// EventType implementations: the stored names above, never derived from Go names.
func (PropertyCreated) EventType() string         { return TypePropertyCreated }
func (MemberInvited) EventType() string           { return TypeMemberInvited }
func (InvitationResent) EventType() string        { return TypeInvitationResent }
func (InvitationRevoked) EventType() string       { return TypeInvitationRevoked }
func (InvitationDeclined) EventType() string      { return TypeInvitationDeclined }
func (InvitationAccepted) EventType() string      { return TypeInvitationAccepted }
func (MemberJoined) EventType() string            { return TypeMemberJoined }
func (MemberRoleChanged) EventType() string       { return TypeMemberRoleChanged }
func (MemberAccessDisabled) EventType() string    { return TypeMemberAccessDisabled }
func (MemberAccessEnabled) EventType() string     { return TypeMemberAccessEnabled }
func (MemberRemoved) EventType() string           { return TypeMemberRemoved }
func (MemberLeft) EventType() string              { return TypeMemberLeft }
func (OwnershipTransferred) EventType() string    { return TypeOwnershipTransferred }
func (InvitationPolicyChanged) EventType() string { return TypeInvitationPolicyChanged }

func (MemberAccessUntilChanged) EventType() string { return TypeMemberAccessUntilChanged }
func (MemberAccessExpired) EventType() string      { return TypeMemberAccessExpired }
func (MemberAccessEndingSoon) EventType() string   { return TypeMemberAccessEndingSoon }

func (WebhookEndpointCreated) EventType() string  { return TypeWebhookEndpointCreated }
func (WebhookEndpointUpdated) EventType() string  { return TypeWebhookEndpointUpdated }
func (WebhookEndpointDisabled) EventType() string { return TypeWebhookEndpointDisabled }
func (WebhookEndpointEnabled) EventType() string  { return TypeWebhookEndpointEnabled }
func (WebhookSecretRotated) EventType() string    { return TypeWebhookSecretRotated }
func (WebhookEndpointDeleted) EventType() string  { return TypeWebhookEndpointDeleted }

func (RoleCreated) EventType() string            { return TypeRoleCreated }
func (RoleRenamed) EventType() string            { return TypeRoleRenamed }
func (RolePermissionsChanged) EventType() string { return TypeRolePermissionsChanged }
func (RoleDeleted) EventType() string            { return TypeRoleDeleted }

// decoders maps each stored type name to a decoder of its payload.
var decoders = map[string]func([]byte) (Event, error){
	TypePropertyCreated:         decodeAs[PropertyCreated],
	TypeMemberInvited:           decodeAs[MemberInvited],
	TypeInvitationResent:        decodeAs[InvitationResent],
	TypeInvitationRevoked:       decodeAs[InvitationRevoked],
	TypeInvitationDeclined:      decodeAs[InvitationDeclined],
	TypeInvitationAccepted:      decodeAs[InvitationAccepted],
	TypeMemberJoined:            decodeAs[MemberJoined],
	TypeMemberRoleChanged:       decodeAs[MemberRoleChanged],
	TypeMemberAccessDisabled:    decodeAs[MemberAccessDisabled],
	TypeMemberAccessEnabled:     decodeAs[MemberAccessEnabled],
	TypeMemberRemoved:           decodeAs[MemberRemoved],
	TypeMemberLeft:              decodeAs[MemberLeft],
	TypeOwnershipTransferred:    decodeAs[OwnershipTransferred],
	TypeInvitationPolicyChanged: decodeAs[InvitationPolicyChanged],

	TypeMemberAccessUntilChanged: decodeAs[MemberAccessUntilChanged],
	TypeMemberAccessExpired:      decodeAs[MemberAccessExpired],
	TypeMemberAccessEndingSoon:   decodeAs[MemberAccessEndingSoon],

	TypeWebhookEndpointCreated:  decodeAs[WebhookEndpointCreated],
	TypeWebhookEndpointUpdated:  decodeAs[WebhookEndpointUpdated],
	TypeWebhookEndpointDisabled: decodeAs[WebhookEndpointDisabled],
	TypeWebhookEndpointEnabled:  decodeAs[WebhookEndpointEnabled],
	TypeWebhookSecretRotated:    decodeAs[WebhookSecretRotated],
	TypeWebhookEndpointDeleted:  decodeAs[WebhookEndpointDeleted],

	TypeRoleCreated:            decodeAs[RoleCreated],
	TypeRoleRenamed:            decodeAs[RoleRenamed],
	TypeRolePermissionsChanged: decodeAs[RolePermissionsChanged],
	TypeRoleDeleted:            decodeAs[RoleDeleted],
}

func decodeAs[T Event](data []byte) (Event, error) {
	var e T
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	var probe struct {
		Schema int `json:"schema"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, err
	}
	if probe.Schema < 1 || probe.Schema > SchemaV1 {
		return nil, fmt.Errorf("schema %d is not one this build reads (1..%d)", probe.Schema, SchemaV1)
	}
	return e, nil
}

// EncodeEvent returns the stored type name and JSON payload of e.
func EncodeEvent(e Event) (string, []byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	return e.EventType(), data, nil
}

// DecodeEvent turns a stored type name and payload back into an Event.
// It fails for an unknown type, malformed JSON or an unknown schema version.
func DecodeEvent(eventType string, data []byte) (Event, error) {
	dec, ok := decoders[eventType]
	if !ok {
		return nil, fmt.Errorf("decode event: unknown type %q", eventType)
	}
	e, err := dec(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	return e, nil
}

// EventTypes lists every stored type name this build knows.
func EventTypes() []string {
	types := make([]string, 0, len(decoders))
	for t := range decoders {
		types = append(types, t)
	}
	return types
}

// Metadata travels with every event: who caused it, from where, and why.
type Metadata struct {
	EventID       string    `json:"event_id"`
	CommandID     string    `json:"command_id"`
	CorrelationID string    `json:"correlation_id"`
	CausationID   string    `json:"causation_id"`
	ActorID       string    `json:"actor_id"`
	ActorEmail    string    `json:"actor_email"`
	OccurredAt    time.Time `json:"occurred_at"`
	ClientIP      string    `json:"client_ip,omitempty"`
	UserAgent     string    `json:"user_agent,omitempty"`
	Schema        int       `json:"schema"`
	// RequestHash fingerprints the request that carried an idempotency key,
	// so the same key reused for a different request is recognised.
	RequestHash string `json:"request_hash,omitempty"`
	// ActorEmailVerified says whether the actor's token vouched for
	// ActorEmail. Every event written since it was recorded has it; nil
	// means an older event (see ShownActorEmail).
	ActorEmailVerified *bool `json:"actor_email_verified,omitempty"`
}

// ShownActorEmail is the actor's email as it may be shown to others as who
// acted (the inviter in a mail, the actor in the audit): only an email the
// token verified, since anyone can claim an unverified one. It is "" for an
// unverified email; show the account ID (ActorID) then.
//
// An event written before the verification was recorded shows the email as
// it always did: rewriting how history reads would change rebuilt audit rows
// that compliance has already exported, and those events' mails are sent.
// No new event lacks the field, so a caller cannot get that treatment.
func (m Metadata) ShownActorEmail() string {
	if m.ActorEmailVerified != nil && !*m.ActorEmailVerified {
		return ""
	}
	return m.ActorEmail
}

// StreamName is the event store stream of a property.
func StreamName(propertyID string) string { return "property-" + propertyID }

// StreamPrefix is what every property stream name starts with.
const StreamPrefix = "property-"
