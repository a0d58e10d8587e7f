package chain

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// StreamReader reads a stream a page at a time, as stored: verification
// must see the sealed bytes the chain covers, never opened ones. Every
// eventstore.Store is one.
type StreamReader interface {
	ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error)
}

// pageSize is how many events Verify holds at once, so a stream of any
// length is checked in bounded memory.
const pageSize = 1000

// ProblemKind is the closed set of ways a stored history fails to verify.
type ProblemKind string

// The kinds of problem Verify reports.
const (
	// Altered: the event's bytes, or its place in the stream, are not what
	// its stored hash was computed over. Swapping two events' revisions or
	// contents shows up as this, since the revision is hashed too.
	Altered ProblemKind = "altered"
	// BrokenLink: the event is intact, but its prev_hash is not the hash of
	// the event before it, which was changed (and re-hashed), replaced or
	// stripped of its chain fields.
	BrokenLink ProblemKind = "broken_link"
	// Missing: revisions are not consecutive from 0, so events were deleted
	// from the middle, or the stream has no events at all. Deleting the last
	// events leaves no gap; only a signed head (CheckHead) sees that.
	Missing ProblemKind = "missing"
	// UnchainedAfterChained: an event without chain fields follows a chained
	// one. Events written before the chain existed all come first, so this
	// is an event whose fields were removed.
	UnchainedAfterChained ProblemKind = "unchained_after_chained"
	// Malformed: the event's chain fields are there but cannot be read.
	Malformed ProblemKind = "malformed"
)

// Problem is the first event of a stream that does not verify.
type Problem struct {
	Kind ProblemKind `json:"kind"`
	// Revision and EventID name the event read where the chain fails. Both
	// are empty only for a stream without events.
	Revision uint64 `json:"revision"`
	EventID  string `json:"event_id,omitempty"`
	// ExpectedRevision is the revision that was due, for Missing.
	ExpectedRevision *uint64 `json:"expected_revision,omitempty"`
	// Message names the event and what is wrong in one sentence.
	Message string `json:"message"`
}

// Tip is the last event of the part of a stream that verified.
type Tip struct {
	Revision uint64 `json:"revision"`
	EventID  string `json:"event_id"`
	// Hash is the event's link: its stored hash, or what an unchained
	// event's bytes hash to.
	Hash string `json:"hash"`
}

// Report is what Verify found in one stream.
type Report struct {
	PropertyID string `json:"property_id"`
	Stream     string `json:"stream"`
	// OK is true when every event verified and there was at least one.
	OK bool `json:"ok"`
	// Events counts the events that verified, before any problem; Chained
	// and Unchained split them. Unchained events were written before the
	// chain existed: only the last of them is covered by the chain (the
	// first chained event's prev_hash commits to its bytes).
	Events    uint64 `json:"events"`
	Chained   uint64 `json:"chained"`
	Unchained uint64 `json:"unchained"`
	// Head is the last event that verified; absent when none did.
	Head *Tip `json:"head,omitempty"`
	// Problem is the first event that does not verify; absent when OK.
	Problem *Problem `json:"problem,omitempty"`
}

// Verify recomputes the chain of stream from its first event and reports the
// first event that does not match. A history that does not verify is a
// Report with OK false, not an error: errors are the reader's. It reads
// a page at a time and is safe for concurrent use if r is.
func Verify(ctx context.Context, r StreamReader, stream string) (Report, error) {
	return verify(ctx, r, stream, math.MaxUint64, pageSize)
}

// verify checks stream up to and including revision until, reading page
// events at a time.
func verify(ctx context.Context, r StreamReader, stream string, until uint64, page int) (Report, error) {
	rep := Report{Stream: stream, PropertyID: strings.TrimPrefix(stream, domain.StreamPrefix)}
	w := walker{prev: Genesis}
	for {
		limit := page
		if left := until - w.next; left < uint64(page) {
			limit = int(left) + 1
		}
		recs, err := r.ReadStreamPage(ctx, stream, w.next, limit)
		if err != nil {
			return Report{}, fmt.Errorf("verify %s: %w", stream, err)
		}
		for _, rec := range recs {
			if p := w.step(rec); p != nil {
				rep = w.finish(rep)
				rep.OK, rep.Problem = false, p
				return rep, nil
			}
		}
		if len(recs) < limit || w.next > until {
			return w.finish(rep), nil
		}
	}
}

// walker carries what verifying one event needs from those before it.
type walker struct {
	next               uint64 // the revision the next event must have
	prev               string // the link the next chained event must name
	seenChained        bool
	chained, unchained uint64
	tip                Tip // the last event that verified, when chained+unchained > 0
}

