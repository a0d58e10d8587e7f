package esdb

import (
	"sync"

	"github.com/rosterhq/roster/infra/eventstore"
)

// knownIDs remembers where event IDs are stored: the last max IDs the Store
// appended or read from a stream, with their stream and revision. What it
// holds is true for good (a stored event never moves); what it has
// forgotten, or never saw, it cannot tell. It is safe for concurrent use.
type knownIDs struct {
	mu    sync.Mutex
	max   int
	at    map[string]place
	order []string // a ring of the IDs in at, oldest at next
	next  int
}

type place struct {
	stream   string
	revision uint64
}

func newKnownIDs(max int) *knownIDs {
	return &knownIDs{max: max, at: make(map[string]place, min(max, 1024))}
}

// knowledge is what the store knows of an append's IDs.
type knowledge int

const (
	// knownNone: none of the IDs is known.
	knownNone knowledge = iota
	// knownRepeat: every ID is known, in this stream, at consecutive
	// revisions in the append's order.
	knownRepeat
	// knownElsewhere: some IDs are known, but not as a repeat.
	knownElsewhere
)

// lookup tells what the store knows of ids appended to stream; for a
// repeat, first is the revision of the first ID.
func (k *knownIDs) lookup(stream string, ids []string) (kind knowledge, first uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	found, inPlace := 0, true
	var start place
	for i, id := range ids {
		p, ok := k.at[id]
		if i == 0 {
			start = p
		}
		if ok {
			found++
		}
		if !ok || p.stream != stream || p.revision != start.revision+uint64(i) {
			inPlace = false
		}
	}
	switch {
	case found == 0:
		return knownNone, 0
	case found == len(ids) && inPlace:
		return knownRepeat, start.revision
	}
	return knownElsewhere, 0
}

// remember notes ids stored in stream from revision first on.
func (k *knownIDs) remember(stream string, first uint64, ids []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, id := range ids {
		k.putLocked(id, place{stream: stream, revision: first + uint64(i)})
	}
}

// rememberEvents notes where recorded events are.
func (k *knownIDs) rememberEvents(events []eventstore.RecordedEvent) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range events {
		k.putLocked(e.ID, place{stream: e.StreamID, revision: e.Revision})
	}
}

func (k *knownIDs) putLocked(id string, p place) {
	if k.max <= 0 {
		return
	}
	if _, ok := k.at[id]; ok {
		// An ID stored twice (a node lets Any do that) keeps its first
		// place; the ring already holds it.
		return
	}
	if len(k.order) < k.max {
		k.order = append(k.order, id)
	} else {
		delete(k.at, k.order[k.next])
		k.order[k.next] = id
		k.next = (k.next + 1) % k.max
	}
	k.at[id] = p
}
