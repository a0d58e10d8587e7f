package esdbdouble

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
)

// fromProtoUUID reads an ID in either form the protocol has: two 64-bit
// halves, most significant first, or the canonical string.
func fromProtoUUID(id *shared.UUID) (uuid.UUID, error) {
	switch v := id.GetValue().(type) {
	case *shared.UUID_Structured_:
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], uint64(v.Structured.GetMostSignificantBits()))
		binary.BigEndian.PutUint64(b[8:], uint64(v.Structured.GetLeastSignificantBits()))
		return uuid.UUID(b), nil
	case *shared.UUID_String_:
		return uuid.Parse(v.String_)
	}
	return uuid.Nil, errors.New("the event id is missing")
}

// toProtoUUID writes id in the form the reader asked for.
func toProtoUUID(id uuid.UUID, asString bool) *shared.UUID {
	if asString {
		return &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

func newID() uuid.UUID { return uuid.New() }

// ticksSinceEpoch is how a node writes times: 100-nanosecond ticks since
// the Unix epoch.
func ticksSinceEpoch(r *record) string {
	return strconv.FormatInt(r.created.UnixNano()/100, 10)
}

// readEvent is the message that carries r to a reader: the recorded event
// with its system properties, and its commit position.
func readEvent(r *record, idsAsStrings bool) *streams.ReadResp {
	return &streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               toProtoUUID(r.id, idsAsStrings),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			StreamRevision:   uint64(r.number),
			PreparePosition:  r.pos,
			CommitPosition:   r.pos,
			Metadata: map[string]string{
				propType:        r.eventType,
				propContentType: r.contentType,
				propCreated:     ticksSinceEpoch(r),
			},
			CustomMetadata: r.metadata,
			Data:           r.data,
		},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.pos},
	}}}
}
