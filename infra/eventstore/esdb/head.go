package esdb

import (
	"context"
	"fmt"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/rosterhq/roster/infra/eventstore"
)

// scanPage is how many events Head and CountAfter read from $all at a time.
const scanPage = 256

// Head returns the position of the last event of the feed, or
// eventstore.Start when the feed is empty. It reads $all backwards from its
// end until it meets a feed event, so events of other streams written
// since cost a read each. It is safe for concurrent use.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var from esdbclient.AllPosition = esdbclient.End{}
	for {
		page, err := s.page(ctx, from, esdbclient.Backwards, scanPage)
		if err != nil {
			return eventstore.Start, fmt.Errorf("read the head of the feed: %w", err)
		}
		for _, e := range page {
			if s.inFeed(e) {
				return toPosition(e.Position), nil
			}
		}
		if len(page) < scanPage {
			return eventstore.Start, nil
		}
		// A backward read from a position starts before the event there.
		from = page[len(page)-1].Position
	}
}

// CountAfter returns how many feed events come after position after. It
// reads $all forwards from there, so its cost grows with the events after
// after, of the feed or not. It is safe for concurrent use.
func (s *Store) CountAfter(ctx context.Context, after eventstore.Position) (int64, error) {
	var n int64
	cursor := after
	for {
		page, err := s.page(ctx, fromPosition(cursor), esdbclient.Forwards, scanPage)
		if err != nil {
			return 0, fmt.Errorf("count events after %s: %w", after, err)
		}
		for _, e := range page {
			p := toPosition(e.Position)
			if !cursor.Less(p) {
				continue // the event at the cursor, which a forward read includes
			}
			cursor = p
			if s.inFeed(e) {
				n++
			}
		}
		if len(page) < scanPage {
			return n, nil
		}
	}
}

// Ping reports whether the server answers, for readiness checks: it reads
// the head of $all, the cheapest read that needs a live leader or follower.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.Head(ctx)
	return err
}
