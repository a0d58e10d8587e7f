package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/projections"
)

// poisonTopic is where the router's poison queue publishes; the only
// publisher it has writes the poison_messages table.
const poisonTopic = "poison"

// retries is the bounded retry of a failing handler: five attempts more,
// 100ms apart at first and doubling up to 5s. After it the message is
// Nacked (projectors: sent again by the subscriber, after its own capped
// backoff) or poisoned (the other consumers).
var retries = middleware.Retry{MaxRetries: 5, InitialInterval: 100 * time.Millisecond,
	MaxInterval: 5 * time.Second, Multiplier: 2, RandomizationFactor: 0.2}

// FeedHead counts the events after a position, for the lag in events. The
// PostgreSQL and memory stores can.
type FeedHead interface {
	CountAfter(ctx context.Context, after eventstore.Position) (int64, error)
}

// Consumers runs every consumer of the event feed as a handler of one
// watermill router: the projectors, and whatever Add plugs in (the mail
// consumer, the broker forwarder). Add handlers before Run; Run once.
type Consumers struct {
	pool    *pgxpool.Pool
	log     zerolog.Logger
	sub     *feed.Subscriber
	router  *message.Router
	metrics *consumerMetrics
	poison  message.HandlerMiddleware

	mu      sync.Mutex
	self    map[string]bool // consumers that write their own checkpoint
	batched map[string]bool // consumers given batch messages
	open    projections.Opener
}

// NewConsumers returns the router of the consumers of store's feed, with
// checkpoints and poisoned messages in the database behind pool and
// metrics registered with reg. It fails when reg refuses the metrics.
func NewConsumers(pool *pgxpool.Pool, store feed.Feed, log zerolog.Logger, reg prometheus.Registerer) (*Consumers, error) {
	c := &Consumers{pool: pool, log: log, self: map[string]bool{}, batched: map[string]bool{}}
	c.sub = feed.NewSubscriber(store, feed.NewPGCheckpoints(pool), feed.SubscriberConfig{
		SelfCheckpointed: c.selfCheckpointed,
		MaxBatch:         c.maxBatch,
		NackBackoff:      100 * time.Millisecond, MaxNackBackoff: 30 * time.Second,
	}, log)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, feed.Logger(log))
	if err != nil {
		return nil, fmt.Errorf("consumers router: %w", err)
	}
	// CorrelationID carries the event's correlation_id (lifted into the
	// message by the subscriber) to whatever a handler publishes.
	router.AddMiddleware(middleware.CorrelationID)
	c.router = router
	head, _ := store.(FeedHead)
	if c.metrics, err = newConsumerMetrics(reg, head); err != nil {
		return nil, err
	}
	if c.poison, err = middleware.PoisonQueue(poisonPublisher{pool: pool, metrics: c.metrics}, poisonTopic); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Consumers) selfCheckpointed(topic string) feed.CheckpointReader {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.self[topic] {
		return projections.StoredCheckpoints{Pool: c.pool}
	}
	return nil
}

// maxBatch is the subscriber's MaxBatch: projectors take batches of up to
// projections.DefaultMaxBatch events, the other consumers one at a time.
func (c *Consumers) maxBatch(topic string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batched[topic] {
		return projections.DefaultMaxBatch
	}
	return 1
}

// SetOpener makes the projectors added after it open each batch of events
// with o, in the transaction that applies it (see projections.Opener):
// with sealed personal data, the privacy vault. Without it events are read
// as stored.
func (c *Consumers) SetOpener(o projections.Opener) { c.open = o }

// AddProjection runs p as a handler that applies the feed in batches of up
// to projections.DefaultMaxBatch events, each in one transaction with its
// checkpoint. A projector is never poisoned: a read model that skipped an
// event would be wrong for good, so it retries, with a capped backoff,
// until the event applies, and its lag says so meanwhile.
func (c *Consumers) AddProjection(p projections.Projection) {
	h := projections.NewHandler(c.pool, p, c.log, projections.WithOpener(c.open))
	c.mu.Lock()
	c.batched[p.Name] = true
	c.mu.Unlock()
	c.add(p.Name, h.Handle, false, c.metrics.middleware(p.Name), retries.Middleware)
}

// Add runs handler as the consumer name, over the whole feed from its
// checkpoint. With saveCheckpointOnAck the subscriber saves the checkpoint
// (in consumer_checkpoints) after each event the handler is done with;
// without, the handler writes its own in projection_checkpoints, under
// name, in the transaction that handles the event. The handler is retried
// with backoff; an event that still fails goes to the poison queue (the
// poison_messages table) and the consumer moves on. Call Add before Run;
// names must be unique.
func (c *Consumers) Add(name string, handler message.NoPublishHandlerFunc, saveCheckpointOnAck bool) {
	c.add(name, handler, !saveCheckpointOnAck, c.metrics.middleware(name), c.poison, retries.Middleware)
}

// AddPersistent runs handler like Add, checkpoint saved on ack, but never
// poisons an event: a failing one is retried with a capped backoff until it
// succeeds. It suits a consumer that bounds its own failures, as the mail
// consumer does through its ledger (a mail that keeps failing is recorded
// as failed and acked), so an SMTP outage delays mail instead of losing it.
func (c *Consumers) AddPersistent(name string, handler message.NoPublishHandlerFunc) {
	c.add(name, handler, false, c.metrics.middleware(name), retries.Middleware)
}

