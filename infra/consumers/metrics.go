package consumers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// FeedHead counts the events after a position, for the lag in events. The
// PostgreSQL and memory stores can.
type FeedHead interface {
	CountAfter(ctx context.Context, after eventstore.Position) (int64, error)
}

// metrics are the per-consumer metrics. The lag in events is counted when
// Prometheus scrapes, from the last position each handler processed, so no
// event pays for it; who leads each consumer is read from the leases then
// too, so every instance tells the same.
type metrics struct {
	processed  *prometheus.CounterVec
	failed     *prometheus.CounterVec
	poisoned   *prometheus.CounterVec
	lagSeconds *prometheus.GaugeVec
	lagEvents  *prometheus.Desc
	leading    *prometheus.Desc
	leader     *prometheus.Desc
	behind     *prometheus.Desc
	head       FeedHead
	pool       *pgxpool.Pool
	held       func() map[string]int64

	mu   sync.Mutex
	last map[string]eventstore.Position
}

func newMetrics(reg prometheus.Registerer, head FeedHead, pool *pgxpool.Pool, held func() map[string]int64) (*metrics, error) {
	m := &metrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roster_consumer_events_processed_total",
			Help: "Events a feed consumer is done with (handled, skipped as already applied, or poisoned)."}, []string{"handler"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roster_consumer_events_failed_total",
			Help: "Events a feed consumer failed on after its retries, a batch counting all of its own; they are sent again."}, []string{"handler"}),
		poisoned: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roster_consumer_events_poisoned_total",
			Help: "Events a feed consumer gave up on, recorded in poison_messages."}, []string{"handler"}),
		lagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "roster_consumer_lag_seconds",
			Help: "Seconds between the recording of the last event a consumer processed here and the end of its processing."}, []string{"handler"}),
		lagEvents: prometheus.NewDesc("roster_consumer_lag_events",
			"Events of the feed after the last one a consumer this instance leads processed.", []string{"handler"}, nil),
		leading: prometheus.NewDesc("roster_consumer_leading",
			"1 while this instance leads the consumer (runs it), else 0.", []string{"consumer"}, nil),
		leader: prometheus.NewDesc("roster_consumer_leader_since_seconds",
			"Unix time the instance leading the consumer took its lease; one series per consumer led, whichever instance is asked.",
			[]string{"consumer", "instance"}, nil),
		behind: prometheus.NewDesc("roster_consumer_behind_events",
			"Events of the feed after the consumer's stored checkpoint, labelled with the instance leading it (empty: none).",
			[]string{"consumer", "instance"}, nil),
		head: head,
		pool: pool,
		held: held,
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
func (m *metrics) middleware(name string) message.HandlerMiddleware {
	// The lag in events appears once the handler has processed an event.
	processed, failed := m.processed.WithLabelValues(name), m.failed.WithLabelValues(name)
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			m.count(name, processed, failed, msg, err)
			return out, err
		}
	}
}

// observe counts the outcome err of delivering msg to the projection name
// in the group, as middleware would for a handler of its own.
func (m *metrics) observe(name string, msg *message.Message, err error) {
	m.count(name, m.processed.WithLabelValues(name), m.failed.WithLabelValues(name), msg, err)
}

func (m *metrics) count(name string, processed, failed prometheus.Counter, msg *message.Message, err error) {
	if err != nil {
		failed.Add(float64(feed.EventCount(msg)))
		return
	}
	processed.Add(float64(feed.EventCount(msg)))
	if at, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(feed.KeyRecordedAt)); err == nil {
		m.lagSeconds.WithLabelValues(name).Set(time.Since(at).Seconds())
	}
	if pos, ok := feed.LastPosition(msg); ok {
		m.mu.Lock()
		m.last[name] = pos
		m.mu.Unlock()
	}
}

// forget drops the lag of a consumer this instance stopped leading: the
// new leader reports it.
func (m *metrics) forget(name string) {
	m.mu.Lock()
	delete(m.last, name)
	m.mu.Unlock()
	m.lagSeconds.DeleteLabelValues(name)
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.lagEvents
	ch <- m.leading
	ch <- m.leader
	ch <- m.behind
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	held := m.held()
	m.mu.Lock()
	last := make(map[string]eventstore.Position, len(m.last))
	for k, v := range m.last {
		if _, ok := held[k]; ok {
			last[k] = v
		}
	}
	m.mu.Unlock()
	for name, pos := range last {
		if m.head == nil {
			break
		}
		n, err := m.head.CountAfter(ctx, pos)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(m.lagEvents, errors.Join(errors.New("count events after "+pos.String()), err))
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.lagEvents, prometheus.GaugeValue, float64(n), name)
	}
	leaders, err := Leaders(ctx, m.pool)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.leader, err)
		return
	}
	for _, l := range leaders {
		leading := 0.0
		if _, ok := held[l.Consumer]; ok {
			leading = 1
		}
		ch <- prometheus.MustNewConstMetric(m.leading, prometheus.GaugeValue, leading, l.Consumer)
		if l.Instance != "" {
			ch <- prometheus.MustNewConstMetric(m.leader, prometheus.GaugeValue, float64(l.Since.UnixMilli())/1000, l.Consumer, l.Instance)
		}
		if m.head == nil {
			continue
		}
		n, err := m.head.CountAfter(ctx, l.Checkpoint)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(m.behind, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(m.behind, prometheus.GaugeValue, float64(n), l.Consumer, l.Instance)
	}
}

// poisonPublisher records poisoned messages in poison_messages, where an
// operator finds them. A message poisoned twice (redelivered after a
// crash) is recorded once.
type poisonPublisher struct {
	pool    *pgxpool.Pool
	metrics *metrics
}

func (p poisonPublisher) Publish(_ string, msgs ...*message.Message) error {
	for _, m := range msgs {
		consumer := m.Metadata.Get(middleware.PoisonedHandlerKey)
		// The router's handler is named for the consumer and its lease's
		// epoch, "mail@3"; operators know the consumer.
		if i := strings.LastIndexByte(consumer, '@'); i >= 0 {
			consumer = consumer[:i]
		}
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
