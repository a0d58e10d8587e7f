package consumers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/recorded"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// recorder is a consumer that records the events it handled and fails on
// one event for ever.
type recorder struct {
	mu     sync.Mutex
	seen   []string
	failOn string
	done   chan struct{}
	want   int
}

func (r *recorder) handle(msg *message.Message) error {
	if msg.UUID == r.failOn {
		panic("a bad event") // the Recoverer turns it into an error
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, msg.UUID)
	if len(r.seen) == r.want {
		close(r.done)
	}
	return nil
}

// waitUntil polls ok until it holds, failing the test after two minutes:
// a guard against a hang, not a measure of speed.
func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quick is the configuration of an instance named name with short
// backoffs and the lease ttl.
func quick(pool *pgxpool.Pool, f feed.Feed, name string, ttl time.Duration, reg prometheus.Registerer) consumers.Config {
	return consumers.Config{Pool: pool, Feed: f, Log: zerolog.Nop(), Registerer: reg, Instance: name, LeaseTTL: ttl,
		NackBackoff: time.Millisecond, MaxNackBackoff: 10 * time.Millisecond, StopPoll: 5 * time.Millisecond,
		Retry: middleware.Retry{MaxRetries: 2, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Multiplier: 2}}
}

// metric returns the value of the metric name with labels that reg
// gathers, and whether it is there.
func metric(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// TestConsumers: one router runs the projectors with their own checkpoints
// and added consumers whose checkpoint it saves; an event an added
// consumer keeps failing on is poisoned, recorded for operators, and the
// consumer moves on; metrics count it all and say who leads.
func TestConsumers(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := memory.New()
	h := pt.NewHistory(t, store)
	last := h.Add(pt.Script()...)
	events, err := store.ReadAll(context.Background(), eventstore.Start, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	bad := ids[3]
	rec := &recorder{failOn: bad, done: make(chan struct{}), want: len(ids) - 1}

	reg := prometheus.NewRegistry()
	c, err := consumers.New(quick(pool, store, "solo", consumers.DefaultLeaseTTL, reg))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range projections.All() {
		c.AddProjection(p)
	}
	c.Add("recorder", rec.handle, true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	pt.Wait(t, pool, last, pt.Names(projections.All()...)...)
	waitClosed(t, rec.done, "the recorder getting every good event")
	// The checkpoint is saved after the Ack of the last event, which
	// follows its handling.
	waitUntil(t, "the recorder's checkpoint at the end of the feed", func() bool {
		cp, err := feed.NewPGCheckpoints(pool).Load(context.Background(), "recorder")
		if err != nil {
			t.Fatal(err)
		}
		return cp == last
	})

	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"the recorder processed every event, the poisoned one included", "roster_consumer_events_processed_total", map[string]string{"handler": "recorder"}, float64(len(ids))},
		{"the poisoned event is counted", "roster_consumer_events_poisoned_total", map[string]string{"handler": "recorder"}, 1},
		{"a projector processed every event", "roster_consumer_events_processed_total", map[string]string{"handler": "members"}, float64(len(ids))},
		{"a projector's lag is nothing once it is done", "roster_consumer_lag_events", map[string]string{"handler": "members"}, 0},
		{"this instance leads the projector", "roster_consumer_leading", map[string]string{"consumer": "members"}, 1},
		{"every instance says who leads, and it is caught up", "roster_consumer_behind_events", map[string]string{"consumer": "members", "instance": "solo"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := metric(t, reg, tt.metric, tt.labels)
			if !ok || got != tt.want {
				t.Errorf("%s%v = %v (present %v), want %v", tt.metric, tt.labels, got, ok, tt.want)
			}
		})
	}
	if since, ok := metric(t, reg, "roster_consumer_leader_since_seconds", map[string]string{"consumer": "recorder", "instance": "solo"}); !ok || since <= 0 {
		t.Errorf("roster_consumer_leader_since_seconds of the recorder = %v (present %v), want a time", since, ok)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}

	want := append(append([]string{}, ids[:3]...), ids[4:]...)
	if diff := cmp.Diff(want, rec.seen); diff != "" {
		t.Errorf("events the recorder handled, in order (-want +got):\n%s", diff)
	}
	var consumer, uuid, reason string
	if err := pool.QueryRow(context.Background(),
		`SELECT consumer, message_uuid, reason FROM poison_messages`).Scan(&consumer, &uuid, &reason); err != nil {
		t.Fatalf("the poisoned event: %v", err)
	}
	if consumer != "recorder" || uuid != bad || !strings.Contains(reason, "a bad event") {
		t.Errorf("poisoned %s of %s because %q, want %s of recorder because of the panic", uuid, consumer, reason, bad)
	}
	leaders, err := consumers.Leaders(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaders {
		if l.Instance != "" {
			t.Errorf("%s is led by %s after the only instance stopped, want by nobody", l.Consumer, l.Instance)
		}
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatalf("%s never happened", what)
	}
}

func TestRunRefusesMisnamedConsumers(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	tests := []struct {
		name string
		add  func(c *consumers.Consumers)
	}{
		{"an empty name is refused", func(c *consumers.Consumers) { c.AddProjection(projections.Projection{}) }},
		{"a repeated name is refused", func(c *consumers.Consumers) {
			c.AddProjection(projections.Members())
			c.Add("members", func(*message.Message) error { return nil }, true)
		}},
		{"the router's own name is refused", func(c *consumers.Consumers) {
			c.AddPersistent("idle", func(*message.Message) error { return nil })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := consumers.New(quick(pool, memory.New(), "x", time.Second, nil))
			if err != nil {
				t.Fatal(err)
			}
			tt.add(c)
			if err := c.Run(context.Background()); err == nil {
				t.Error("Run = nil, want an error")
			}
		})
	}
}

// cluster is several instances of the same consumers over one database and
// one feed, as processes of their own would be.
type cluster struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *memory.Store
	names []string // the ledger projections every instance runs
	ttl   time.Duration

	mu        sync.Mutex
	instances map[string]*instance
}

type instance struct {
	c      *consumers.Consumers
	cancel context.CancelFunc
	done   chan error
}

// newCluster returns a cluster of n ledger projections over a fresh
// database, no instance running yet.
func newCluster(t *testing.T, n int, ttl time.Duration) *cluster {
	pool := pgtest.NewPool(t)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE test_ledger (
		projection text, commit_position bigint, prepare_position bigint,
		PRIMARY KEY (projection, commit_position, prepare_position))`); err != nil {
		t.Fatal(err)
	}
	cl := &cluster{t: t, pool: pool, store: memory.New(), ttl: ttl, instances: map[string]*instance{}}
	for i := range n {
		cl.names = append(cl.names, fmt.Sprintf("ledger-%d", i+1))
	}
	t.Cleanup(func() {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		for _, in := range cl.instances {
			in.cancel()
			<-in.done
		}
	})
	return cl
}

// ledger is a projection that records the position of every property
// event it applies; the primary key makes a second apply of any event
// fail, and so stop the projection.
func ledger(name string) projections.Projection {
	rs := map[string]projections.Reducer{}
	for _, typ := range domain.EventTypes() {
		rs[typ] = func(b *projections.Batch, e recorded.Event) error {
			_, err := b.Tx().Exec(b.Context(), `INSERT INTO test_ledger VALUES ($1, $2, $3)`,
				name, int64(e.Position.Commit), int64(e.Position.Prepare))
			return err
		}
	}
	return projections.Projection{Name: name, Reducers: rs}
}

// start runs a new instance named name; its projections open their
// batches with open, when not nil.
func (cl *cluster) start(name string, open ...projections.Opener) *consumers.Consumers {
	cl.t.Helper()
	c, err := consumers.New(quick(cl.pool, cl.store, name, cl.ttl, nil))
	if err != nil {
		cl.t.Fatal(err)
	}
	for _, o := range open {
		c.SetOpener(o)
	}
	for _, n := range cl.names {
		c.AddProjection(ledger(n))
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- c.Run(ctx) }()
	cl.mu.Lock()
	cl.instances[name] = in
	cl.mu.Unlock()
	return c
}

// stop ends the instance name: gracefully, or as if killed when crash.
func (cl *cluster) stop(name string, crash bool) {
	cl.t.Helper()
	cl.mu.Lock()
	in := cl.instances[name]
	delete(cl.instances, name)
	cl.mu.Unlock()
	if crash {
		consumers.Crash(in.c)
	}
	in.cancel()
	if err := <-in.done; err != nil {
		cl.t.Errorf("Run of %s = %v", name, err)
	}
}

// leaders returns who leads each consumer now, by the leases.
func (cl *cluster) leaders() map[string]string {
	cl.t.Helper()
	ls, err := consumers.Leaders(context.Background(), cl.pool)
	if err != nil {
		cl.t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range ls {
		out[l.Consumer] = l.Instance
	}
	return out
}

// spread waits until each of the instances named leads its share of the
// consumers (and nobody else leads any), and returns who leads what.
func (cl *cluster) spread(names ...string) map[string]string {
	cl.t.Helper()
	share := (len(cl.names) + len(names) - 1) / len(names)
	var got map[string]string
	waitUntil(cl.t, fmt.Sprintf("%v leading their share, %d each", names, share), func() bool {
		got = cl.leaders()
		count := map[string]int{}
		for _, c := range cl.names {
			count[got[c]]++
		}
		for _, n := range names {
			if count[n] > share || count[n] == 0 {
				return false
			}
		}
		return count[""] == 0 && len(got) == len(cl.names)
	})
	return got
}

// appendEvents appends n events to the feed and returns the last position.
func (cl *cluster) appendEvents(n int) eventstore.Position {
	h := pt.NewHistory(cl.t, cl.store)
	var last eventstore.Position
	for i := range n {
		last = h.Add(pt.Script()[i%len(pt.Script())])
	}
	return last
}

// check waits for every projection to reach last, then checks that each
// applied every event once, that none stopped, and that no consumer was
// ever led by two instances at once.
func (cl *cluster) check(last eventstore.Position) {
	cl.t.Helper()
	pt.Wait(cl.t, cl.pool, last, cl.names...)
	ctx := context.Background()
	want := int64(last.Commit) // the memory store numbers its events from 1
	for _, n := range cl.names {
		var count, distinct, top int64
		if err := cl.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT commit_position), COALESCE(max(commit_position), 0)
			FROM test_ledger WHERE projection = $1`, n).Scan(&count, &distinct, &top); err != nil {
			cl.t.Fatal(err)
		}
		if count != want || distinct != want || top != want {
			cl.t.Errorf("%s applied %d events (%d distinct, up to %d), want each of the %d once", n, count, distinct, top, want)
		}
	}
	stopped, err := projections.Stopped(ctx, cl.pool)
	if err != nil {
		cl.t.Fatal(err)
	}
	for name, f := range stopped {
		cl.t.Errorf("%s stopped: %s", name, f.Summary())
	}
	terms, err := consumers.Terms(ctx, cl.pool)
	if err != nil {
		cl.t.Fatal(err)
	}
	for _, o := range consumers.Overlaps(terms) {
		cl.t.Errorf("leadership overlaps: %s", o)
	}
}

