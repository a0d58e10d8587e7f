package projections

import (
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// An end of access set or cleared shows as a change of access_until to the
// new end (empty when cleared); the event does not say the end before it.
func auditAccessUntilChanged(s *auditBatch, e recorded.Event, ev domain.MemberAccessUntilChanged) error {
	to := ""
	if ev.AccessUntil != nil {
		to = ev.AccessUntil.UTC().Format(time.RFC3339Nano)
	}
	return auditMember(s, e, ev.AccountID, "access_until", "", to)
}

// An expiry is a disabling, as the member lives it.
func auditAccessExpired(s *auditBatch, e recorded.Event, ev domain.MemberAccessExpired) error {
	return auditMember(s, e, ev.AccountID, "status", string(domain.StatusEnabled), string(domain.StatusDisabled))
}

// A reminder changes nothing; the row says the member was told.
func auditAccessEndingSoon(s *auditBatch, e recorded.Event, ev domain.MemberAccessEndingSoon) error {
	return auditMember(s, e, ev.AccountID, "", "", "")
}
