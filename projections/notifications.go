package projections

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// NotificationsName names the notifications projection and its checkpoint.
const NotificationsName = "notifications"

// The kinds of notification, as stored and as the API shows them.
const (
	NotificationInvitationReceived  = "invitation_received"
	NotificationRoleChanged         = "role_changed"
	NotificationAccessDisabled      = "access_disabled"
	NotificationAccessEnabled       = "access_enabled"
	NotificationRemovedFromProperty = "removed_from_property"
)

// notificationSpace namespaces the name-based UUIDs of notifications.
var notificationSpace = uuid.MustParse("6f1d2a7e-3c0b-4b8e-9d51-2a9e0c7f4b13")

// NotificationID is the ID of the notification event eventID gives
// recipient (an account ID or an email). It depends on nothing else, so a
// rebuild gives a notification the ID it had, and read markers survive.
func NotificationID(eventID, recipient string) string {
	return uuid.NewSHA1(notificationSpace, []byte(eventID+"\x00"+recipient)).String()
}

// Notifications returns the projection behind rm_notifications, the in-app
// notifications: an invitation received (addressed to the invitee's email),
// a role changed, access disabled or enabled, removed from a property
// (addressed to the member's account). Whether one was read is the
// reader's own state, kept in notification_reads, which is not among the
// projection's tables: a rebuild leaves it alone. Property names are kept
// in rm_notifications_properties, so the projection can be rebuilt alone.
func Notifications() Projection {
	return Projection{Name: NotificationsName, Tables: []string{"rm_notifications", "rm_notifications_properties"}, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      On(notificationsPropertyCreated),
		domain.TypeMemberInvited:        On(notificationsInvited),
		domain.TypeMemberRoleChanged:    On(notificationsRoleChanged),
		domain.TypeMemberAccessDisabled: On(notificationsAccessDisabled),
		domain.TypeMemberAccessEnabled:  On(notificationsAccessEnabled),
		domain.TypeMemberRemoved:        On(notificationsRemoved),
	}}
}

func notificationsPropertyCreated(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.PropertyCreated) error {
	_, err := tx.Exec(ctx, `INSERT INTO rm_notifications_properties (property_id, name) VALUES ($1, $2)
		ON CONFLICT (property_id) DO UPDATE SET name = $2`, e.PropertyID, ev.Name)
	return err
}

// InvitationDetails are the details of an invitation_received notification.
type InvitationDetails struct {
	InvitationID   string      `json:"invitation_id"`
	Role           domain.Role `json:"role"`
	InvitedByEmail string      `json:"invited_by_email,omitempty"`
	ExpiresAt      time.Time   `json:"expires_at"`
}

// RoleDetails are the details of a role_changed notification.
type RoleDetails struct {
	From domain.Role `json:"from"`
	To   domain.Role `json:"to"`
}

func notificationsInvited(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberInvited) error {
	return notify(ctx, tx, e, "", ev.Email, NotificationInvitationReceived, InvitationDetails{
		InvitationID: ev.InvitationID, Role: ev.Role, InvitedByEmail: inviterEmail(e, ev), ExpiresAt: ev.ExpiresAt})
}

func notificationsRoleChanged(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRoleChanged) error {
	return notify(ctx, tx, e, ev.AccountID, "", NotificationRoleChanged, RoleDetails{From: ev.From, To: ev.To})
}

func notificationsAccessDisabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessDisabled) error {
	return notify(ctx, tx, e, ev.AccountID, "", NotificationAccessDisabled, struct{}{})
}

func notificationsAccessEnabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessEnabled) error {
	return notify(ctx, tx, e, ev.AccountID, "", NotificationAccessEnabled, struct{}{})
}

func notificationsRemoved(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRemoved) error {
	return notify(ctx, tx, e, ev.AccountID, "", NotificationRemovedFromProperty, struct{}{})
}

// notify writes one notification to an account or, when accountID is
// empty, to an email. Applying the same event again rewrites the same row.
func notify(ctx context.Context, tx pgx.Tx, e Envelope, accountID, email, kind string, details any) error {
	recipient := accountID
	if recipient == "" {
		recipient = "email:" + email
	}
	data, err := json.Marshal(details)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO rm_notifications
		(id, account_id, email, property_id, property_name, kind, details, created_at)
		VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), $4,
			COALESCE((SELECT name FROM rm_notifications_properties WHERE property_id = $4), ''), $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET property_name = EXCLUDED.property_name, details = EXCLUDED.details`,
		NotificationID(eventKey(e), recipient), accountID, email, e.PropertyID, kind, data, e.At())
	return err
}

// eventKey identifies the event: its ID, or where it sits in its stream
// when a writer left the ID out of the metadata. Both survive a rebuild.
func eventKey(e Envelope) string {
	if e.Meta.EventID != "" {
		return e.Meta.EventID
	}
	return e.StreamID + "@" + strconv.FormatUint(e.Revision, 10)
}
