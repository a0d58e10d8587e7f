package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// closedLoop runs workers goroutines, each sending its next request as
// soon as the last one answered, until d has passed; requests under way
// then finish. It returns the time from start to the last answer.
func closedLoop(ctx context.Context, workers int, d time.Duration, op func(ctx context.Context, worker, i int)) time.Duration {
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				op(ctx, w, i)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// paced sends rate requests a second for d whatever the answers do (an
// open loop), each at its own planned moment. op gets that moment and
// times its request from it, so a slow server shows as latency rather than
// as fewer requests (no coordinated omission). At most inflight requests
// wait at once; a moment that finds them all busy is skipped and counted.
func paced(ctx context.Context, rate float64, d time.Duration, inflight int, op func(ctx context.Context, i int, planned time.Time)) (took time.Duration, sent, skipped int) {
	start := time.Now()
	n := int(rate * d.Seconds())
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	for i := range n {
		planned := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if sleep(ctx, time.Until(planned)) != nil {
			break
		}
		select {
		case sem <- struct{}{}:
			sent++
			wg.Go(func() {
				defer func() { <-sem }()
				op(ctx, i, planned)
			})
		default:
			skipped++
		}
	}
	wg.Wait()
	return time.Since(start), sent, skipped
}

// lagEvery samples the projection lag of one accepted command in this many
// per worker: enough samples for a p99, few enough extra queries not to
// change the load being measured.
const lagEvery = 10

// lagSampler measures projection lag: from a command's answer to a query
// that shows its change. The query is GET /v1/properties/{pid} carrying the
// command's position in Roster-Min-Position; it counts as showing the
// change once it is not stale and the property's revision has reached the
// command's. Samples are queued to workers of their own so waiting for
// them never slows the load; a sample that finds the queue full is dropped
// and counted.
type lagSampler struct {
	c       *client
	tok     string
	queue   chan lagProbe
	wg      sync.WaitGroup
	rec     Recorder
	errs    Errors
	dropped atomic.Int64
}

type lagProbe struct {
	pid      string
	pos      string
	revision uint64
	answered time.Time
}

// lagGiveUp ends a probe whose change never shows; it counts as an error.
const lagGiveUp = 30 * time.Second

func newLagSampler(ctx context.Context, c *client, tok string, workers int) *lagSampler {
	l := &lagSampler{c: c, tok: tok, queue: make(chan lagProbe, 1024)}
	for range workers {
		l.wg.Go(func() {
			for p := range l.queue {
				l.probe(ctx, p)
			}
		})
	}
	return l
}

// offer samples command a of property pid, answered at answered, when i
// (the worker's request count) falls on the sampling step.
func (l *lagSampler) offer(i int, pid string, a answer, answered time.Time) {
	if i%lagEvery != 0 {
		return
	}
	var res commandAnswer
	if a.decode(&res) != nil {
		l.errs.Add("lag: command answer unreadable")
		return
	}
	select {
	case l.queue <- lagProbe{pid: pid, pos: a.Header.Get("Roster-Position"), revision: res.Revision, answered: answered}:
	default:
		l.dropped.Add(1)
	}
}

func (l *lagSampler) probe(ctx context.Context, p lagProbe) {
	for ctx.Err() == nil {
		a := l.c.get(ctx, "/v1/properties/"+p.pid, l.tok, "Roster-Min-Position", p.pos)
		var v propertyView
		switch {
		case time.Since(p.answered) > lagGiveUp:
			l.errs.Add("lag: change not visible after 30s")
			return
		case a.stale():
			// The read side gave up waiting; until it catches up even the
			// caller's membership may not show, so any answer is early.
			continue
		case a.Kind != "":
			l.errs.Add("lag query: " + a.Kind)
			return
		case a.decode(&v) == nil && v.Revision >= p.revision:
			l.rec.Record(time.Since(p.answered))
			return
		}
	}
}

// close waits for the queued probes and returns the lag.
func (l *lagSampler) close() Latency {
	close(l.queue)
	l.wg.Wait()
	return l.rec.Summary()
}
