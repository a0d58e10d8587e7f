package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// SetAccess disables or enables a member's access.
type SetAccess struct {
	PropertyID string
	AccountID  string
	Enabled    bool
}

// SetAccessHandler handles SetAccess.
type SetAccessHandler struct {
	exec *Executor
}

// Handle decides the change of access.
func (h SetAccessHandler) Handle(ctx context.Context, m Meta, c SetAccess) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		if c.Enabled {
			return p.EnableAccess(m.Actor, c.AccountID)
		}
		return p.DisableAccess(m.Actor, c.AccountID)
	})
}
