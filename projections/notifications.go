package projections

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
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
	return withPersonal(notificationsPersonal, setwise(NotificationsName, []string{"rm_notifications", "rm_notifications_properties"}, newNotificationsBatch, map[string]step[*notificationsBatch]{
		domain.TypePropertyCreated:      onEvent(notificationsPropertyCreated),
		domain.TypeMemberInvited:        onEvent(notificationsInvited),
		domain.TypeMemberRoleChanged:    onEvent(notificationsRoleChanged),
		domain.TypeMemberAccessDisabled: onEvent(notificationsAccessDisabled),
		domain.TypeMemberAccessEnabled:  onEvent(notificationsAccessEnabled),
		domain.TypeMemberRemoved:        onEvent(notificationsRemoved),

		domain.TypeWebhookEndpointDisabled: onEvent(notificationsWebhookDisabled),

		domain.TypeMemberAccessEndingSoon: onEvent(notificationsAccessEndingSoon),
		domain.TypeMemberAccessExpired:    onEvent(notificationsAccessExpired),
	}))
}

// notificationsPersonal: the invitee an invitation notification is
// addressed to (its ID derives from it), and the inviter's email as their
// token claimed it, sealed under their account when it is no address.
var notificationsPersonal = []PersonalColumn{
	{Table: "rm_notifications", Column: "details", JSONKey: "invited_by_email", Claimed: true, Account: "invited_by"},
	{Table: "rm_notifications", Column: "email", InID: true},
}

type notificationRow struct {
	ID                 string
	AccountID, Email   *string
	InvitedBy          *string
	PropertyID         string
	PropertyName, Kind string
	Details            string
	CreatedAt          time.Time
}

var (
	// Applying an event again rewrites the same row's name and details.
	notificationsSpec = (&insertSpec[notificationRow]{
		name: "rm_notifications",
		key:  func(r *notificationRow) rowKey { return rowKey{a: r.ID} },
		cols: []column[notificationRow]{
			{name: "id", sqlType: "uuid", field: func(r *notificationRow) any { return &r.ID }},
			col("account_id", func(r *notificationRow) any { return &r.AccountID }),
			col("email", func(r *notificationRow) any { return &r.Email }),
			col("invited_by", func(r *notificationRow) any { return &r.InvitedBy }),
			col("property_id", func(r *notificationRow) any { return &r.PropertyID }),
			col("property_name", func(r *notificationRow) any { return &r.PropertyName }),
			col("kind", func(r *notificationRow) any { return &r.Kind }),
			{name: "details", sqlType: "jsonb", field: func(r *notificationRow) any { return &r.Details }},
			col("created_at", func(r *notificationRow) any { return &r.CreatedAt }),
		},
		conflict: "(id) DO UPDATE SET property_name = EXCLUDED.property_name, details = EXCLUDED.details",
		merge: func(old *notificationRow, r notificationRow) {
			old.PropertyName, old.Details = r.PropertyName, r.Details
		},
	}).build()
	notificationsNamesSpec = nameSpec("rm_notifications_properties")
)

type notificationsBatch struct {
	notes *inserts[notificationRow]
	names *table[nameRow]
}

func newNotificationsBatch(u *unit) *notificationsBatch {
	return &notificationsBatch{notes: newInserts(u, notificationsSpec), names: newTable(u, notificationsNamesSpec)}
}

func notificationsPropertyCreated(s *notificationsBatch, e recorded.Event, ev domain.PropertyCreated) error {
	s.names.Put(nameRow{PropertyID: e.PropertyID, Name: ev.Name})
	return nil
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

func notificationsInvited(s *notificationsBatch, e recorded.Event, ev domain.MemberInvited) error {
	return notify(s, e, "", ev.Email, ev.InvitedBy, NotificationInvitationReceived, InvitationDetails{
		InvitationID: ev.InvitationID, Role: ev.Role, InvitedByEmail: inviterEmail(e, ev), ExpiresAt: ev.ExpiresAt})
}

func notificationsRoleChanged(s *notificationsBatch, e recorded.Event, ev domain.MemberRoleChanged) error {
	return notify(s, e, ev.AccountID, "", "", NotificationRoleChanged, RoleDetails{From: ev.From, To: ev.To})
}

func notificationsAccessDisabled(s *notificationsBatch, e recorded.Event, ev domain.MemberAccessDisabled) error {
	return notify(s, e, ev.AccountID, "", "", NotificationAccessDisabled, struct{}{})
}

func notificationsAccessEnabled(s *notificationsBatch, e recorded.Event, ev domain.MemberAccessEnabled) error {
	return notify(s, e, ev.AccountID, "", "", NotificationAccessEnabled, struct{}{})
}

func notificationsRemoved(s *notificationsBatch, e recorded.Event, ev domain.MemberRemoved) error {
	return notify(s, e, ev.AccountID, "", "", NotificationRemovedFromProperty, struct{}{})
}

// notify writes one notification to an account or, when accountID is
// empty, to an email; invitedBy is the inviter's account, for invitations. Applying the same event again rewrites the same row.
func notify(s *notificationsBatch, e recorded.Event, accountID, email, invitedBy, kind string, details any) error {
	name, _ := s.names.Get(rowKey{a: e.PropertyID})
	if s.names.u.recording {
		return nil // the name is all it reads
	}
	recipient := accountID
	if recipient == "" {
		recipient = "email:" + email
	}
	data, err := json.Marshal(details)
	if err != nil {
		return err
	}
	s.notes.Insert(notificationRow{ID: NotificationID(eventKey(e), recipient), AccountID: nonEmpty(accountID),
		Email: nonEmpty(email), InvitedBy: nonEmpty(invitedBy), PropertyID: e.PropertyID, PropertyName: name.Name, Kind: kind,
		Details: string(data), CreatedAt: dbTime(e.At())})
	return nil
}

// nonEmpty is s, or nil (NULL) when it is empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// eventKey identifies the event: its ID, or where it sits in its stream
// when a writer left the ID out of the metadata. Both survive a rebuild.
func eventKey(e recorded.Event) string {
	if e.Meta.EventID != "" {
		return e.Meta.EventID
	}
	return e.StreamID + "@" + strconv.FormatUint(e.Revision, 10)
}
