// Package consumers runs the consumers of the event feed (the projectors,
// the mail consumer, the broker forwarder) as handlers of one watermill
// router, each on exactly one instance at a time when many instances share
// a database: leadership is a lease row per consumer in PostgreSQL, renewed
// by a heartbeat and checked by every write (docs/ARCHITECTURE.md section
// 9). The application and the tests both run their consumers here.
package consumers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/projections"
)

// poisonTopic is where the router's poison queue publishes; the only
// publisher it has writes the poison_messages table.
const poisonTopic = "poison"

// DefaultLeaseTTL is how long a lease outlives its last renewal. The
// heartbeat renews it every third of that, and a consumer whose leader dies
// without a word is taken over once it runs out: within about 4 seconds
// (a leader whose database session ends is noticed sooner, at the next
// heartbeat of another instance).
const DefaultLeaseTTL = 3 * time.Second

// Config is what New needs. Pool and Feed are required.
type Config struct {
	// Pool is the database of the checkpoints, the leases and the read
	// models. The heartbeat opens a connection of its own from its
	// configuration.
	Pool *pgxpool.Pool
	// Feed is the event store's feed the consumers follow.
	Feed feed.Feed
	// Log receives the router's and the leadership's lines.
	Log zerolog.Logger
	// Registerer takes the consumers' metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	// Instance names this instance in the leases; empty means
	// DefaultInstance(). Two running instances must not share one.
	Instance string
	// LeaseTTL is how long a lease outlives its last renewal; zero means
	// DefaultLeaseTTL.
	LeaseTTL time.Duration
	// NackBackoff and MaxNackBackoff bound the wait before a failed event
	// is sent again (see feed.SubscriberConfig); zero means 100ms and 30s.
	NackBackoff, MaxNackBackoff time.Duration
	// Retry is the bounded retry of a failing handler before its message
	// is Nacked (projectors) or poisoned (the others); the zero value
	// means five attempts more, 100ms apart at first, doubling up to 5s.
	Retry middleware.Retry
	// StopPoll is how often a stopped projection looks for the way out an
	// operator gave it; zero means projections.DefaultStopPoll.
	StopPoll time.Duration
}

// DefaultInstance is the instance ID when none is configured: the host name
// and the process ID, which tell an operator where to look.
func DefaultInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "roster"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// Consumers runs every consumer of the event feed as a handler of one
// watermill router, each while this instance leads it. Add consumers
// before Run; Run once.
type Consumers struct {
	cfg     Config
	log     zerolog.Logger
	sub     *feed.Subscriber
	router  *message.Router
	metrics *metrics
	poison  message.HandlerMiddleware
	lead    *leadership
	group   *group

	mu     sync.Mutex
	specs  []*spec
	byName map[string]*spec
	open   projections.Opener
	// terms are the consumers this instance leads now, by name.
	terms map[string]*term
	// live is how many instances the last heartbeat counted.
	live atomic.Int64
}

// LiveInstances is how many instances, this one included, the last
// heartbeat found alive; one before the first. The per-instance limits
// divide their quota by it.
func (c *Consumers) LiveInstances() int { return max(int(c.live.Load()), 1) }

// spec is one consumer as added: how to build its handler for each term
// of leadership.
type spec struct {
	name    string
	self    bool // writes its own checkpoint, in projection_checkpoints
	batched bool // a projection: given batch messages, its own checkpoint
	// maxBatch, above one, is the most events one message of a consumer
	// that is no projection carries (InBatches).
	maxBatch int
	// build returns the handler of one term, guarded by it.
	build func(t *term) message.HandlerFunc
	// projection is the projection of a projector, which runs in the
	// group (see group) unless it leaves it; open is its opener.
	projection *projections.Projection
	open       projections.Opener
	// work, when set, runs beside the handler for as long as the term
	// lasts (AddWithWork).
	work func(ctx context.Context)
}

