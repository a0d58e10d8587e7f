package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// Public event types. They are a contract with other services: a change
// to a payload's meaning is a new version (…v2) published next to the old
// one, never an edit. docs/integration-events.md documents each.
const (
	TypePropertyCreated         = "roster.property.created.v1"
	TypeOwnershipTransferred    = "roster.property.ownership_transferred.v1"
	TypeMemberInvited           = "roster.member.invited.v1"
	TypeInvitationResent        = "roster.invitation.resent.v1"
	TypeInvitationRevoked       = "roster.invitation.revoked.v1"
	TypeInvitationDeclined      = "roster.invitation.declined.v1"
	TypeInvitationAccepted      = "roster.invitation.accepted.v1"
	TypeMemberJoined            = "roster.member.joined.v1"
	TypeMemberRoleChanged       = "roster.member.role_changed.v1"
	TypeMemberAccessDisabled    = "roster.member.access_disabled.v1"
	TypeMemberAccessEnabled     = "roster.member.access_enabled.v1"
	TypeMemberRemoved           = "roster.member.removed.v1"
	TypeMemberLeft              = "roster.member.left.v1"
	TypeInvitationPolicyChanged = "roster.property.invitation_policy_changed.v1"

	TypeWebhookEndpointCreated  = "roster.webhook_endpoint.created.v1"
	TypeWebhookEndpointUpdated  = "roster.webhook_endpoint.updated.v1"
	TypeWebhookEndpointDisabled = "roster.webhook_endpoint.disabled.v1"
	TypeWebhookEndpointEnabled  = "roster.webhook_endpoint.enabled.v1"
	TypeWebhookSecretRotated    = "roster.webhook_endpoint.secret_rotated.v1"
	TypeWebhookEndpointDeleted  = "roster.webhook_endpoint.deleted.v1"

	TypeRoleCreated              = "roster.role.created.v1"
	TypeRoleRenamed              = "roster.role.renamed.v1"
	TypeRolePermissionsChanged   = "roster.role.permissions_changed.v1"
	TypeRoleDeleted              = "roster.role.deleted.v1"
	TypeMemberAccessUntilChanged = "roster.member.access_until_changed.v1"
	TypeMemberAccessExpired      = "roster.member.access_expired.v1"
	TypeMemberAccessEndingSoon   = "roster.member.access_ending_soon.v1"
)

// PublicTypes lists every public type, sorted: what a webhook endpoint
// may ask for.
func PublicTypes() []string {
	return []string{TypeInvitationAccepted, TypeInvitationDeclined, TypeInvitationResent, TypeInvitationRevoked,
		TypeMemberAccessDisabled, TypeMemberAccessEnabled, TypeMemberInvited, TypeMemberJoined, TypeMemberLeft,
		TypeMemberRemoved, TypeMemberRoleChanged, TypePropertyCreated, TypeInvitationPolicyChanged, TypeOwnershipTransferred,
		TypeWebhookEndpointCreated, TypeWebhookEndpointDeleted, TypeWebhookEndpointDisabled, TypeWebhookEndpointEnabled,
		TypeWebhookSecretRotated, TypeWebhookEndpointUpdated,
		TypeRoleCreated, TypeRoleDeleted, TypeRolePermissionsChanged, TypeRoleRenamed,
		TypeMemberAccessUntilChanged, TypeMemberAccessExpired, TypeMemberAccessEndingSoon}
}

// ErrUnmapped is matched by errors.Is when an event has a type with no
// public mapping, or is not from a property stream.
var ErrUnmapped = errors.New("no integration event for this event")

// Event is the public envelope of every integration event. It carries
// account and invitation IDs, never e-mail addresses, IP addresses, user
// agents or invitation tokens and their nonces.
type Event struct {
	// ID is the internal event's ID; it is also the JetStream message ID.
	ID string `json:"id"`
	// Type is one of the Type* constants.
	Type string `json:"type"`
	// OccurredAt is when the command that caused the event ran.
	OccurredAt time.Time `json:"occurred_at"`
	// PropertyID names the property the event belongs to.
	PropertyID string `json:"property_id"`
	// Revision is the event's position in its property's history, from 0;
	// it grows by one per event, so a consumer can order and spot gaps.
	Revision uint64 `json:"revision"`
	// Actor is who caused the event.
	Actor Actor `json:"actor"`
	// Subject is what the event is about.
	Subject Subject `json:"subject"`
	// Data holds the type's own fields; an empty object when it has none.
	Data any `json:"data"`
	// CorrelationID ties the event to the request that caused it.
	CorrelationID string `json:"correlation_id,omitempty"`
}

