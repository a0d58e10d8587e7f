package projections

import (
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// PartialRebuildError is RebuildAll's error when projections met an event
// they cannot apply (see IsPoison): those were given up, their live tables
// and checkpoints left as they were, while the others were rebuilt and
// switched over. Skipping the event for a projection (SkipEvent) lets its
// next rebuild pass over it.
type PartialRebuildError struct {
	// Failed holds each projection given up, in the order asked, with the
	// event that failed it.
	Failed []*EventError
}

func (e *PartialRebuildError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		parts[i] = "rebuild gave up " + f.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the failures, for errors.Is and errors.As.
func (e *PartialRebuildError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f
	}
	return out
}

// GaveUp reports whether the rebuild gave the projection name up.
func (e *PartialRebuildError) GaveUp(name string) bool {
	for _, f := range e.Failed {
		if f.Projection == name {
			return true
		}
	}
	return false
}

// givenUp collects the projections a rebuild gave up, by name, with the
// event that failed each. It is safe for concurrent use: the replay's lanes
// add to it as they meet such events.
type givenUp struct {
	log zerolog.Logger
	mu  sync.Mutex
	by  map[string]*EventError
}

// add gives ee's projection up, and reports false when it was already.
func (g *givenUp) add(ee *EventError) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.by[ee.Projection] != nil {
		return false
	}
	g.by[ee.Projection] = ee
	g.log.Warn().Err(ee.Err).Str("projection", ee.Projection).Str("event_id", ee.EventID).
		Msg("rebuild gives this projection up: it cannot apply the event; the others go on")
	return true
}

func (g *givenUp) has(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.by[name] != nil
}

// others returns the rebuilders of rs not given up.
func (g *givenUp) others(rs []*rebuilder) []*rebuilder {
	var out []*rebuilder
	for _, r := range rs {
		if !g.has(r.p.Name) {
			out = append(out, r)
		}
	}
	return out
}

// err returns the *PartialRebuildError of the projections of ps given up,
// or nil when none was.
func (g *givenUp) err(ps []Projection) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var failed []*EventError
	for _, p := range ps {
		if ee := g.by[p.Name]; ee != nil {
			failed = append(failed, ee)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &PartialRebuildError{Failed: failed}
}
