package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// TransferOwnership hands a property to another enabled admin.
type TransferOwnership struct {
	PropertyID string
	AccountID  string
}

// TransferOwnershipHandler handles TransferOwnership.
type TransferOwnershipHandler struct {
	exec *Executor
}

// Handle decides the transfer.
func (h TransferOwnershipHandler) Handle(ctx context.Context, m Meta, c TransferOwnership) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		return p.TransferOwnership(m.Actor, c.AccountID)
	})
}