// TestLeadershipSpreadsAndMovesWithTheInstances: consumers spread over the
// instances running; one that joins gets its share, one that stops hands
// its consumers over, one that dies (its leases left as they were) or
// loses its database session is taken over, and one that comes back joins
// again; through it all every event is applied once and no consumer is
// ever led by two instances at once.
func TestLeadershipSpreadsAndMovesWithTheInstances(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, 6, time.Second)
	cl.start("a")
	cl.spread("a")
	last := cl.appendEvents(30)
	cl.start("b")
	cl.start("c")
	got := cl.spread("a", "b", "c")
	// Each counts the three, which the limits per instance divide by.
	waitUntil(t, "every instance counting three live", func() bool {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		for _, in := range cl.instances {
			if in.c.LiveInstances() != 3 {
				return false
			}
		}
		return true
	})
	last = cl.appendEvents(30)

	t.Run("a graceful stop hands the consumers over", func(t *testing.T) {
		cl.stop("b", false)
		cl.spread("a", "c")
		last = cl.appendEvents(20)
	})
	t.Run("a crashed instance's consumers are taken over", func(t *testing.T) {
		cl.start("b")
		cl.spread("a", "b", "c")
		last = cl.appendEvents(20)
		cl.stop("c", true)
		cl.spread("a", "b")
		last = cl.appendEvents(20)
	})
	t.Run("an instance whose session is terminated stops, and joins again", func(t *testing.T) {
		cl.mu.Lock()
		a := cl.instances["a"].c
		cl.mu.Unlock()
		before := consumers.SessionPID(a)
		if _, err := cl.pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, int32(before)); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "a on a new session", func() bool { return consumers.SessionPID(a) != before })
		last = cl.appendEvents(20)
		cl.spread("a", "b")
	})
	cl.check(last)
	if len(got) != 6 {
		t.Errorf("leaders %v, want one per consumer", got)
	}
}

