// Package memory is an event store held in process memory, for unit tests of
// the domain and the command handlers. It passes the same contract suite as
// the durable adapters.
package memory

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Store keeps every event in memory. Event n of the global feed (1-based) is
// at Position{Commit: n, Prepare: n}. A Store is safe for concurrent use; its
// zero value is not usable, call New.
type Store struct {
	mu      sync.RWMutex
	feed    []eventstore.RecordedEvent
	streams map[string][]int // stream -> indexes into feed, in revision order
	byID    map[string]int   // event ID -> index into feed
	wakers  map[chan struct{}]struct{}
	now     func() time.Time
}

var _ eventstore.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		streams: make(map[string][]int),
		byID:    make(map[string]int),
		wakers:  make(map[chan struct{}]struct{}),
		now:     func() time.Time { return time.Now().UTC() },
	}
}

// Append implements eventstore.Store. It returns an error wrapping
// eventstore.ErrInvalidAppend for an append ValidateAppend refuses, a
// *eventstore.ConflictError when stream is not at expected, and
// eventstore.ErrDuplicateEvent when some of the IDs are stored already but
// the append is not an exact repeat.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	if res, repeat, err := s.repeatLocked(stream, events); repeat || err != nil {
		return res, err
	}
	current := int64(len(s.streams[stream])) - 1
	if !expected.Allows(current) {
		return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: current}
	}
	at := s.now()
	for _, e := range events {
		n := uint64(len(s.feed) + 1)
		s.byID[e.ID] = len(s.feed)
		s.streams[stream] = append(s.streams[stream], len(s.feed))
		s.feed = append(s.feed, eventstore.RecordedEvent{
			ID:         e.ID,
			StreamID:   stream,
			Revision:   uint64(len(s.streams[stream]) - 1),
			Position:   eventstore.Position{Commit: n, Prepare: n},
			Type:       e.Type,
			Data:       clone(e.Data),
			Metadata:   clone(e.Metadata),
			RecordedAt: at,
		})
	}
	// Each waker has a buffer of one: a full buffer already means "read
	// again", so dropping this send loses nothing.
	for w := range s.wakers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	last := s.feed[len(s.feed)-1]
	return eventstore.AppendResult{Revision: last.Revision, Position: last.Position}, nil
}

// repeatLocked tells whether events were appended already. repeat is true
// when every ID is stored in stream, consecutively and in this order: res is
// then the first append's result. err is ErrDuplicateEvent when only some
// are, or elsewhere.
func (s *Store) repeatLocked(stream string, events []eventstore.EventData) (res eventstore.AppendResult, repeat bool, err error) {
	first, ok := s.byID[events[0].ID]
	if !ok {
		for _, e := range events[1:] {
			if _, ok := s.byID[e.ID]; ok {
				return res, false, fmt.Errorf("stream %s: event %s: %w", stream, e.ID, eventstore.ErrDuplicateEvent)
			}
		}
		return res, false, nil
	}
	start := s.feed[first]
	indexes := s.streams[stream]
	for i, e := range events {
		rev := start.Revision + uint64(i)
		if start.StreamID != stream || rev >= uint64(len(indexes)) || s.feed[indexes[rev]].ID != e.ID {
			return res, false, fmt.Errorf("stream %s: event %s: %w", stream, e.ID, eventstore.ErrDuplicateEvent)
		}
	}
	last := s.feed[indexes[start.Revision+uint64(len(events)-1)]]
	return eventstore.AppendResult{Revision: last.Revision, Position: last.Position}, true, nil
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64) ([]eventstore.RecordedEvent, error) {
	return s.ReadStreamPage(ctx, stream, from, math.MaxInt)
}

// ReadStreamPage implements eventstore.Store.
func (s *Store) ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("read stream %s: limit %d is not positive", stream, limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	indexes := s.streams[stream]
	out := make([]eventstore.RecordedEvent, 0)
	for rev := from; rev < uint64(len(indexes)) && len(out) < limit; rev++ {
		out = append(out, copyEvent(s.feed[indexes[rev]]))
	}
	return out, nil
}

// ReadAll implements eventstore.Store. Appends take a lock, so every event is
// readable the moment its position exists: nothing can commit late here.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("read all: limit %d is not positive", limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, _ := slices.BinarySearchFunc(s.feed, after, func(e eventstore.RecordedEvent, p eventstore.Position) int {
		if p.Less(e.Position) {
			return 1
		}
		return -1
	})
	end := min(i+limit, len(s.feed))
	out := make([]eventstore.RecordedEvent, 0, end-i)
	for _, e := range s.feed[i:end] {
		out = append(out, copyEvent(e))
	}
	return out, nil
}

// SubscribeAll implements eventstore.Store. The subscription sleeps until an
// append wakes it, so an idle subscriber costs nothing. Close it to release
// its place in the store.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	wake := make(chan struct{}, 1)
	s.mu.Lock()
	s.wakers[wake] = struct{}{}
	s.mu.Unlock()
	unregister := func() error {
		s.mu.Lock()
		delete(s.wakers, wake)
		s.mu.Unlock()
		return nil
	}
	return eventstore.NewPollingSubscription(s, after, wake, eventstore.PollConfig{}, unregister), nil
}

// copyEvent gives callers their own byte slices, so that neither they nor
// the store can change what the other holds.
func copyEvent(e eventstore.RecordedEvent) eventstore.RecordedEvent {
	e.Data = clone(e.Data)
	e.Metadata = clone(e.Metadata)
	return e
}

// clone copies b; an empty b becomes nil, as PostgreSQL gives back NULL.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}
