package readmodels

import (
	"context"
	"time"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/projections"
)

// WaitFor waits until every projection of projections.All has a checkpoint
// at or after pos, reading the checkpoints every few milliseconds for at
// most max. reached is false when max passed first, and at once when every
// projection short of pos when the wait begins is stopped at an event it
// cannot apply: it will not move until an operator acts
// (docs/ARCHITECTURE.md, section 4), so holding the request would only tie
// up a connection. That is asked once per wait, not on every poll: a
// projection that stops mid-wait costs at most the bound. It returns ctx's
// error when ctx ends first, and a database error as it comes.
func (s *Store) WaitFor(ctx context.Context, pos eventstore.Position, timeout time.Duration) (reached bool, err error) {
	deadline := time.Now().Add(timeout)
	t := time.NewTimer(0)
	defer t.Stop()
	for asked := false; ; asked = true {
		cps, err := projections.Checkpoints(ctx, s.pool)
		if err != nil {
			return false, err
		}
		var behind []string
		for _, name := range s.names {
			if cps[name].Less(pos) { // missing: Start
				behind = append(behind, name)
			}
		}
		if len(behind) == 0 {
			return true, nil
		}
		if !asked {
			if stuck, err := s.allStopped(ctx, behind); err != nil || stuck {
				return false, err
			}
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

// allStopped reports whether every projection of names is stopped.
func (s *Store) allStopped(ctx context.Context, names []string) (bool, error) {
	stopped, err := projections.Stopped(ctx, s.pool)
	if err != nil || len(stopped) == 0 {
		return false, err
	}
	for _, name := range names {
		if _, ok := stopped[name]; !ok {
			return false, nil
		}
	}
	return true, nil
}