// Actor identifies who caused an event, by account ID only.
type Actor struct {
	AccountID string `json:"account_id"`
}

// Subject identifies the member, invitation or webhook endpoint an event
// is about; a property-wide event leaves them empty.
type Subject struct {
	AccountID    string `json:"account_id,omitempty"`
	InvitationID string `json:"invitation_id,omitempty"`
	EndpointID   string `json:"endpoint_id,omitempty"`
	// RoleID names a custom role of the property; members' role fields
	// hold it too.
	RoleID string `json:"role_id,omitempty"`
}

// Data of the public types; types without one publish an empty object.
type (
	// PropertyCreatedData is the data of TypePropertyCreated.
	PropertyCreatedData struct {
		Name           string `json:"name"`
		OwnerAccountID string `json:"owner_account_id"`
	}
	// OwnershipTransferredData is the data of TypeOwnershipTransferred.
	OwnershipTransferredData struct {
		FromAccountID string `json:"from_account_id"`
		ToAccountID   string `json:"to_account_id"`
	}
	// InvitationData is the data of TypeMemberInvited.
	InvitationData struct {
		Role      string    `json:"role"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	// InvitationResentData is the data of TypeInvitationResent.
	InvitationResentData struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	// MemberJoinedData is the data of TypeMemberJoined.
	MemberJoinedData struct {
		Role         string `json:"role"`
		InvitationID string `json:"invitation_id,omitempty"`
	}
	// InvitationPolicyData is the data of TypeInvitationPolicyChanged: the
	// property's new invitation lifetimes, in seconds.
	InvitationPolicyData struct {
		DefaultLifetimeSeconds int64 `json:"default_lifetime_seconds"`
		MaximumLifetimeSeconds int64 `json:"maximum_lifetime_seconds"`
	}
	// AccessUntilData is the data of TypeMemberAccessUntilChanged (a nil
	// AccessUntil: the access ends no more) and TypeMemberAccessExpired.
	AccessUntilData struct {
		AccessUntil *time.Time `json:"access_until"`
	}
	// AccessEndingSoonData is the data of TypeMemberAccessEndingSoon.
	AccessEndingSoonData struct {
		AccessUntil   time.Time `json:"access_until"`
		BeforeSeconds int64     `json:"before_seconds"`
	}
	// RoleChangedData is the data of TypeMemberRoleChanged.
	RoleChangedData struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	// WebhookEndpointData is the data of TypeWebhookEndpointCreated and
	// TypeWebhookEndpointUpdated. The URL and the description stay inside
	// Roster: a URL may carry a receiver's token in its path or query.
	WebhookEndpointData struct {
		EventTypes []string `json:"event_types"`
	}
	// RoleData is the data of TypeRoleCreated and TypeRoleDeleted: the
	// role's name and, on creation, its permissions.
	RoleData struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions,omitempty"`
	}
	// RoleRenamedData is the data of TypeRoleRenamed.
	RoleRenamedData struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	// RolePermissionsData is the data of TypeRolePermissionsChanged: the
	// permissions before and after, which every holder has from then on.
	RolePermissionsData struct {
		From []string `json:"from"`
		To   []string `json:"to"`
	}
	// WebhookEndpointDisabledData is the data of TypeWebhookEndpointDisabled.
	WebhookEndpointDisabledData struct {
		Reason string `json:"reason"`
	}
)

type empty struct{}

// mapped is what a mapper makes of an internal payload.
type mapped struct {
	typ     string
	subject Subject
	data    any
}

