package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/projections"
)

// groupTopic starts the topic, and the router handler's name, of each
// generation of the group; no consumer may be named so.
const groupTopic = "projections group"

// group runs the projections this instance leads as one handler of one
// subscription (docs/ARCHITECTURE.md section 9): each batch is read,
// opened, decoded and applied by all of them in one transaction, under
// each one's lease (projections.Group). The leases stay one per
// projection.
//
// A generation is the group's handler for one set of members. A term that
// starts joins the group at the next sync, which stops the generation and
// starts another from the lowest checkpoint of the new set; a term that
// ends simply drops out of its generation. A member that cannot go on with
// the others (an event of it fails, its lease is gone, its checkpoint is
// behind) leaves the group and runs alone, with the Handler, retries and
// StopOnPoison it would have had without the group, until its term ends.
type group struct {
	c *Consumers
	// restart is held by whoever stops or starts a generation.
	restart sync.Mutex

	mu      sync.Mutex
	cur     *generation
	joining []*term
	n       int // generations so far, naming their handlers
	apply   *projections.Group
	open    projections.Opener
	// wg counts the projections on their way back into the group.
	wg sync.WaitGroup
}

// generation is one set of members under one handler of the group.
type generation struct {
	topic   string
	handler *message.Handler
	// members and after are guarded by the group's mu. A member that left
	// is removed; one whose term ended stays until the next generation.
	members []*term
	// after is the position before the next batch: where the generation's
	// subscription started, then the last batch applied.
	after eventstore.Position
}

// join adds t to the members of the next generation, or runs it alone
// when it opens events otherwise than the group: the next sync starts it.
func (g *group) join(t *term, open projections.Opener) {
	g.mu.Lock()
	if g.apply == nil {
		g.apply, g.open = projections.NewGroup(g.c.cfg.Pool, open, g.c.log), open
	}
	alone := g.open != open
	if !alone {
		g.joining = append(g.joining, t)
	}
	g.mu.Unlock()
	if alone {
		g.c.lead.runAlone(t, nil)
	}
}

// sync starts a new generation when terms joined since the last one: it
// stops the one in progress (waiting for its batch) and follows the feed
// again from the lowest checkpoint of the members.
func (g *group) sync(handlers context.Context) {
	g.restart.Lock()
	defer g.restart.Unlock()
	g.mu.Lock()
	old := g.cur
	if len(g.joining) == 0 {
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	if old != nil {
		old.handler.Stop()
		<-old.handler.Stopped()
	}
	g.mu.Lock()
	var ms []*term
	if old != nil {
		ms = append(ms, old.members...)
	}
	ms = append(ms, g.joining...)
	g.joining = nil
	ms = slices.DeleteFunc(ms, func(t *term) bool { return t.over.Load() })
	g.cur = nil
	if len(ms) == 0 {
		g.mu.Unlock()
		return
	}
	g.n++
	gen := &generation{topic: fmt.Sprintf("%s@%d", groupTopic, g.n), members: ms}
	g.cur = gen
	g.mu.Unlock()

	c := g.c
	fn := chain(func(msg *message.Message) ([]*message.Message, error) { return nil, g.handle(gen, msg) },
		c.cfg.Retry.Middleware, middleware.Recoverer)
	sub := resubscribing{sub: c.sub, backoff: c.cfg.NackBackoff, log: func(err error) {
		c.log.Warn().Err(err).Msg("the projections cannot follow the feed; trying again")
	}}
	gen.handler = c.router.AddConsumerHandler(gen.topic, gen.topic, sub,
		func(msg *message.Message) error { _, err := fn(msg); return err })
	if err := c.router.RunHandlers(handlers); err != nil {
		// Only a decorator fails here, and this router has none.
		c.log.Error().Err(err).Msg("cannot run the projections' handler")
	}
}

// prune stops the generation in progress once none of its members has a
// term left: an instance that leads no projection reads no feed for them.
func (g *group) prune() {
	g.restart.Lock()
	defer g.restart.Unlock()
	g.mu.Lock()
	gen := g.cur
	if gen == nil || slices.ContainsFunc(gen.members, func(t *term) bool { return !t.over.Load() }) {
		g.mu.Unlock()
		return
	}
	g.cur = nil
	g.mu.Unlock()
	gen.handler.Stop()
	<-gen.handler.Stopped()
}

// checkpoints is the CheckpointReader of a generation's topic, nil for any
// other topic.
func (g *group) checkpoints(topic string) feed.CheckpointReader {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur == nil || g.cur.topic != topic {
		return nil
	}
	return groupStart{g: g, gen: g.cur}
}

// groupStart reads where a generation starts: the lowest checkpoint of its
// members, the others passing over the events they applied already.
type groupStart struct {
	g   *group
	gen *generation
}

func (s groupStart) Load(ctx context.Context, _ string) (eventstore.Position, error) {
	s.g.mu.Lock()
	ms := slices.Clone(s.gen.members)
	s.g.mu.Unlock()
	cps, err := projections.Checkpoints(ctx, s.g.c.cfg.Pool)
	if err != nil {
		return eventstore.Start, err
	}
	var from eventstore.Position
	for i, t := range ms {
		if cp := cps[t.consumer]; i == 0 || cp.Less(from) {
			from = cp
		}
	}
	s.g.mu.Lock()
	s.gen.after = from
	s.g.mu.Unlock()
	return from, nil
}

// handle applies one message of the feed to the members of gen whose
// terms go on, holding each term open meanwhile as guard does.
func (g *group) handle(gen *generation, msg *message.Message) error {
	recs, err := feed.Events(msg)
	if err != nil {
		return err
	}
	g.mu.Lock()
	ts, after := slices.Clone(gen.members), gen.after
	g.mu.Unlock()
	var in []*term
	defer func() {
		for _, t := range in {
			t.mu.RUnlock()
		}
	}()
	for _, t := range ts {
		t.mu.RLock()
		if t.ended {
			t.mu.RUnlock()
			continue
		}
		in = append(in, t)
		if !t.valid() {
			// A stalled leader touches nothing; the batch comes again.
			return t.fenced()
		}
	}
	if len(in) == 0 || len(recs) == 0 {
		return nil
	}
	members := make([]projections.Member, len(in))
	for i, t := range in {
		members[i] = projections.Member{Projection: *t.projection, Fence: t}
	}
	left, err := g.apply.Apply(msg.Context(), recs, members, after)
	for _, t := range in {
		if why := left[t.consumer]; why != nil {
			g.leave(gen, t, why, recs[len(recs)-1].Position)
		} else {
			g.c.metrics.observe(t.consumer, msg, err)
		}
	}
	if err != nil {
		return err
	}
	g.mu.Lock()
	gen.after = recs[len(recs)-1].Position
	g.mu.Unlock()
	return nil
}

// leave takes t out of gen and runs it alone, until it has applied the
// batch it left on, past.
func (g *group) leave(gen *generation, t *term, why error, past eventstore.Position) {
	g.mu.Lock()
	gen.members = slices.DeleteFunc(gen.members, func(m *term) bool { return m == t })
	g.mu.Unlock()
	log := g.c.log.Warn()
	if errors.Is(why, projections.ErrFenced) {
		log = g.c.log.Info()
	}
	log.Err(why).Str("consumer", t.consumer).Int64("epoch", t.epoch).
		Msg("the projection leaves the group of this instance's projections and runs alone until it is past the batch")
	g.c.lead.runAlone(t, &past)
}
