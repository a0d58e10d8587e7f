package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// ChangeRole sets a member's role.
type ChangeRole struct {
	PropertyID string
	AccountID  string
	Role       string
}

// ChangeRoleHandler handles ChangeRole.
type ChangeRoleHandler struct {
	exec *Executor
}

// Handle decides the role change.
func (h ChangeRoleHandler) Handle(ctx context.Context, m Meta, c ChangeRole) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		return p.ChangeRole(m.Actor, c.AccountID, c.Role)
	})
}
