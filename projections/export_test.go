package projections

import (
	"context"
	"time"

	"github.com/rosterhq/roster/infra/eventstore"
)

// SetBackoff shortens a runner's restart backoff, so tests of restarts do
// not sit through production delays.
func SetBackoff(r *Runner, lo, hi time.Duration) { r.minBackoff, r.maxBackoff = lo, hi }

// ApplyBatch applies one batch the way Run does, checkpoint included.
func ApplyBatch(ctx context.Context, r *Runner, p Projection, from eventstore.Position, batch []eventstore.RecordedEvent) (eventstore.Position, error) {
	return r.applyBatch(ctx, p, from, batch)
}
