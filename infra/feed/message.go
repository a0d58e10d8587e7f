// Package feed carries the event store's global feed into watermill: a
// Subscriber that delivers the stored events as messages, in feed order,
// from a consumer's checkpoint, and the two formats such messages have: one
// event per message (ToMessage), or a run of consecutive events in one
// message for consumers that apply them together (ToBatchMessage).
package feed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

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
	// KeyBatch is set on a batch message only: how many events it carries.
	// KeyCommit, KeyPrepare and KeyRecordedAt then describe its last event.
	KeyBatch = "roster_batch"
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

// LastPosition is the position of the last event msg carries, from its
// metadata; ok is false when msg does not say.
func LastPosition(msg *message.Message) (pos eventstore.Position, ok bool) {
	c, err1 := strconv.ParseUint(msg.Metadata.Get(KeyCommit), 10, 64)
	p, err2 := strconv.ParseUint(msg.Metadata.Get(KeyPrepare), 10, 64)
	if err1 != nil || err2 != nil {
		return eventstore.Start, false
	}
	return eventstore.Position{Commit: c, Prepare: p}, true
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

// batchSpace namespaces the name-based UUIDs of batch messages.
var batchSpace = uuid.MustParse("0b7c61e2-7d53-4a8e-9f0c-5e2d8a3c41f7")

// batchFormat is the first byte of a batch message's payload: the version
// of the encoding that follows.
const batchFormat byte = 1

// ToBatchMessage turns consecutive stored events (at least one) into one
// message. Its UUID is derived from the first and last event IDs, so a
// redelivery of the same run carries the same UUID; its metadata describes
// the last event, which is where a consumer that handled the message has
// got to. The payload holds every field of every event, byte for byte, in
// a binary encoding of its own: event data need not be JSON, and a batch
// of hundreds is encoded and decoded without reflection.
func ToBatchMessage(recs []eventstore.RecordedEvent) *message.Message {
	first, last := recs[0], recs[len(recs)-1]
	id := uuid.NewSHA1(batchSpace, []byte(first.ID+"\x00"+last.ID+"\x00"+strconv.Itoa(len(recs)))).String()
	size := 1 + binary.MaxVarintLen64
	for _, r := range recs {
		size += len(r.ID) + len(r.StreamID) + len(r.Type) + len(r.Data) + len(r.Metadata) + 10*binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = append(b, batchFormat)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		for _, s := range [][]byte{[]byte(r.ID), []byte(r.StreamID), []byte(r.Type), r.Data, r.Metadata} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendUvarint(b, r.Revision)
		b = binary.AppendUvarint(b, r.Position.Commit)
		b = binary.AppendUvarint(b, r.Position.Prepare)
		b = binary.AppendVarint(b, r.RecordedAt.Unix())
		b = binary.AppendUvarint(b, uint64(r.RecordedAt.Nanosecond()))
	}
	msg := message.NewMessage(id, b)
	msg.Metadata.Set(KeyBatch, strconv.Itoa(len(recs)))
	msg.Metadata.Set(KeyCommit, strconv.FormatUint(last.Position.Commit, 10))
	msg.Metadata.Set(KeyPrepare, strconv.FormatUint(last.Position.Prepare, 10))
	msg.Metadata.Set(KeyRecordedAt, last.RecordedAt.UTC().Format(time.RFC3339Nano))
	return msg
}

// Events returns the events a feed message carries, in feed order: the one
// of a ToMessage message, or those of a ToBatchMessage message. It fails
// when msg is neither, naming the message. The events' byte slices share
// the message's payload.
func Events(msg *message.Message) ([]eventstore.RecordedEvent, error) {
	if msg.Metadata.Get(KeyBatch) == "" {
		rec, err := FromMessage(msg)
		if err != nil {
			return nil, err
		}
		return []eventstore.RecordedEvent{rec}, nil
	}
	recs, err := decodeBatch(msg.Payload)
	if err != nil {
		return nil, fmt.Errorf("message %s is not a feed batch: %w", msg.UUID, err)
	}
	if n, err := strconv.Atoi(msg.Metadata.Get(KeyBatch)); err != nil || n != len(recs) {
		return nil, fmt.Errorf("message %s is not a feed batch: it says %q events and holds %d", msg.UUID, msg.Metadata.Get(KeyBatch), len(recs))
	}
	return recs, nil
}

// EventCount is how many events msg carries: KeyBatch for a batch, else one.
func EventCount(msg *message.Message) int {
	if n, err := strconv.Atoi(msg.Metadata.Get(KeyBatch)); err == nil && n > 0 {
		return n
	}
	return 1
}

var errTruncated = errors.New("payload ends inside an event")

func decodeBatch(b []byte) ([]eventstore.RecordedEvent, error) {
	if len(b) == 0 || b[0] != batchFormat {
		return nil, errors.New("unknown payload format")
	}
	d := batchDecoder{b: b[1:]}
	n := d.uvarint()
	// Each event takes at least 10 bytes, so a count beyond that is a lie
	// that must not size an allocation.
	if d.err != nil || n == 0 || n > uint64(len(d.b))/10 {
		return nil, fmt.Errorf("bad event count %d", n)
	}
	recs := make([]eventstore.RecordedEvent, n)
	for i := range recs {
		r := &recs[i]
		r.ID, r.StreamID, r.Type = string(d.bytes()), string(d.bytes()), string(d.bytes())
		r.Data, r.Metadata = d.bytes(), d.bytes()
		if len(r.Metadata) == 0 {
			r.Metadata = nil
		}
		r.Revision, r.Position.Commit, r.Position.Prepare = d.uvarint(), d.uvarint(), d.uvarint()
		sec, nsec := d.varint(), d.uvarint()
		if nsec >= uint64(time.Second) {
			d.fail()
		}
		r.RecordedAt = time.Unix(sec, int64(nsec)).UTC()
		if d.err != nil {
			return nil, fmt.Errorf("event %d: %w", i, d.err)
		}
	}
	if len(d.b) > 0 {
		return nil, fmt.Errorf("%d bytes after the last event", len(d.b))
	}
	return recs, nil
}

// batchDecoder reads a batch payload; its first failure sticks.
type batchDecoder struct {
	b   []byte
	err error
}

func (d *batchDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *batchDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *batchDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *batchDecoder) fail() {
	if d.err == nil {
		d.err = errTruncated
	}
	d.b = nil
}