// New returns the consumers of cfg.Feed, with checkpoints, leases and
// poisoned messages in the database behind cfg.Pool. It fails when the
// registerer refuses the metrics.
func New(cfg Config) (*Consumers, error) {
	if cfg.Pool == nil || cfg.Feed == nil {
		return nil, errors.New("consumers: a pool and a feed are required")
	}
	if cfg.Instance == "" {
		cfg.Instance = DefaultInstance()
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.NackBackoff <= 0 {
		cfg.NackBackoff = 100 * time.Millisecond
	}
	if cfg.MaxNackBackoff <= 0 {
		cfg.MaxNackBackoff = 30 * time.Second
	}
	if cfg.Retry.MaxRetries == 0 && cfg.Retry.InitialInterval == 0 {
		cfg.Retry = middleware.Retry{MaxRetries: 5, InitialInterval: 100 * time.Millisecond,
			MaxInterval: 5 * time.Second, Multiplier: 2, RandomizationFactor: 0.2}
	}
	// A fenced write is not a fault: retrying it cannot help, the new
	// leader does the work.
	cfg.Retry.ShouldRetry = func(p middleware.RetryParams) bool { return !errors.Is(p.Err, projections.ErrFenced) }
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	c := &Consumers{cfg: cfg, log: cfg.Log.With().Str("instance", cfg.Instance).Logger(),
		byName: map[string]*spec{}, terms: map[string]*term{}}
	c.sub = feed.NewSubscriber(cfg.Feed, fencedCheckpoints{c: c, pg: feed.NewPGCheckpoints(cfg.Pool)}, feed.SubscriberConfig{
		SelfCheckpointed: c.selfCheckpointed,
		MaxBatch:         c.maxBatch,
		NackBackoff:      cfg.NackBackoff, MaxNackBackoff: cfg.MaxNackBackoff,
	}, c.log)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, feed.Logger(c.log))
	if err != nil {
		return nil, fmt.Errorf("consumers router: %w", err)
	}
	// CorrelationID carries the event's correlation_id (lifted into the
	// message by the subscriber) to whatever a handler publishes.
	router.AddMiddleware(middleware.CorrelationID)
	// The router closes itself once its last handler stops; an instance
	// that leads nothing for a while must keep it, so one handler that is
	// never given a message holds it open.
	router.AddConsumerHandler("idle", "idle", idle{}, func(*message.Message) error { return nil })
	c.router = router
	head, _ := cfg.Feed.(FeedHead)
	if c.metrics, err = newMetrics(reg, head, cfg.Pool, c.leading); err != nil {
		return nil, err
	}
	c.poison, err = middleware.PoisonQueueWithFilter(poisonPublisher{pool: cfg.Pool, metrics: c.metrics}, poisonTopic,
		func(err error) bool { return !errors.Is(err, projections.ErrFenced) })
	if err != nil {
		return nil, err
	}
	c.lead = newLeadership(c)
	c.group = &group{c: c}
	return c, nil
}

// Instance is this instance's ID in the leases.
func (c *Consumers) Instance() string { return c.cfg.Instance }

