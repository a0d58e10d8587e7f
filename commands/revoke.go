package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// Revoke withdraws one or a selection of pending invitations, all or nothing.
type Revoke struct {
	PropertyID    string
	InvitationIDs []string
}

// RevokeHandler handles Revoke.
type RevokeHandler struct {
	exec *Executor
}

// Handle decides the revocation.
func (h RevokeHandler) Handle(ctx context.Context, m Meta, c Revoke) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, now time.Time, _ IDs) ([]domain.Event, error) {
		return p.Revoke(m.Actor, now, c.InvitationIDs)
	})
}