// TestAStalledLeaderIsFenced: an instance whose heartbeat stalls past its
// lease is taken over; the writes it still tries are refused, by its own
// handler and by the database, and once it wakes it finds the lease gone
// and stops the consumer.
func TestAStalledLeaderIsFenced(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, 2, time.Second)
	a := cl.start("a")
	cl.spread("a")
	last := cl.appendEvents(10)
	pt.Wait(t, cl.pool, last, cl.names...)
	stale := consumers.FenceOf(a, "ledger-1")
	if stale == nil {
		t.Fatal("a does not lead ledger-1")
	}
	resume := consumers.Pause(a)
	cl.start("b")
	waitUntil(t, "b leading everything", func() bool {
		l := cl.leaders()
		return l["ledger-1"] == "b" && l["ledger-2"] == "b"
	})
	last = cl.appendEvents(5)
	pt.Wait(t, cl.pool, last, cl.names...)

	// What the stalled leader would apply next, under its stale lease.
	recs, err := cl.store.ReadAll(context.Background(), eventstore.Start, 1000)
	if err != nil {
		t.Fatal(err)
	}
	more := cl.appendEvents(1)
	recs, err = cl.store.ReadAll(context.Background(), recs[len(recs)-1].Position, 10)
	if err != nil {
		t.Fatal(err)
	}
	h := projections.NewHandler(cl.pool, ledger("ledger-1"), zerolog.Nop(), projections.WithFence(stale))
	if err := h.Handle(feed.ToBatchMessage(recs)); !errors.Is(err, projections.ErrFenced) {
		t.Errorf("a write under the stale lease = %v, want ErrFenced", err)
	}
	resume()
	waitUntil(t, "a stopping the consumers it lost", func() bool { return len(consumers.Leading(a)) == 0 })
	cl.check(more)
}