func (c *Consumers) selfCheckpointed(topic string) feed.CheckpointReader {
	if r := c.group.checkpoints(topic); r != nil {
		return r
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.byName[topic]; s != nil && s.self {
		return projections.StoredCheckpoints{Pool: c.cfg.Pool}
	}
	return nil
}

// maxBatch is the subscriber's MaxBatch: projectors take batches of up to
// projections.DefaultMaxBatch events, the consumers added InBatches theirs,
// the others one event at a time.
func (c *Consumers) maxBatch(topic string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.byName[topic]
	switch {
	case strings.HasPrefix(topic, groupTopic):
		return projections.DefaultMaxBatch
	case s == nil:
		return 1
	case s.batched:
		return projections.DefaultMaxBatch
	}
	return max(s.maxBatch, 1)
}

// Option changes how a consumer added by AddPersistent or AddWithWork is
// fed.
type Option func(*spec)

// InBatches gives the consumer the feed in messages of up to maxEvents
// consecutive events (feed.ToBatchMessage; projections.DefaultMaxBatch when
// maxEvents is zero or less), its checkpoint saved once per message: a
// handler that reads feed.Events(msg) and handles the events together pays
// its transaction, its round trips and the checkpoint's save once per batch
// instead of once per event (docs/ARCHITECTURE.md section 9). A failing
// batch is retried whole, from its first event, so the handler must give
// each event its effect once however often it sees it, as AddPersistent
// asks anyway. Add takes no options: a poisoned batch would skip every
// event of it.
func InBatches(maxEvents int) Option {
	if maxEvents <= 0 {
		maxEvents = projections.DefaultMaxBatch
	}
	return func(s *spec) { s.maxBatch = maxEvents }
}

// SetOpener makes the projectors added after it open each batch of events
// with o, in the transaction that applies it (see projections.Opener):
// with sealed personal data, the privacy vault. Without it events are read
// as stored.
func (c *Consumers) SetOpener(o projections.Opener) {
	c.mu.Lock()
	c.open = o
	c.mu.Unlock()
}

// AddProjection runs p as a handler that applies the feed in batches of up
// to projections.DefaultMaxBatch events, each in one transaction with its
// checkpoint and the check of this instance's lease: the projections this
// instance leads share one subscription and, for each batch, one such
// transaction (see group), but each has its lease. A projector is never
// poisoned: a read model that skipped an event unasked would be wrong for
// good. A transient fault is retried, with a capped backoff, until the
// event applies, and the lag says so meanwhile; an event the projection
// itself cannot apply (see projections.IsPoison) stops it, after its
// retries, where every instance, /metrics, /readyz and `roster projections
// status` show it, until an operator skips the event or retries (see
// projections.StopOnPoison). The other consumers go on either way.
func (c *Consumers) AddProjection(p projections.Projection) {
	c.mu.Lock()
	open := c.open
	c.mu.Unlock()
	stop := projections.StopConfig{Poll: c.cfg.StopPoll, Log: c.log}
	c.add(&spec{name: p.Name, self: true, batched: true, projection: &p, open: open, build: func(t *term) message.HandlerFunc {
		// A fresh handler and stopper per term: what the last term knew of
		// the checkpoint is stale once another instance led it.
		h := projections.NewHandler(c.cfg.Pool, p, c.log, projections.WithOpener(open), projections.WithFence(t))
		inner := noPublish(h.Handle)
		return chain(inner, t.guard, c.metrics.middleware(p.Name), projections.StopOnPoison(c.cfg.Pool, p.Name, stop),
			c.cfg.Retry.Middleware, middleware.Recoverer)
	}})
}

// Add runs handler as the consumer name, over the whole feed from its
// checkpoint. With saveCheckpointOnAck the subscriber saves the checkpoint
// (in consumer_checkpoints, under the lease) after each event the handler
// is done with; without, the handler writes its own in
// projection_checkpoints, under name, in the transaction that handles the
// event. The handler is retried with backoff; an event that still fails
// goes to the poison queue (the poison_messages table) and the consumer
// moves on. Call Add before Run; names must be unique.
func (c *Consumers) Add(name string, handler message.NoPublishHandlerFunc, saveCheckpointOnAck bool) {
	c.add(&spec{name: name, self: !saveCheckpointOnAck, build: func(t *term) message.HandlerFunc {
		return chain(noPublish(handler), t.guard, c.metrics.middleware(name), c.poison, c.cfg.Retry.Middleware,
			t.check, middleware.Recoverer)
	}})
}

// AddPersistent runs handler like Add, checkpoint saved on ack, but never
// poisons an event: a failing one is retried with a capped backoff until it
// succeeds. It suits a consumer that bounds its own failures, as the mail
// consumer does through its ledger (a mail that keeps failing is recorded
// as failed and acked), so an SMTP outage delays mail instead of losing it.
//
// With InBatches the handler is given batches of events (see InBatches).
func (c *Consumers) AddPersistent(name string, handler message.NoPublishHandlerFunc, opts ...Option) {
	c.add(&spec{name: name, build: func(t *term) message.HandlerFunc {
		return chain(noPublish(handler), t.guard, c.metrics.middleware(name), c.cfg.Retry.Middleware, t.check, middleware.Recoverer)
	}}, opts...)
}

// AddWithWork runs handler like AddPersistent and, for as long as this
// instance leads name, work beside it: work's context ends when the term
// does (the lease lost, handed back or given up at the end), and the term
// ends only once work has returned. It suits a job that acts on time rather
// than on events, such as ending accesses (section 12 of
// docs/ARCHITECTURE.md), which the lease keeps to one instance at a time;
// its handler follows the feed so that the consumer's checkpoint and lag
// mean what they mean for the others. It takes the options of
// AddPersistent.
func (c *Consumers) AddWithWork(name string, handler message.NoPublishHandlerFunc, work func(ctx context.Context), opts ...Option) {
	c.add(&spec{name: name, work: work, build: func(t *term) message.HandlerFunc {
		return chain(noPublish(handler), t.guard, c.metrics.middleware(name), c.cfg.Retry.Middleware, t.check, middleware.Recoverer)
	}}, opts...)
}

func (c *Consumers) add(s *spec, opts ...Option) {
	for _, o := range opts {
		o(s)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.specs = append(c.specs, s)
	if c.byName[s.name] == nil {
		c.byName[s.name] = s
	}
}

// Names returns the names of the consumers added so far, sorted.
func (c *Consumers) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.specs))
	for _, s := range c.specs {
		out = append(out, s.name)
	}
	slices.Sort(out)
	return out
}

