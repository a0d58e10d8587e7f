package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// Remove takes a member off a property (an admin's act), or lets the actor
// leave it (Leave: their own act).
type Remove struct {
	PropertyID string
	AccountID  string
	// Leave is true when the actor leaves by themselves; AccountID is ignored.
	Leave bool
}

// RemoveHandler handles Remove.
type RemoveHandler struct {
	exec *Executor
}

// Handle decides the removal or the leaving.
func (h RemoveHandler) Handle(ctx context.Context, m Meta, c Remove) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		if c.Leave {
			return p.Leave(m.Actor)
		}
		return p.Remove(m.Actor, c.AccountID)
	})
}
