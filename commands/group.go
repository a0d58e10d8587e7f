package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// maxGroup bounds how many waiting commands one append carries.
const maxGroup = 64

// outcome is what deciding one job of a group gave.
type outcome struct {
	res     Result
	err     error
	decided bool // its events are in the group's append
	final   bool // res is the answer as it stands (a repeat)
	sameAs  int  // index of an earlier job with the same command ID, or -1
}

// group is one attempt at a group of jobs: their outcomes and the events
// they append together.
type group struct {
	outs []outcome
	data []eventstore.EventData
	head string // the chain's head after data
	// keys are the command IDs of keyed jobs that append, by job index.
	keys map[string]int
	// applied is true when the decided events are in the aggregate's state
	// already, though not yet in the stream.
	applied bool
	// base is the state's version the jobs were decided on, and now the
	// moment they were decided at.
	base uint64
	now  time.Time
	// from is the chain's head before data; batch, when the executor has
	// batches, seals data, and plain is data before sealing and linking.
	from  string
	batch KeyBatch
	plain []eventstore.EventData
}

// runJobs decides jobs in order on a's state, each seeing the events of those
// before it, appends all their events at once and answers every job. It is
// the write side's one retry loop: a conflict (another instance wrote)
// reads the stream on and decides again; a command with If-Match is then
// refused rather than decided on a state its sender has not seen.
func (x *Executor) runJobs(ctx context.Context, a *aggregate, jobs []*job) {
	stream := domain.StreamName(a.id)
	failAll := func(err error) {
		for _, j := range jobs {
			j.finish(Result{}, err)
		}
	}
	// A cached state may be behind when another instance wrote. An append
	// finds that out by itself, but an answer that appends nothing (a
	// refusal, a no-op, a stale If-Match) is only given from a fresh state.
	// A group reads first: its later decisions stand on the earlier ones'
	// events, which cannot be taken back one at a time.
	fresh := false
	if !a.loaded || len(jobs) > 1 {
		if err := x.catchUp(ctx, a, stream); err != nil {
			failAll(err)
			return
		}
		fresh = true
	}
	for attempt := 0; ; attempt++ {
		g := x.decide(ctx, a, jobs)
		if !fresh && !g.applied && g.needsFresh() {
			if err := x.catchUp(ctx, a, stream); err != nil {
				failAll(err)
				return
			}
			fresh = true
			attempt--
			continue
		}
		var res eventstore.AppendResult
		var err error
		if len(g.data) > 0 {
			res, err = x.appendGroup(ctx, stream, g)
		}
		if err == nil {
			x.answer(a, jobs, g, res)
			return
		}
		if !errors.Is(err, eventstore.ErrConflict) {
			// The append may or may not have landed: read the stream afresh next time.
			a.reset()
			failAll(fmt.Errorf("append to %s: %w", stream, err))
			return
		}
		if g.applied {
			a.reset() // the tentative events are in a's state, not in the stream
		}
		if err := x.catchUp(ctx, a, stream); err != nil {
			failAll(err)
			return
		}
		fresh = true
		kept := jobs[:0]
		for _, j := range jobs {
			if j.m.IfMatch != nil {
				j.finish(Result{}, domain.Errorf(domain.KindPrecondition, domain.CodeStaleRevision,
					"property %s changed while the command ran; reload and try again", a.id))
				continue
			}
			kept = append(kept, j)
		}
		if jobs = kept; len(jobs) == 0 {
			return
		}
		if attempt >= x.maxRetries {
			failAll(domain.Errorf(domain.KindConflict, domain.CodeConcurrentModification,
				"property %s is being changed by many requests at once; try again", a.id))
			return
		}
		if attempt > 0 {
			_ = backoff(ctx, attempt) // ctx cannot end: lead detached it
		}
	}
}

// expectedAt is the expectation of an append decided on a state of version
// events: no stream for a property not created yet.
func expectedAt(version uint64) eventstore.ExpectedRevision {
	if version == 0 {
		return eventstore.NoStream()
	}
	return eventstore.Exact(version - 1)
}

