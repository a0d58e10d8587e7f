package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// CreateProperty creates a property owned by the actor.
type CreateProperty struct {
	Name string
}

// CreatePropertyHandler handles CreateProperty.
type CreatePropertyHandler struct {
	exec *Executor
}

// Handle creates the property under a new ID (derived from the idempotency
// key when there is one, so a repeat finds the same property).
func (h CreatePropertyHandler) Handle(ctx context.Context, m Meta, c CreateProperty) (Result, error) {
	cmdID := CommandID(m, "")
	propertyID := IDs{base: cmdID, stable: m.IdempotencyKey != ""}.Next("property")
	h.exec.prepare(ctx, m.Actor, nil)
	return h.exec.run(ctx, m, cmdID, propertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		return p.Create(m.Actor, c.Name)
	})
}
