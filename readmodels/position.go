package readmodels

import (
	"context"
	"time"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/projections"
)

// WaitFor waits until every projection of projections.All has a checkpoint
// at or after pos, reading the checkpoints every few milliseconds for at
// most max. reached is false when max passed first. It returns ctx's error
// when ctx ends first, and a database error as it comes.
func (s *Store) WaitFor(ctx context.Context, pos eventstore.Position, timeout time.Duration) (reached bool, err error) {
	deadline := time.Now().Add(timeout)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		at, err := s.Position(ctx)
		if err != nil {
			return false, err
		}
		if !at.Less(pos) {
			return true, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		t.Reset(min(pollInterval, left))
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// Position returns the lowest checkpoint across projections.All: the point
// of the feed every read model has reached. A projection that has never run
// is at eventstore.Start.
func (s *Store) Position(ctx context.Context) (eventstore.Position, error) {
	cps, err := projections.Checkpoints(ctx, s.pool)
	if err != nil {
		return eventstore.Start, err
	}
	var low eventstore.Position
	for i, name := range s.names {
		at := cps[name] // missing: Start
		if i == 0 || at.Less(low) {
			low = at
		}
	}
	return low, nil
}
