package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
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

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatalf("%s never happened", what)
	}
}

// TestConsumers: one router runs the projectors with their own checkpoints
// and added consumers whose checkpoint it saves; an event an added
// consumer keeps failing on is poisoned, recorded for operators, and the
// consumer moves on; metrics count it all.
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
	c, err := NewConsumers(pool, store, zerolog.Nop(), reg)
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
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		cp, err := feed.NewPGCheckpoints(pool).Load(context.Background(), "recorder")
		if err != nil {
			t.Fatal(err)
		}
		if cp == last {
			break
		}
		if time.Now().After(deadline) { // a hang guard, not a timing assertion
			t.Fatalf("the recorder's checkpoint stays at %s, short of %s", cp, last)
		}
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
	tests := []struct {
		name    string
		metric  prometheus.Collector
		handler string
		want    float64
	}{
		{"the recorder processed every event, the poisoned one included", c.metrics.processed, "recorder", float64(len(ids))},
		{"the poisoned event is counted", c.metrics.poisoned, "recorder", 1},
		{"a projector processed every event", c.metrics.processed, "members", float64(len(ids))},
		{"a projector failed none", c.metrics.failed, "members", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vec := tt.metric.(interface {
				WithLabelValues(...string) prometheus.Counter
			})
			if got := testutil.ToFloat64(vec.WithLabelValues(tt.handler)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if n, err := testutil.GatherAndCount(reg, "roster_consumer_lag_events"); err != nil || n == 0 {
		t.Errorf("lag in events: %d series, %v", n, err)
	}
}