// gate is an Opener that, once armed, holds every batch inside its
// transaction until released: a leader stalled in the middle of a write.
type gate struct {
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 100), release: make(chan struct{})} }

func (g *gate) arm() {
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
}

func (g *gate) OpenTx(ctx context.Context, _ pgx.Tx, _ []eventstore.RecordedEvent) error {
	g.mu.Lock()
	armed := g.armed
	g.mu.Unlock()
	if !armed {
		return nil
	}
	g.entered <- struct{}{}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestALeaderStalledInsideItsTransactionIsTakenOver: a leader that stalls
// in the middle of a batch, holding its lease's row, loses the transaction
// once it idles longer than a lease; another instance takes the
// projection over and applies the batch, and the stalled one, woken, writes
// nothing.
func TestALeaderStalledInsideItsTransactionIsTakenOver(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, 1, time.Second)
	g := newGate()
	a := cl.start("a", g)
	cl.spread("a")
	pt.Wait(t, cl.pool, cl.appendEvents(5), cl.names...)
	g.arm()
	resume := consumers.Pause(a)
	last := cl.appendEvents(1)
	select {
	case <-g.entered:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("the leader never started the batch")
	}
	cl.start("b")
	waitUntil(t, "b leading ledger-1", func() bool { return cl.leaders()["ledger-1"] == "b" })
	pt.Wait(t, cl.pool, last, cl.names...)
	close(g.release)
	resume()
	waitUntil(t, "a stopping the consumer it lost", func() bool { return len(consumers.Leading(a)) == 0 })
	cl.check(last)
}