// mappers is the table internal event type → public mapping. Every field
// published is named here: nothing of a payload leaves by default.
var mappers = map[string]func([]byte) (mapped, error){
	domain.TypePropertyCreated: mapper(func(e domain.PropertyCreated) mapped {
		return mapped{TypePropertyCreated, Subject{}, PropertyCreatedData{Name: e.Name, OwnerAccountID: e.OwnerID}}
	}),
	domain.TypeOwnershipTransferred: mapper(func(e domain.OwnershipTransferred) mapped {
		return mapped{TypeOwnershipTransferred, Subject{AccountID: e.To}, OwnershipTransferredData{FromAccountID: e.From, ToAccountID: e.To}}
	}),
	// The invitee's e-mail and the token nonce stay inside Roster.
	domain.TypeMemberInvited: mapper(func(e domain.MemberInvited) mapped {
		return mapped{TypeMemberInvited, Subject{InvitationID: e.InvitationID}, InvitationData{Role: string(e.Role), ExpiresAt: e.ExpiresAt.UTC()}}
	}),
	domain.TypeInvitationResent: mapper(func(e domain.InvitationResent) mapped {
		return mapped{TypeInvitationResent, Subject{InvitationID: e.InvitationID}, InvitationResentData{ExpiresAt: e.ExpiresAt.UTC()}}
	}),
	domain.TypeInvitationRevoked: mapper(func(e domain.InvitationRevoked) mapped {
		return mapped{TypeInvitationRevoked, Subject{InvitationID: e.InvitationID}, empty{}}
	}),
	domain.TypeInvitationDeclined: mapper(func(e domain.InvitationDeclined) mapped {
		return mapped{TypeInvitationDeclined, Subject{InvitationID: e.InvitationID}, empty{}}
	}),
	domain.TypeInvitationAccepted: mapper(func(e domain.InvitationAccepted) mapped {
		return mapped{TypeInvitationAccepted, Subject{AccountID: e.AccountID, InvitationID: e.InvitationID}, empty{}}
	}),
	domain.TypeMemberJoined: mapper(func(e domain.MemberJoined) mapped {
		return mapped{TypeMemberJoined, Subject{AccountID: e.AccountID}, MemberJoinedData{Role: string(e.Role), InvitationID: e.InvitationID}}
	}),
	domain.TypeMemberRoleChanged: mapper(func(e domain.MemberRoleChanged) mapped {
		return mapped{TypeMemberRoleChanged, Subject{AccountID: e.AccountID}, RoleChangedData{From: string(e.From), To: string(e.To)}}
	}),
	domain.TypeMemberAccessDisabled: mapper(func(e domain.MemberAccessDisabled) mapped {
		return mapped{TypeMemberAccessDisabled, Subject{AccountID: e.AccountID}, empty{}}
	}),
	domain.TypeMemberAccessEnabled: mapper(func(e domain.MemberAccessEnabled) mapped {
		return mapped{TypeMemberAccessEnabled, Subject{AccountID: e.AccountID}, empty{}}
	}),
	domain.TypeMemberRemoved: mapper(func(e domain.MemberRemoved) mapped {
		return mapped{TypeMemberRemoved, Subject{AccountID: e.AccountID}, empty{}}
	}),
	domain.TypeMemberLeft: mapper(func(e domain.MemberLeft) mapped {
		return mapped{TypeMemberLeft, Subject{AccountID: e.AccountID}, empty{}}
	}),
	// Never the secret's nonce.
	domain.TypeWebhookEndpointCreated: mapper(func(e domain.WebhookEndpointCreated) mapped {
		return mapped{TypeWebhookEndpointCreated, Subject{EndpointID: e.EndpointID}, WebhookEndpointData{EventTypes: e.EventTypes}}
	}),
	domain.TypeWebhookEndpointUpdated: mapper(func(e domain.WebhookEndpointUpdated) mapped {
		return mapped{TypeWebhookEndpointUpdated, Subject{EndpointID: e.EndpointID}, WebhookEndpointData{EventTypes: e.EventTypes}}
	}),
	domain.TypeWebhookEndpointDisabled: mapper(func(e domain.WebhookEndpointDisabled) mapped {
		return mapped{TypeWebhookEndpointDisabled, Subject{EndpointID: e.EndpointID}, WebhookEndpointDisabledData{Reason: e.Reason}}
	}),
	domain.TypeWebhookEndpointEnabled: mapper(func(e domain.WebhookEndpointEnabled) mapped {
		return mapped{TypeWebhookEndpointEnabled, Subject{EndpointID: e.EndpointID}, empty{}}
	}),
	domain.TypeWebhookSecretRotated: mapper(func(e domain.WebhookSecretRotated) mapped {
		return mapped{TypeWebhookSecretRotated, Subject{EndpointID: e.EndpointID}, empty{}}
	}),
	domain.TypeWebhookEndpointDeleted: mapper(func(e domain.WebhookEndpointDeleted) mapped {
		return mapped{TypeWebhookEndpointDeleted, Subject{EndpointID: e.EndpointID}, empty{}}
	}),
	domain.TypeMemberAccessUntilChanged: mapper(func(e domain.MemberAccessUntilChanged) mapped {
		var until *time.Time
		if e.AccessUntil != nil {
			u := e.AccessUntil.UTC()
			until = &u
		}
		return mapped{TypeMemberAccessUntilChanged, Subject{AccountID: e.AccountID}, AccessUntilData{AccessUntil: until}}
	}),
	domain.TypeMemberAccessExpired: mapper(func(e domain.MemberAccessExpired) mapped {
		until := e.AccessUntil.UTC()
		return mapped{TypeMemberAccessExpired, Subject{AccountID: e.AccountID}, AccessUntilData{AccessUntil: &until}}
	}),
	domain.TypeMemberAccessEndingSoon: mapper(func(e domain.MemberAccessEndingSoon) mapped {
		return mapped{TypeMemberAccessEndingSoon, Subject{AccountID: e.AccountID},
			AccessEndingSoonData{AccessUntil: e.AccessUntil.UTC(), BeforeSeconds: e.BeforeSeconds}}
	}),
	domain.TypeInvitationPolicyChanged: mapper(func(e domain.InvitationPolicyChanged) mapped {
		return mapped{TypeInvitationPolicyChanged, Subject{}, InvitationPolicyData{
			DefaultLifetimeSeconds: e.DefaultLifetimeSeconds, MaximumLifetimeSeconds: e.MaximumLifetimeSeconds}}
	}),
	domain.TypeRoleCreated: mapper(func(e domain.RoleCreated) mapped {
		return mapped{TypeRoleCreated, Subject{RoleID: string(e.RoleID)}, RoleData{Name: e.Name, Permissions: permissionNames(e.Permissions)}}
	}),
	domain.TypeRoleRenamed: mapper(func(e domain.RoleRenamed) mapped {
		return mapped{TypeRoleRenamed, Subject{RoleID: string(e.RoleID)}, RoleRenamedData{From: e.From, To: e.To}}
	}),
	domain.TypeRolePermissionsChanged: mapper(func(e domain.RolePermissionsChanged) mapped {
		return mapped{TypeRolePermissionsChanged, Subject{RoleID: string(e.RoleID)},
			RolePermissionsData{From: permissionNames(e.From), To: permissionNames(e.To)}}
	}),
	domain.TypeRoleDeleted: mapper(func(e domain.RoleDeleted) mapped {
		return mapped{TypeRoleDeleted, Subject{RoleID: string(e.RoleID)}, RoleData{Name: e.Name}}
	}),
}

