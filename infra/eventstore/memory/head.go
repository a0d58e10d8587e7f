package memory

import (
	"context"
	"slices"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Head returns the position of the last event of the global feed, or
// eventstore.Start when the store is empty. It is safe for concurrent use.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if err := ctx.Err(); err != nil {
		return eventstore.Start, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.feed) == 0 {
		return eventstore.Start, nil
	}
	return s.feed[len(s.feed)-1].Position, nil
}

// CountAfter returns how many events of the global feed come after position
// after. It is safe for concurrent use.
func (s *Store) CountAfter(ctx context.Context, after eventstore.Position) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	// The first event after after: positions are strictly increasing.
	i, _ := slices.BinarySearchFunc(s.feed, after, func(e eventstore.RecordedEvent, p eventstore.Position) int {
		if p.Less(e.Position) {
			return 1
		}
		return -1
	})
	return int64(len(s.feed) - i), nil
}
