package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// MayReadHandler answers from the property's stream, not the read models,
// whether the actor may read it. A query that must wait for the read models
// asks it first: the stream already holds the change (a creation, an
// accepted invitation, an enabling) that the read models have yet to show,
// so a new reader may wait while an outsider is turned away at once.
type MayReadHandler struct {
	exec *Executor
}

// Handle returns nil when m.Actor is an enabled member of propertyID, and
// the *domain.Error of a property that does not exist otherwise. It appends
// nothing and makes no keys; a decision without events is answered from
// the stream as it is now.
func (h MayReadHandler) Handle(ctx context.Context, m Meta, propertyID string) error {
	return h.exec.Inspect(ctx, m, propertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		return nil, p.Readable(m.Actor)
	})
}
