// Package projections turns the global event feed into PostgreSQL read
// models. Each projection lives in its own file with an explicit table from
// event type to reducer, owns its own tables, and writes its checkpoint in
// the same transaction as its rows, so a crash never applies an event twice
// or skips one.
package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// ErrForeignStream is returned by Decode for an event that is not in a
// property stream. The runner skips such events (they still advance the
// checkpoint): the feed may carry other streams one day.
var ErrForeignStream = errors.New("event is not in a property stream")

// Envelope is a recorded event decoded for a reducer: the domain event, its
// metadata and where it sits in its stream and in the global feed.
type Envelope struct {
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
func (e Envelope) At() time.Time {
	if e.Meta.OccurredAt.IsZero() {
		return e.RecordedAt
	}
	return e.Meta.OccurredAt
}

// Decode turns a recorded event into an Envelope. It returns an error
// wrapping ErrForeignStream for a stream that is not a property's, and an
// error for an unknown type, a malformed payload or malformed metadata.
func Decode(rec eventstore.RecordedEvent) (Envelope, error) {
	pid, ok := strings.CutPrefix(rec.StreamID, domain.StreamPrefix)
	if !ok || pid == "" {
		return Envelope{}, fmt.Errorf("decode event %s in stream %q: %w", rec.ID, rec.StreamID, ErrForeignStream)
	}
	ev, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		return Envelope{}, fmt.Errorf("event %s at %s: %w", rec.ID, rec.Position, err)
	}
	var meta domain.Metadata
	if len(rec.Metadata) > 0 {
		if err := json.Unmarshal(rec.Metadata, &meta); err != nil {
			return Envelope{}, fmt.Errorf("event %s at %s: decode metadata: %w", rec.ID, rec.Position, err)
		}
	}
	return Envelope{
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

// Reducer applies one event to a projection's tables inside the batch's
// transaction. An error rolls back the whole batch, checkpoint included.
type Reducer func(ctx context.Context, tx pgx.Tx, e Envelope) error

// Projection is a named read model: the reducer of each event type it
// handles. Events of other types are skipped but still advance its
// checkpoint. The name keys its checkpoint, so renaming it rebuilds it.
//
// The projections this package builds apply a batch set-wise, reading and
// writing each table a few times per batch whatever its size; their
// Reducers apply one event the same way. A Projection made of Reducers of
// its own, or whose Reducers map was replaced (to wrap them), applies a
// batch one reducer call after another, in feed order.
type Projection struct {
	Name     string
	Reducers map[string]Reducer
	// Tables are every table the projection writes, and no other
	// projection does: a rebuild recreates exactly these.
	Tables []string

	// set is the set-wise form of the projections this package builds,
	// which applies a batch in a few statements per table; see folded.
	set fold
}

// All returns every projection the service runs, in a stable order.
func All() []Projection {
	return []Projection{Properties(), Members(), Invitations(), MyInvitations(), Audit(), MyProperties(), Access(), Notifications()}
}