// ProjectionNames returns the names of the projections added so far, sorted.
func (c *Consumers) ProjectionNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.specs {
		if s.batched {
			out = append(out, s.name)
		}
	}
	slices.Sort(out)
	return out
}

// checkNames returns an error when a consumer has an empty name, the name
// of another, or one of the router's own: "idle", the group's.
func (c *Consumers) checkNames() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{"idle": true}
	for _, s := range c.specs {
		if s.name == "" || seen[s.name] || strings.HasPrefix(s.name, groupTopic) {
			return fmt.Errorf("consumer name %q is empty, reserved or repeated", s.name)
		}
		seen[s.name] = true
	}
	return nil
}

// Run runs the router and takes part in the leadership of every consumer
// added until ctx ends: it runs the handler of each consumer it comes to
// lead, and stops it when it loses the lease. When ctx ends it stops its
// handlers (waiting for those in progress), hands their leases over at
// once, closes the router and the subscriber, and returns nil. It returns
// an error at once only when the consumers are misnamed (an empty or
// repeated name) or the router cannot start.
func (c *Consumers) Run(ctx context.Context) error {
	if err := c.checkNames(); err != nil {
		return err
	}
	defer c.sub.Close()
	// The router outlives the leadership loop, which stops its handlers
	// one by one before it gives their leases up.
	routerCtx, stopRouter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRouter()
	done := make(chan error, 1)
	go func() { done <- c.router.Run(routerCtx) }()
	select {
	case <-c.router.Running():
	case err := <-done:
		return fmt.Errorf("consumers router: %w", err)
	}
	c.lead.run(ctx, routerCtx)
	// A projection rejoining the group meanwhile finds its term ended.
	c.group.wg.Wait()
	stopRouter()
	if err := <-done; err != nil {
		return fmt.Errorf("consumers router: %w", err)
	}
	return nil
}

// leading returns the consumers this instance leads now, by name, with the
// epoch of each lease.
func (c *Consumers) leading() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.terms))
	for name, t := range c.terms {
		out[name] = t.epoch
	}
	return out
}

// byNameSpec returns the consumer added as name.
func (c *Consumers) byNameSpec(name string) *spec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byName[name]
}

// term returns the term of name in progress, or nil.
func (c *Consumers) term(name string) *term {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.terms[name]
}

// noPublish adapts a handler that publishes nothing.
func noPublish(h message.NoPublishHandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) { return nil, h(msg) }
}

// chain wraps h in mw, the first the outermost. Handlers come and go with
// leadership, so their middleware is composed here rather than registered
// with the router, which keeps a handler's middleware after it stops.
func chain(h message.HandlerFunc, mw ...message.HandlerMiddleware) message.HandlerFunc {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// idle is a subscriber that never delivers a message.
type idle struct{}

func (idle) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	ch := make(chan *message.Message)
	context.AfterFunc(ctx, func() { close(ch) })
	return ch, nil
}

func (idle) Close() error { return nil }
