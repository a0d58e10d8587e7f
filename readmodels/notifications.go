package readmodels

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Page sizes of Notifications, and how many IDs one MarkNotificationsRead
// takes.
const (
	DefaultNotificationLimit = 50
	MaxNotificationLimit     = 200
	MaxMarkRead              = 500
)

// Notification is one in-app notification. Details depend on Kind:
// invitation_received has invitation_id, role, invited_by_email and
// expires_at; role_changed has from and to; the others have none.
type Notification struct {
	ID           string          `json:"id"`
	PropertyID   string          `json:"property_id"`
	PropertyName string          `json:"property_name"`
	Kind         string          `json:"kind"`
	Details      json.RawMessage `json:"details"`
	CreatedAt    time.Time       `json:"created_at"`
	Read         bool            `json:"read"`
}

// Recipient is whom notifications are for: an account, and the account's
// email when it is verified (invitations are addressed to an email, and
// anyone can claim an unverified one). Email must be normalised.
type Recipient struct {
	AccountID string
	Email     string
}

// NotificationFilter pages the notifications of a recipient.
type NotificationFilter struct {
	// Cursor continues after the page that returned it as NextCursor.
	Cursor string
	// Limit is the page size: 0 means DefaultNotificationLimit; at most
	// MaxNotificationLimit.
	Limit int
}

// NotificationPage is one page of notifications, newest first, with how
// many of all the recipient's notifications are unread.
type NotificationPage struct {
	Notifications []Notification `json:"notifications"`
	Unread        int            `json:"unread"`
	// NextCursor fetches the next page; it is empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// notificationKey is the sort key a notification cursor carries: the
// creation time in Unix microseconds (what PostgreSQL keeps) and the ID.
type notificationKey struct {
	At *int64 `json:"t"`
	ID string `json:"i"`
}

func (k notificationKey) check() error {
	if k.At == nil {
		return fmt.Errorf("cursor lacks its time")
	}
	if _, err := uuid.Parse(k.ID); err != nil {
		return fmt.Errorf("cursor lacks its id")
	}
	return nil
}

// sqlVisible selects the notifications of recipient $1 (account) / $2
// (verified email or ”), as n.
const sqlVisible = `(n.account_id = $1 OR ($2 <> '' AND n.email = $2 AND n.account_id IS NULL))`

// Notifications returns a page of to's notifications, newest first, and
// the count of unread ones. Errors: KindInvalid for a cursor this API did
// not give out or a limit outside 0..MaxNotificationLimit; the database's.
func (s *Store) Notifications(ctx context.Context, to Recipient, f NotificationFilter) (NotificationPage, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultNotificationLimit
	case limit < 0 || limit > MaxNotificationLimit:
		return NotificationPage{}, invalid("limit", strconv.Itoa(f.Limit), fmt.Sprintf("is not between 1 and %d", MaxNotificationLimit))
	}
	args := []any{to.AccountID, to.Email, limit + 1}
	after := ""
	if f.Cursor != "" {
		key, err := decodeCursor[notificationKey](f.Cursor)
		if err != nil {
			return NotificationPage{}, invalid("cursor", f.Cursor, "is not a cursor this API gave out")
		}
		args = append(args, time.UnixMicro(*key.At).UTC(), key.ID)
		after = ` AND (n.created_at, n.id) < ($4, $5::uuid)`
	}
	rows, err := s.pool.Query(ctx, `
SELECT n.id::text, n.property_id, n.property_name, n.kind, n.details, n.created_at, r.notification_id IS NOT NULL
FROM rm_notifications n
LEFT JOIN notification_reads r ON r.account_id = $1 AND r.notification_id = n.id
WHERE `+sqlVisible+after+`
ORDER BY n.created_at DESC, n.id DESC
LIMIT $3`, args...)
	if err != nil {
		return NotificationPage{}, fmt.Errorf("notifications: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		var details []byte
		err := r.Scan(&n.ID, &n.PropertyID, &n.PropertyName, &n.Kind, &details, &n.CreatedAt, &n.Read)
		n.Details = details
		utc(&n.CreatedAt)
		return n, err
	})
	if err != nil {
		return NotificationPage{}, fmt.Errorf("notifications: %w", err)
	}
	page := NotificationPage{Notifications: list}
	if len(list) > limit {
		page.Notifications = list[:limit]
		last := page.Notifications[limit-1]
		at := last.CreatedAt.UnixMicro()
		page.NextCursor = encodeCursor(notificationKey{At: &at, ID: last.ID})
	}
	if page.Unread, err = s.UnreadNotifications(ctx, to); err != nil {
		return NotificationPage{}, err
	}
	return page, nil
}

// UnreadNotifications counts to's unread notifications. Its only errors
// are the database's.
func (s *Store) UnreadNotifications(ctx context.Context, to Recipient) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `
SELECT count(*) FROM rm_notifications n
WHERE `+sqlVisible+`
  AND NOT EXISTS (SELECT 1 FROM notification_reads r WHERE r.account_id = $1 AND r.notification_id = n.id)`,
		to.AccountID, to.Email).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unread notifications: %w", err)
	}
	return n, nil
}

// MarkNotificationsRead marks as read, for to's account, the notifications
// ids of to's (or all of them, when all is true) and returns how many were
// unread before. IDs that are not to's, or already read, change nothing:
// marking is idempotent. Errors: KindInvalid for an ID that is not a UUID
// or more than MaxMarkRead IDs; the database's.
func (s *Store) MarkNotificationsRead(ctx context.Context, to Recipient, ids []string, all bool) (int, error) {
	if len(ids) > MaxMarkRead {
		return 0, invalid("ids", strconv.Itoa(len(ids)), fmt.Sprintf("are more than %d", MaxMarkRead))
	}
	for _, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			return 0, invalid("ids", id, "is not a notification ID (a UUID)")
		}
	}
	if !all && len(ids) == 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `
INSERT INTO notification_reads (account_id, notification_id)
SELECT $1, n.id FROM rm_notifications n
WHERE `+sqlVisible+` AND ($3 OR n.id = ANY($4::uuid[]))
ON CONFLICT (account_id, notification_id) DO NOTHING`, to.AccountID, to.Email, all, ids)
	if err != nil {
		return 0, fmt.Errorf("mark notifications read: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