// permissionNames is perms as the public events spell them, never nil.
func permissionNames(perms []domain.Permission) []string {
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = string(p)
	}
	return out
}

// mapper decodes a payload of type T with the domain's decoder (which
// checks the schema version) and maps it with f.
func mapper[T domain.Event](f func(T) mapped) func([]byte) (mapped, error) {
	return func(data []byte) (mapped, error) {
		var zero T
		ev, err := domain.DecodeEvent(zero.EventType(), data)
		if err != nil {
			return mapped{}, err
		}
		e, ok := ev.(T)
		if !ok {
			return mapped{}, fmt.Errorf("decoded %s as %T", zero.EventType(), ev)
		}
		return f(e), nil
	}
}

// ToIntegration maps a stored event to its public form. It fails, with an
// error matching ErrUnmapped, for a type without a mapping or an event
// outside a property stream, and for a payload or metadata it cannot
// decode. It is safe for concurrent use.
func ToIntegration(rec eventstore.RecordedEvent) (Event, error) {
	m, ok := mappers[rec.Type]
	if !ok {
		return Event{}, fmt.Errorf("event %s of type %q: %w", rec.ID, rec.Type, ErrUnmapped)
	}
	pid, ok := strings.CutPrefix(rec.StreamID, domain.StreamPrefix)
	if !ok || pid == "" {
		return Event{}, fmt.Errorf("event %s in stream %q: %w", rec.ID, rec.StreamID, ErrUnmapped)
	}
	out, err := m(rec.Data)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", rec.ID, err)
	}
	var md domain.Metadata
	if len(rec.Metadata) > 0 {
		if err := json.Unmarshal(rec.Metadata, &md); err != nil {
			return Event{}, fmt.Errorf("event %s: decode metadata: %w", rec.ID, err)
		}
	}
	occurred := md.OccurredAt
	if occurred.IsZero() {
		occurred = rec.RecordedAt
	}
	return Event{
		ID: rec.ID, Type: out.typ, OccurredAt: occurred.UTC(), PropertyID: pid, Revision: rec.Revision,
		Actor: Actor{AccountID: md.ActorID}, Subject: out.subject, Data: out.data,
		CorrelationID: md.CorrelationID,
	}, nil
}

// SubjectFor is the NATS subject an event of public type typ about
// property pid is published to: <prefix>.property.<pid>.<type without
// "roster.">, for example roster.property.p1.member.invited.v1. It fails
// when pid cannot stand as one subject token.
func SubjectFor(prefix, pid, typ string) (string, error) {
	if !validToken(pid) {
		return "", fmt.Errorf("property id %q cannot be a NATS subject token", pid)
	}
	return prefix + ".property." + pid + "." + strings.TrimPrefix(typ, "roster."), nil
}
