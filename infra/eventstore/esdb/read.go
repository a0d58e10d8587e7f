package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/rosterhq/roster/infra/eventstore"
)

// wholeStream is the count that asks for the rest of a stream: the node
// counts in signed 64-bit numbers.
const wholeStream = math.MaxInt64

// ReadStream implements eventstore.Store. A stream the node does not know
// gives an empty slice.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64) ([]eventstore.RecordedEvent, error) {
	events, err := s.read(ctx, stream, from, wholeStream)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	s.known.rememberEvents(events)
	return events, nil
}

// ReadStreamPage implements eventstore.Store.
func (s *Store) ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("read stream %s: limit %d is not positive", stream, limit)
	}
	events, err := s.read(ctx, stream, from, uint64(limit))
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	s.known.rememberEvents(events)
	return events, nil
}

// read returns up to count events of stream from revision from.
func (s *Store) read(ctx context.Context, stream string, from, count uint64) ([]eventstore.RecordedEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]eventstore.RecordedEvent, 0)
	if from > math.MaxInt64 {
		// No stream is that long, and the node reads revisions as signed
		// numbers.
		return out, nil
	}
	var page []eventstore.RecordedEvent
	err := s.client.do(ctx, func(c *esdbclient.Client) error {
		rs, err := c.ReadStream(ctx, stream, esdbclient.ReadStreamOptions{From: esdbclient.Revision(from)}, count)
		if err != nil {
			return err
		}
		defer rs.Close()
		for {
			e, err := rs.Recv()
			if errors.Is(err, io.EOF) || isNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			if e.Event != nil {
				page = append(page, toRecorded(e.Event))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return append(out, page...), nil
}

// ReadAll implements eventstore.Store: up to limit events of the feed
// after position after. It reads $all in pages and keeps the feed's events
// (see the package documentation); a page starts at the last position read,
// which a forward read of $all includes, so that event is read twice and
// dropped the second time. The node's log is read in commit order, so no
// event can appear later before one already returned.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("read all: limit %d is not positive", limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]eventstore.RecordedEvent, 0, min(limit, 64))
	cursor := after
	for len(out) < limit {
		count := uint64(limit-len(out)) + 1
		page, err := s.page(ctx, fromPosition(cursor), esdbclient.Forwards, count)
		if err != nil {
			return nil, fmt.Errorf("read all after %s: %w", after, err)
		}
		for _, e := range page {
			p := toPosition(e.Position)
			if !cursor.Less(p) {
				continue
			}
			cursor = p
			if s.inFeed(e) && len(out) < limit {
				out = append(out, toRecorded(e))
			}
		}
		if uint64(len(page)) < count {
			break // the end of $all
		}
	}
	return out, nil
}

// page reads up to count events of $all from a position in a direction.
func (s *Store) page(ctx context.Context, from esdbclient.AllPosition, dir esdbclient.Direction, count uint64) ([]*esdbclient.RecordedEvent, error) {
	var page []*esdbclient.RecordedEvent
	err := s.client.do(ctx, func(c *esdbclient.Client) error {
		rs, err := c.ReadAll(ctx, esdbclient.ReadAllOptions{From: from, Direction: dir}, count)
		if err != nil {
			return err
		}
		defer rs.Close()
		for {
			e, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if e.Event != nil {
				page = append(page, e.Event)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

func isNotFound(err error) bool {
	var e *esdbclient.Error
	return errors.As(err, &e) && e.Code() == esdbclient.ErrorCodeResourceNotFound
}
