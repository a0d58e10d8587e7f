package esdbdouble

import (
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// The expected versions of an append, as EventStoreDB numbers them
// internally (ExpectedVersion.Any, NoStream, StreamExists); an exact
// revision is itself.
const (
	expectAny          int64 = -2
	expectNoStream     int64 = -1
	expectStreamExists int64 = -4
)

// epochRecordSize is where the first event goes: a real node starts its log
// with an epoch record, so no event is ever at position 0.
const epochRecordSize = 128

// record is one event in the log. Every event commits itself, as appends
// outside explicit transactions do on a real node, so its commit and
// prepare positions are both pos.
type record struct {
	id          uuid.UUID
	stream      string
	number      int64
	eventType   string
	contentType string
	data        []byte
	metadata    []byte
	created     time.Time
	pos         uint64
}

// size is about what the record takes in the transaction file: a prepare
// record's fixed fields plus its strings and payloads. Positions advance by
// it, so they are sparse byte offsets, as on a real node.
func (r *record) size() uint64 {
	return uint64(88 + len(r.stream) + 1 + len(r.eventType) + 1 + len(r.data) + len(r.metadata))
}

// proposed is an event an append asks for.
type proposed struct {
	id          uuid.UUID
	eventType   string
	contentType string
	data        []byte
	metadata    []byte
}

// eventInfo is what the committed-events index keeps of an event ID.
type eventInfo struct {
	stream string
	number int64
}

// eventLog is the node's transaction file and indexes. It is safe for
// concurrent use.
type eventLog struct {
	mu      sync.RWMutex
	records []*record
	streams map[string][]int // stream -> indexes into records, by event number
	// ids is the committed-events index the idempotency check consults. A
	// real node keeps a bounded cache of it; this one forgets nothing.
	ids     map[uuid.UUID]eventInfo
	next    uint64        // where the next record goes
	changed chan struct{} // closed and replaced by every write
	now     func() time.Time
}

func newEventLog() *eventLog {
	return &eventLog{
		streams: make(map[string][]int),
		ids:     make(map[uuid.UUID]eventInfo),
		next:    epochRecordSize,
		changed: make(chan struct{}),
		now:     time.Now,
	}
}

// decision is the outcome of the commit check, named as the server names it.
type decision int

const (
	decisionOK decision = iota
	decisionIdempotent
	decisionWrongExpectedVersion
	// decisionCorruptedIdempotency: part of the append is stored and part
	// is not; the server answers it as a wrong expected version.
	decisionCorruptedIdempotency
)

// appendResult is what an append did. current is the stream's last event
// number when the check ran (-1 for no stream); for a success, last and pos
// are the last event's number and position (pos 0 when there is none).
type appendResult struct {
	decision decision
	current  int64
	last     int64
	pos      uint64
}

// append checks the append against the stream and writes it when the check
// says so, all under one lock, as the node's single writer does.
func (l *eventLog) append(stream string, expected int64, events []proposed) appendResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		ids[i] = e.id
	}
	d, current, end := l.checkLocked(stream, expected, ids)
	switch d {
	case decisionIdempotent:
		return appendResult{decision: d, current: current, last: end, pos: l.recordLocked(stream, end).pos}
	case decisionOK:
	default:
		return appendResult{decision: d, current: current}
	}
	if len(events) == 0 {
		return appendResult{decision: d, current: current, last: current}
	}
	now := l.now()
	indexes := l.streams[stream]
	for i, e := range events {
		r := &record{id: e.id, stream: stream, number: current + 1 + int64(i), eventType: e.eventType,
			contentType: e.contentType, data: e.data, metadata: e.metadata, created: now, pos: l.next}
		l.next += r.size()
		indexes = append(indexes, len(l.records))
		l.records = append(l.records, r)
		l.ids[e.id] = eventInfo{stream: stream, number: r.number}
	}
	l.streams[stream] = indexes
	close(l.changed)
	l.changed = make(chan struct{})
	last := l.records[len(l.records)-1]
	return appendResult{decision: d, current: current, last: last.number, pos: last.pos}
}

// checkLocked follows the node's commit check: idempotency first, by the
// committed-events index for Any and StreamExists (the first ID decides
// whether the append is new, the others whether it is a faithful repeat),
// and by position for an exact revision or NoStream behind the stream's end;
// then the expected version. end is the event number of the last event an
// idempotent append already has.
func (l *eventLog) checkLocked(stream string, expected int64, ids []uuid.UUID) (d decision, current, end int64) {
	current = int64(len(l.streams[stream])) - 1
	if expected == expectStreamExists && current < 0 {
		return decisionWrongExpectedVersion, current, -1
	}
	if expected == expectAny || expected == expectStreamExists {
		if len(ids) == 0 {
			return decisionOK, current, -1
		}
		for i, id := range ids {
			info, ok := l.ids[id]
			if !ok || info.stream != stream {
				if i == 0 {
					return decisionOK, current, -1
				}
				return decisionCorruptedIdempotency, current, -1
			}
			end = info.number
		}
		return decisionIdempotent, current, end
	}
	if expected < current {
		n := expected
		for _, id := range ids {
			n++
			if n <= current && l.recordLocked(stream, n).id == id {
				continue
			}
			if n == expected+1 {
				return decisionWrongExpectedVersion, current, -1
			}
			return decisionCorruptedIdempotency, current, -1
		}
		if n == expected {
			return decisionWrongExpectedVersion, current, -1
		}
		return decisionIdempotent, current, n
	}
	if expected > current {
		return decisionWrongExpectedVersion, current, -1
	}
	return decisionOK, current, -1
}

func (l *eventLog) recordLocked(stream string, number int64) *record {
	return l.records[l.streams[stream][number]]
}

// snapshot is what a reader may look at without the lock: the records
// written so far (never changed once written) and a channel closed by the
// next write.
func (l *eventLog) snapshot() ([]*record, <-chan struct{}) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.records[:len(l.records):len(l.records)], l.changed
}

// stream returns the records of stream in event-number order, and false
// when it has none.
func (l *eventLog) stream(name string) ([]*record, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	indexes, ok := l.streams[name]
	if !ok {
		return nil, false
	}
	out := make([]*record, len(indexes))
	for i, at := range indexes {
		out[i] = l.records[at]
	}
	return out, true
}

// position is a place in $all. Positions order by commit, then prepare.
type position struct{ commit, prepare uint64 }

func (p position) less(q position) bool {
	if p.commit != q.commit {
		return p.commit < q.commit
	}
	return p.prepare < q.prepare
}

func (r *record) position() position { return position{commit: r.pos, prepare: r.pos} }

// firstAtOrAfter returns the index of the first record at or after p,
// len(records) when there is none.
func firstAtOrAfter(records []*record, p position) int {
	i, _ := slices.BinarySearchFunc(records, p, func(r *record, p position) int {
		if r.position().less(p) {
			return -1
		}
		return 1
	})
	return i
}