// decide decides each job on a's state. A lone job's events are applied to
// the state only once appended (answer does it), so a refusal or a conflict
// leaves the state as the stream has it; in a group each job's events are
// applied at once, for the next job to decide on.
func (x *Executor) decide(ctx context.Context, a *aggregate, jobs []*job) *group {
	stream := domain.StreamName(a.id)
	// PostgreSQL keeps microseconds; deciding on the same precision makes
	// what a command answers equal what the read models later show.
	now := x.now().UTC().Truncate(time.Microsecond)
	p := a.state
	g := &group{outs: make([]outcome, len(jobs)), head: a.head, from: a.head, keys: map[string]int{}, base: p.Version, now: now}
	if x.batches != nil {
		g.batch = x.batches()
	}
	version := p.Version
	for i, j := range jobs {
		o := &g.outs[i]
		o.sameAs = -1
		want := j.cmdID.String()
		if first, ok := g.keys[want]; ok { // keyed earlier in this group: not stored yet
			o.sameAs = first
			continue
		}
		if k, ok := a.keyed[want]; ok {
			o.res, o.err = x.keyedRepeat(ctx, stream, a.id, want, k, j.m)
			o.final = true
			continue
		}
		stale := j.m.IfMatch != nil && p.Exists() && version-1 != *j.m.IfMatch
		var events []domain.Event
		var err error
		if !stale || !knows(p, j.m.Actor) {
			// An access whose end has come counts as disabled from that
			// moment (section 12 of docs/ARCHITECTURE.md).
			p.DecideAt(now)
			events, err = j.decide(p, now, j.ids)
		}
		switch {
		case err != nil:
			o.err = err
			continue
		case stale:
			o.err = domain.Errorf(domain.KindPrecondition, domain.CodeStaleRevision,
				"property %s is at revision %d, not %d as If-Match says; reload and try again", a.id, version-1, *j.m.IfMatch)
			continue
		case len(events) == 0:
			// Its position is the stream's last, known after the append.
			o.res = Result{PropertyID: a.id, Revision: version - 1}
			continue
		}
		enc, next, err := x.encode(ctx, g, stream, version, g.head, events, j.m, j.cmdID, now)
		if err != nil {
			o.err = err
			continue
		}
		g.head = next
		g.data = append(g.data, enc...)
		version += uint64(len(events))
		o.decided = true
		o.res = Result{PropertyID: a.id, Revision: version - 1, Events: events}
		if j.m.IdempotencyKey != "" {
			g.keys[want] = i
		}
		if len(jobs) > 1 {
			for _, e := range events {
				p.Apply(e, now)
			}
			g.applied = true
		}
	}
	return g
}

// needsFresh reports whether an outcome is one a cached state may have got
// wrong without an append to tell: a refusal, a no-op or a stale If-Match.
func (g *group) needsFresh() bool {
	for _, o := range g.outs {
		if o.err != nil || (!o.decided && !o.final && o.sameAs < 0) {
			return true
		}
	}
	return false
}

// answer records an append that landed in a's state and answers every job.
func (x *Executor) answer(a *aggregate, jobs []*job, g *group, res eventstore.AppendResult) {
	if len(g.data) > 0 {
		if !g.applied {
			// A lone job: its events go into the state now that they are stored.
			o := g.outs[0]
			for _, e := range o.res.Events {
				a.state.Apply(e, g.now)
			}
		}
		a.last, a.head = res.Position, g.head
		for want, i := range g.keys {
			o := g.outs[i]
			first := o.res.Revision + 1 - uint64(len(o.res.Events))
			a.keyed[want] = keyedCommand{first: first, last: o.res.Revision, position: res.Position, requestHash: jobs[i].m.RequestHash}
		}
	}
	for i, j := range jobs {
		o := g.outs[i]
		switch {
		case o.sameAs >= 0:
			first := g.outs[o.sameAs]
			if j.m.RequestHash != "" && jobs[o.sameAs].m.RequestHash != j.m.RequestHash {
				j.finish(Result{}, domain.Errorf(domain.KindInvalid, domain.CodeIdempotencyKeyReused,
					"idempotency key %q was already used for a different request", j.m.IdempotencyKey))
				continue
			}
			r := first.res
			r.Position, r.Repeated = res.Position, true
			j.finish(r, nil)
		case o.err != nil:
			j.finish(Result{}, o.err)
		case o.final:
			j.finish(o.res, nil)
		default: // appended, or changed nothing: both answer the stream's last position
			o.res.Position = a.last
			j.finish(o.res, nil)
		}
	}
}
