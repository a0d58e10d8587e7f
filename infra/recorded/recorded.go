// Package recorded decodes what the event store recorded into what its
// readers work with: the domain event, its metadata, and where it sits in
// its stream and in the global feed. The projections, the mail consumer and
// the as-of reader all read events through it.
package recorded

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// ErrForeignStream is returned by Decode for an event that is not in a
// property stream. A consumer skips such events (they still advance the
// checkpoint): the feed may carry other streams one day.
var ErrForeignStream = errors.New("event is not in a property stream")

// Event is a recorded event decoded for its readers: the domain event, its
// metadata and where it sits in its stream and in the global feed.
type Event struct {
	// ID is the recorded event's ID, as the store gives it.
	ID         string
	Type       string
	Event      domain.Event
	Meta       domain.Metadata
	StreamID   string
	PropertyID string
	// Revision is the event's 0-based revision in its stream.
	Revision   uint64
	Position   eventstore.Position
	RecordedAt time.Time
}

// At is when the event happened: the metadata's OccurredAt, or the time it
// was recorded when the writer left that out.
func (e Event) At() time.Time {
	if e.Meta.OccurredAt.IsZero() {
		return e.RecordedAt
	}
	return e.Meta.OccurredAt
}

// Decode turns a recorded event into an Event. It returns an error
// wrapping ErrForeignStream for a stream that is not a property's, and an
// error for an unknown type, a malformed payload or malformed metadata.
func Decode(rec eventstore.RecordedEvent) (Event, error) {
	pid, ok := strings.CutPrefix(rec.StreamID, domain.StreamPrefix)
	if !ok || pid == "" {
		return Event{}, fmt.Errorf("decode event %s in stream %q: %w", rec.ID, rec.StreamID, ErrForeignStream)
	}
	ev, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		return Event{}, fmt.Errorf("event %s at %s: %w", rec.ID, rec.Position, err)
	}
	var meta domain.Metadata
	if len(rec.Metadata) > 0 {
		if err := json.Unmarshal(rec.Metadata, &meta); err != nil {
			return Event{}, fmt.Errorf("event %s at %s: decode metadata: %w", rec.ID, rec.Position, err)
		}
	}
	return Event{
		ID:         rec.ID,
		Type:       rec.Type,
		Event:      ev,
		Meta:       meta,
		StreamID:   rec.StreamID,
		PropertyID: pid,
		Revision:   rec.Revision,
		Position:   rec.Position,
		RecordedAt: rec.RecordedAt,
	}, nil
}
