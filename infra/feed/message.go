// Package feed carries the event store's global feed into watermill: a
// Subscriber that delivers each stored event as a message, in feed order,
// from a consumer's checkpoint, and the one format such messages have.
package feed

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Metadata keys of a feed message. The payload is the event's data as
// stored; the event's own metadata (actor, correlation...) travels under
// KeyEventMetadata.
const (
	KeyType          = "roster_event_type"
	KeyStream        = "roster_stream"
	KeyRevision      = "roster_revision"
	KeyCommit        = "roster_commit"
	KeyPrepare       = "roster_prepare"
	KeyRecordedAt    = "roster_recorded_at"
	KeyEventMetadata = "roster_event_metadata"
)

// ToMessage turns a stored event into a watermill message whose UUID is the
// event ID, so every consumer and broker can de-duplicate by it.
func ToMessage(rec eventstore.RecordedEvent) *message.Message {
	msg := message.NewMessage(rec.ID, rec.Data)
	msg.Metadata.Set(KeyType, rec.Type)
	msg.Metadata.Set(KeyStream, rec.StreamID)
	msg.Metadata.Set(KeyRevision, strconv.FormatUint(rec.Revision, 10))
	msg.Metadata.Set(KeyCommit, strconv.FormatUint(rec.Position.Commit, 10))
	msg.Metadata.Set(KeyPrepare, strconv.FormatUint(rec.Position.Prepare, 10))
	msg.Metadata.Set(KeyRecordedAt, rec.RecordedAt.UTC().Format(time.RFC3339Nano))
	msg.Metadata.Set(KeyEventMetadata, string(rec.Metadata))
	return msg
}

// FromMessage turns a feed message back into the stored event. It fails when
// msg did not come from ToMessage.
func FromMessage(msg *message.Message) (eventstore.RecordedEvent, error) {
	md := msg.Metadata
	revision, err1 := strconv.ParseUint(md.Get(KeyRevision), 10, 64)
	commit, err2 := strconv.ParseUint(md.Get(KeyCommit), 10, 64)
	prepare, err3 := strconv.ParseUint(md.Get(KeyPrepare), 10, 64)
	recorded, err4 := time.Parse(time.RFC3339Nano, md.Get(KeyRecordedAt))
	if md.Get(KeyType) == "" || md.Get(KeyStream) == "" || err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("message %s is not a feed event: metadata %v", msg.UUID, md)
	}
	var meta []byte
	if m := md.Get(KeyEventMetadata); m != "" {
		meta = []byte(m)
	}
	return eventstore.RecordedEvent{
		ID: msg.UUID, StreamID: md.Get(KeyStream), Revision: revision, Type: md.Get(KeyType),
		Position: eventstore.Position{Commit: commit, Prepare: prepare},
		Data:     msg.Payload, Metadata: meta, RecordedAt: recorded,
	}, nil
}