func (c *Consumers) add(name string, handler message.NoPublishHandlerFunc, self bool, mw ...message.HandlerMiddleware) {
	c.mu.Lock()
	c.self[name] = self
	c.mu.Unlock()
	h := c.router.AddConsumerHandler(name, name, c.sub, handler)
	// The first is the outermost: metrics see the outcome after retries
	// and poisoning. Recoverer, innermost, turns a panic into an error that
	// is retried and poisoned like any other; router-wide it would wrap
	// the retries and the poison queue, and a panicking event would be
	// redelivered for ever.
	h.AddMiddleware(append(mw, middleware.Recoverer)...)
}

// Run runs every handler until ctx ends, then closes the router and the
// subscriber (waiting for the handlers in progress) and returns nil. It
// returns the router's error when it fails otherwise.
func (c *Consumers) Run(ctx context.Context) error {
	defer c.sub.Close()
	if err := c.router.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("consumers router: %w", err)
	}
	return nil
}

// Running is closed once every handler is subscribed.
func (c *Consumers) Running() chan struct{} { return c.router.Running() }

// poisonPublisher records poisoned messages in poison_messages, where an
// operator finds them. A message poisoned twice (redelivered after a
// crash) is recorded once.
type poisonPublisher struct {
	pool    *pgxpool.Pool
	metrics *consumerMetrics
}

func (p poisonPublisher) Publish(_ string, msgs ...*message.Message) error {
	for _, m := range msgs {
		consumer := m.Metadata.Get(middleware.PoisonedHandlerKey)
		meta := map[string]string(m.Metadata)
		_, err := p.pool.Exec(context.Background(), `INSERT INTO poison_messages
			(consumer, message_uuid, event_type, stream_id, reason, payload, metadata)
			VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), $5, $6, $7)
			ON CONFLICT (consumer, message_uuid) DO UPDATE SET reason = EXCLUDED.reason, poisoned_at = now()`,
			consumer, m.UUID, m.Metadata.Get(feed.KeyType), m.Metadata.Get(feed.KeyStream),
			m.Metadata.Get(middleware.ReasonForPoisonedKey), []byte(m.Payload), meta)
		if err != nil {
			return fmt.Errorf("record poisoned message %s of %s: %w", m.UUID, consumer, err)
		}
		p.metrics.poisoned.WithLabelValues(consumer).Inc()
	}
	return nil
}

func (poisonPublisher) Close() error { return nil }

// consumerMetrics are the per-handler metrics. The lag in events is
// counted when Prometheus scrapes, from the last position each handler
// processed, so no event pays for it.
type consumerMetrics struct {
	processed  *prometheus.CounterVec
	failed     *prometheus.CounterVec
	poisoned   *prometheus.CounterVec
	lagSeconds *prometheus.GaugeVec
	lagEvents  *prometheus.Desc
	head       FeedHead

	mu   sync.Mutex
	last map[string]eventstore.Position
}

func newConsumerMetrics(reg prometheus.Registerer, head FeedHead) (*consumerMetrics, error) {
	m := &consumerMetrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roster_consumer_events_processed_total",
			Help: "Events a feed consumer is done with (handled, skipped as already applied, or poisoned)."}, []string{"handler"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roster_consumer_events_failed_total",
			Help: "Events a feed consumer failed on after its retries, a batch counting all of its own; they are sent again."}, []string{"handler"}),
		poisoned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roster_consumer_events_poisoned_total",
			Help: "Events a feed consumer gave up on, recorded in poison_messages."}, []string{"handler"}),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "roster_consumer_lag_seconds",
			Help: "Seconds between the recording of the last event a consumer processed and the end of its processing."}, []string{"handler"}),
		lagEvents: prometheus.NewDesc("roster_consumer_lag_events",
			"Events of the feed after the last one a consumer processed.", []string{"handler"}, nil),
		head: head,
		last: map[string]eventstore.Position{},
	}
	for _, c := range []prometheus.Collector{m.processed, m.failed, m.poisoned, m.lagSeconds, m} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register consumer metrics: %w", err)
		}
	}
	return m, nil
}

// middleware counts the outcome of each delivery to the handler name, in
// events: a batch message counts as the events it carries. Its lag and
// position are its last event's.
func (m *consumerMetrics) middleware(name string) message.HandlerMiddleware {
	// The lag in events appears once the handler has processed an event.
	processed, failed, lag := m.processed.WithLabelValues(name), m.failed.WithLabelValues(name), m.lagSeconds.WithLabelValues(name)
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err != nil {
				failed.Add(float64(feed.EventCount(msg)))
				return out, err
			}
			processed.Add(float64(feed.EventCount(msg)))
			if at, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(feed.KeyRecordedAt)); err == nil {
				lag.Set(time.Since(at).Seconds())
			}
			c, err1 := strconv.ParseUint(msg.Metadata.Get(feed.KeyCommit), 10, 64)
			p, err2 := strconv.ParseUint(msg.Metadata.Get(feed.KeyPrepare), 10, 64)
			if err1 == nil && err2 == nil {
				m.mu.Lock()
				m.last[name] = eventstore.Position{Commit: c, Prepare: p}
				m.mu.Unlock()
			}
			return out, nil
		}
	}
}

// Describe and Collect make the lag in events a collector of its own.
func (m *consumerMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.lagEvents }

func (m *consumerMetrics) Collect(ch chan<- prometheus.Metric) {
	if m.head == nil {
		return
	}
	m.mu.Lock()
	last := make(map[string]eventstore.Position, len(m.last))
	for k, v := range m.last {
		last[k] = v
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for name, pos := range last {
		n, err := m.head.CountAfter(ctx, pos)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(m.lagEvents, errors.Join(errors.New("count events after "+pos.String()), err))
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.lagEvents, prometheus.GaugeValue, float64(n), name)
	}
}
