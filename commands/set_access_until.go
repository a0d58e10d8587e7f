package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// SetAccessUntil sets, moves or clears when a member's access ends.
type SetAccessUntil struct {
	PropertyID string
	AccountID  string
	// AccessUntil is the RFC 3339 moment the access ends; "" clears it.
	AccessUntil string
}

// SetAccessUntilHandler handles SetAccessUntil.
type SetAccessUntilHandler struct {
	exec *Executor
}

// Handle decides the change of the end of access.
func (h SetAccessUntilHandler) Handle(ctx context.Context, m Meta, c SetAccessUntil) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, now time.Time, _ IDs) ([]domain.Event, error) {
		if c.AccessUntil == "" {
			return p.ClearAccessUntil(m.Actor, now, c.AccountID)
		}
		return p.SetAccessUntil(m.Actor, now, c.AccountID, c.AccessUntil)
	})
}

// ExpiryActor is who Roster's own decisions on ending accesses are
// recorded as: the scheduler's expiries and reminders.
var ExpiryActor = domain.Actor{AccountID: "roster-expiry"}

// ExpireAccessHandler appends what the scheduler finds due for a member:
// MemberAccessExpired once the end has come, a reminder before it.
type ExpireAccessHandler struct {
	exec *Executor
}

// Handle decides, against the stream's state, whether the member's access
// ends now or the member is to be reminded; anything else appends nothing,
// so every instance may ask and only one append wins.
func (h ExpireAccessHandler) Handle(ctx context.Context, correlationID, propertyID, accountID string) (Result, error) {
	m := Meta{Actor: ExpiryActor, CorrelationID: correlationID}
	return h.exec.Run(ctx, m, propertyID, func(p *domain.Property, now time.Time, _ IDs) ([]domain.Event, error) {
		if events := p.ExpireAccess(now, accountID); len(events) > 0 {
			return events, nil
		}
		return p.RemindAccessEnding(now, accountID), nil
	})
}