// step checks rec against the events before it and, when it verifies,
// moves past it. It returns the problem rec has, or nil.
func (w *walker) step(rec eventstore.RecordedEvent) *Problem {
	bad := func(kind ProblemKind, format string, args ...any) *Problem {
		return &Problem{Kind: kind, Revision: rec.Revision, EventID: rec.ID,
			Message: fmt.Sprintf("event %s at revision %d: ", rec.ID, rec.Revision) + fmt.Sprintf(format, args...)}
	}
	if rec.Revision != w.next {
		p := bad(Missing, "revision %d was expected, so events %d to %d are missing", w.next, w.next, rec.Revision-1)
		switch {
		case rec.Revision == w.next+1:
			p = bad(Missing, "revision %d was expected, so the event at revision %d is missing", w.next, w.next)
		case rec.Revision < w.next:
			p = bad(Missing, "revision %d was expected: the stream's revisions are out of order", w.next)
		}
		expected := w.next
		p.ExpectedRevision = &expected
		return p
	}
	st, err := Read(rec)
	switch {
	case err != nil:
		return bad(Malformed, "%v", err)
	case !st.Chained && w.seenChained:
		return bad(UnchainedAfterChained, "it has no chain fields although an earlier event is chained: they were removed")
	case st.Chained && st.Computed != st.Hash:
		return bad(Altered, "its content or place in the stream changed since it was stored (stored hash %s, its bytes hash to %s)", st.Hash, st.Computed)
	case st.Chained && st.Prev != w.prev && rec.Revision == 0:
		return bad(BrokenLink, "the stream's first event names previous hash %s, not the genesis hash", st.Prev)
	case st.Chained && st.Prev != w.prev:
		return bad(BrokenLink, "it names previous hash %s but revision %d hashes to %s: an event before it was changed, replaced or stripped of its chain fields",
			st.Prev, rec.Revision-1, w.prev)
	}
	if st.Chained {
		w.seenChained = true
		w.chained++
	} else {
		w.unchained++
	}
	w.prev = st.Hash
	w.next++
	w.tip = Tip{Revision: rec.Revision, EventID: rec.ID, Hash: st.Hash}
	return nil
}

// finish fills rep with what the walk verified. A stream without events
// is a problem of its own: every property's stream starts with its creation.
func (w *walker) finish(rep Report) Report {
	rep.Chained, rep.Unchained, rep.Events = w.chained, w.unchained, w.chained+w.unchained
	rep.OK = rep.Events > 0
	if rep.OK {
		tip := w.tip
		rep.Head = &tip
	} else {
		var zero uint64
		rep.Problem = &Problem{Kind: Missing, ExpectedRevision: &zero,
			Message: fmt.Sprintf("stream %s has no events: revision 0 was expected", rep.Stream)}
	}
	return rep
}

// Store reads streams and the global feed; every eventstore.Store is one.
type Store interface {
	StreamReader
	ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error)
}

// VerifyAll verifies every property stream, calling fn with each report in
// turn, and stops at fn's first error. The streams are those of the global
// feed, in the order they first appear there, followed by the streams of
// the property IDs in also that the feed does not hold. The feed is the one
// listing every adapter offers, but it misses a property whose every event
// was deleted, and a feed that holds back late commits (PostgreSQL's, while
// a transaction is open anywhere on the server) may end early; a caller
// that knows properties from elsewhere (a read model, the events table)
// passes them in also, and a stream without events is reported Missing.
// Memory grows with the number of properties, not of events.
func VerifyAll(ctx context.Context, s Store, also []string, fn func(Report) error) error {
	streams, err := propertyStreams(ctx, s)
	if err != nil {
		return err
	}
	seen := make(map[string]struct{}, len(streams))
	for _, st := range streams {
		seen[st] = struct{}{}
	}
	for _, id := range also {
		if st := domain.StreamName(id); !has(seen, st) {
			seen[st] = struct{}{}
			streams = append(streams, st)
		}
	}
	for _, st := range streams {
		rep, err := Verify(ctx, s, st)
		if err != nil {
			return err
		}
		if err := fn(rep); err != nil {
			return err
		}
	}
	return nil
}

// propertyStreams lists the property streams of the global feed in the order
// they first appear, reading a page at a time.
func propertyStreams(ctx context.Context, s Store) ([]string, error) {
	var streams []string
	seen := map[string]struct{}{}
	after := eventstore.Start
	for {
		recs, err := s.ReadAll(ctx, after, pageSize)
		if err != nil {
			return nil, fmt.Errorf("list property streams: %w", err)
		}
		for _, rec := range recs {
			if strings.HasPrefix(rec.StreamID, domain.StreamPrefix) && !has(seen, rec.StreamID) {
				seen[rec.StreamID] = struct{}{}
				streams = append(streams, rec.StreamID)
			}
		}
		if len(recs) < pageSize {
			return streams, nil
		}
		after = recs[len(recs)-1].Position
	}
}

func has(set map[string]struct{}, k string) bool {
	_, ok := set[k]
	return ok
}
