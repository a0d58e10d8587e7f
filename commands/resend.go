package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// Resend gives a pending invitation a new token and expiry.
type Resend struct {
	PropertyID   string
	InvitationID string
}

// ResendHandler handles Resend.
type ResendHandler struct {
	exec *Executor
	ttl  time.Duration
}

// Handle decides the resend; the mail consumer mails the new link.
func (h ResendHandler) Handle(ctx context.Context, m Meta, c Resend) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, now time.Time, ids IDs) ([]domain.Event, error) {
		return p.Resend(m.Actor, now, h.ttl, c.InvitationID, ids.Next("nonce"))
	})
}
