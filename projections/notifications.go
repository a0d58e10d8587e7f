package projections

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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
	return withPersonal(notificationsPersonal, Projection{Name: NotificationsName, Tables: []string{"rm_notifications", "rm_notifications_properties"}, rows: newNotificationsBatch, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      on(notificationsPropertyCreated),
		domain.TypeMemberInvited:        on(notificationsInvited),
		domain.TypeMemberRoleChanged:    on(notificationsRoleChanged),
		domain.TypeMemberAccessDisabled: on(notificationsAccessDisabled),
		domain.TypeMemberAccessEnabled:  on(notificationsAccessEnabled),
		domain.TypeMemberRemoved:        on(notificationsRemoved),

		domain.TypeWebhookEndpointDisabled: on(notificationsWebhookDisabled),

		domain.TypeMemberAccessEndingSoon: on(notificationsAccessEndingSoon),
		domain.TypeMemberAccessExpired:    on(notificationsAccessExpired),
	}, appendOnly: []string{"rm_notifications"}})
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

// notificationsBatch is the projection's rows as a batch changes them:
// the notifications it adds, in order, at holding where each ID's is, and
// the property names.
type notificationsBatch struct {
	b     *Batch
	notes []notificationRow
	at    map[string]int
	names *perProperty
}

func newNotificationsBatch(b *Batch) batchRows {
	return &notificationsBatch{b: b, at: map[string]int{},
		names: newPerProperty(b, sqlNotificationsNamesLoad, sqlNotificationsNamesUpsert)}
}

const (
	// Applying an event again rewrites the same row's name and details.
	sqlNotificationsInsert = `INSERT INTO rm_notifications (id, account_id, email, invited_by, property_id,
		property_name, kind, details, created_at)
		SELECT u.id::uuid, u.account_id, u.email, u.invited_by, u.property_id, u.property_name, u.kind,
			u.details::jsonb, u.created_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::timestamptz[])
			AS u(id, account_id, email, invited_by, property_id, property_name, kind, details, created_at)
		ON CONFLICT (id) DO UPDATE SET property_name = EXCLUDED.property_name, details = EXCLUDED.details`

	sqlNotificationsNamesLoad   = `SELECT property_id, name FROM rm_notifications_properties WHERE property_id = ANY($1::text[])`
	sqlNotificationsNamesUpsert = `INSERT INTO rm_notifications_properties (property_id, name)
		SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (property_id) DO UPDATE SET name = EXCLUDED.name`
)

// load reads the name of every property the events notify about.
func (s *notificationsBatch) load(b *pgx.Batch, events []recorded.Event) {
	var pids []string
	for _, e := range events {
		if e.Type != domain.TypePropertyCreated {
			pids = s.names.ask(pids, e.PropertyID)
		}
	}
	if len(pids) > 0 {
		b.Queue(sqlNotificationsNamesLoad, storableKeys(pids)).Query(s.names.scan)
	}
}

// add adds r, or, when the batch added its ID already, takes its name and
// details, as the insert's ON CONFLICT would.
func (s *notificationsBatch) add(r notificationRow) {
	if i, ok := s.at[r.ID]; ok {
		s.notes[i].PropertyName, s.notes[i].Details = r.PropertyName, r.Details
		return
	}
	s.at[r.ID] = len(s.notes)
	s.notes = append(s.notes, r)
}

func (s *notificationsBatch) flush(b *pgx.Batch) {
	if s.b.bulk && s.copyNotes() {
		s.names.flush(b)
		return
	}
	if n := len(s.notes); n > 0 {
		ids, accounts, emails, by := make([]string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		ps, names, kinds, details, created := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, r := range s.notes {
			ids[i], accounts[i], emails[i], by[i] = r.ID, r.AccountID, r.Email, r.InvitedBy
			ps[i], names[i], kinds[i], details[i], created[i] = r.PropertyID, r.PropertyName, r.Kind, r.Details, r.CreatedAt
		}
		b.Queue(sqlNotificationsInsert, ids, accounts, emails, by, ps, names, kinds, details, created)
	}
	s.names.flush(b)
}

// notificationColumns are rm_notifications' columns in the order of
// copyNotes' values.
var notificationColumns = []string{"id", "account_id", "email", "invited_by", "property_id", "property_name", "kind",
	"details", "created_at"}

// copyNotes queues a COPY of the batch's notifications into copies a
// rebuild is filling, where none can be there already: an ID derives from
// its event, which a rebuild applies once, and the batch merged those it
// added twice. It reports false, queuing nothing, when an ID is no UUID,
// for the insert to refuse it as it would live.
func (s *notificationsBatch) copyNotes() bool {
	rows := make([][]any, len(s.notes))
	for i, r := range s.notes {
		var id pgtype.UUID
		if err := id.Scan(r.ID); err != nil {
			return false
		}
		rows[i] = []any{id, r.AccountID, r.Email, r.InvitedBy, r.PropertyID, r.PropertyName, r.Kind, r.Details, r.CreatedAt}
	}
	if len(rows) > 0 {
		s.b.copyRows("rm_notifications", notificationColumns, rows)
	}
	return true
}

func notificationsPropertyCreated(s *notificationsBatch, e recorded.Event, ev domain.PropertyCreated) error {
	s.names.put(e.PropertyID, ev.Name)
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
	name, _ := s.names.get(e.PropertyID)
	recipient := accountID
	if recipient == "" {
		recipient = "email:" + email
	}
	data, err := json.Marshal(details)
	if err != nil {
		return err
	}
	s.add(notificationRow{ID: NotificationID(eventKey(e), recipient), AccountID: nonEmpty(accountID),
		Email: nonEmpty(email), InvitedBy: nonEmpty(invitedBy), PropertyID: e.PropertyID, PropertyName: name, Kind: kind,
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
