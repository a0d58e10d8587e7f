package projections

import (
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// The notifications of an access that ends: the member is told ahead
// (a week and a day before, as the scheduler decides) and when it ended.
const (
	NotificationAccessEnding  = "access_ending"
	NotificationAccessExpired = "access_expired"
)

// AccessUntilDetails are the details of access_ending and access_expired
// notifications: when the access ends or ended.
type AccessUntilDetails struct {
	AccessUntil time.Time `json:"access_until"`
}

func notificationsAccessEndingSoon(s *notificationsBatch, e recorded.Event, ev domain.MemberAccessEndingSoon) error {
	return notify(s, e, ev.AccountID, "", "", NotificationAccessEnding, AccessUntilDetails{AccessUntil: ev.AccessUntil.UTC()})
}

func notificationsAccessExpired(s *notificationsBatch, e recorded.Event, ev domain.MemberAccessExpired) error {
	return notify(s, e, ev.AccountID, "", "", NotificationAccessExpired, AccessUntilDetails{AccessUntil: ev.AccessUntil.UTC()})
}
