package webhooks_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/webhooks"
)

// clock is a clock the test moves; the deliveries are scheduled by it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

var serverKey = []byte("the webhook server key of tests!")

// fixture is one database, one property's stream fed to the consumer by
// hand, and the deliveries under a clock of the test's.
type fixture struct {
	t     testing.TB
	pool  *pgxpool.Pool
	clock *clock
	w     *webhooks.Webhooks
	pid   string
	rev   uint64
	// disabled records the endpoints the deliveries asked to disable.
	mu       sync.Mutex
	disabled []string
}

func newFixture(t testing.TB, edit func(*webhooks.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, pool: pgtest.NewPool(t), clock: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, pid: uuid.NewString()}
	c := webhooks.Config{Pool: f.pool, Secrets: webhooks.NewSecrets(serverKey), Now: f.clock.Now,
		Timeout: 300 * time.Millisecond, InitialBackoff: time.Minute, MaxBackoff: 30 * time.Minute,
		AllowHTTP: true, AllowPrivate: true,
		Disable: func(pid, eid string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.disabled = append(f.disabled, eid)
			return nil
		}}
	if edit != nil {
		edit(&c)
	}
	w, err := webhooks.New(c)
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	return f
}

// next is e as the feed stores it: the next event of property pid (the
// fixture's own when empty), the next position of the feed.
func (f *fixture) next(pid string, e domain.Event) eventstore.RecordedEvent {
	f.t.Helper()
	if pid == "" {
		pid = f.pid
	}
	typ, data, err := domain.EncodeEvent(e)
	if err != nil {
		f.t.Fatal(err)
	}
	id := uuid.NewString()
	meta, _ := json.Marshal(domain.Metadata{EventID: id, ActorID: "acc-owner", OccurredAt: f.clock.Now(), Schema: 1})
	rec := eventstore.RecordedEvent{ID: id, StreamID: domain.StreamName(pid), Revision: f.rev, Type: typ, Data: data, Metadata: meta,
		Position: eventstore.Position{Commit: f.rev + 1, Prepare: f.rev + 1}, RecordedAt: f.clock.Now()}
	f.rev++
	return rec
}

// emit feeds the next event of the property to the consumer and returns its ID.
func (f *fixture) emit(e domain.Event) string {
	f.t.Helper()
	rec := f.next("", e)
	id := rec.ID
	msg := feed.ToMessage(rec)
	msg.SetContext(context.Background())
	if err := f.w.Handle(msg); err != nil {
		f.t.Fatalf("Handle %s: %v", rec.Type, err)
	}
	return id
}

// endpoint adds an endpoint for url taking every event type and returns
// its ID and secret.
func (f *fixture) endpoint(url string) (id, secret string) {
	id = uuid.NewString()
	nonce := uuid.NewString()
	f.emit(domain.WebhookEndpointCreated{Schema: 1, EndpointID: id, URL: url, EventTypes: []string{"*"}, SecretNonce: nonce})
	return id, webhooks.NewSecrets(serverKey).Secret(f.pid, id, nonce)
}

// run drains the deliveries due, moves the clock to the next one due and
// drains again, until none is open or steps run out; between rounds it
// calls between, when set, with the round's number.
func (f *fixture) run(steps int, between func(step int)) {
	f.t.Helper()
	ctx := context.Background()
	for step := range steps {
		if between != nil {
			between(step)
		}
		if _, err := f.w.Drain(ctx); err != nil {
			f.t.Fatal(err)
		}
		next, ok, err := f.w.NextDue(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		if !ok {
			return
		}
		if next.After(f.clock.Now()) {
			f.clock.Set(next)
		}
	}
	f.t.Fatalf("deliveries still open after %d rounds", steps)
}

// hit is one request a receiver got, and what it answered.
type hit struct {
	id, timestamp, signature string
	body                     []byte
	header                   http.Header
	answered                 int // 0 when it answered nothing
}

// receiver is a real HTTP server whose answer to each request a script
// decides: "ok", "fail" (500), "hang" (past the client's timeout) or
// "close" (drops the connection). It can go down and come back on the
// same address.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	hits   []hit
	script func(id string, attempt int) string
	addr   string
	srv    *httptest.Server
	tries  map[string]int
}

func newReceiver(t *testing.T, script func(id string, attempt int) string) *receiver {
	r := &receiver{t: t, script: script, tries: map[string]int{}}
	r.up()
	t.Cleanup(r.down)
	return r
}

func (r *receiver) URL() string { return "http://" + r.addr + "/hook" }

func (r *receiver) up() {
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatalf("receiver: listen on %s: %v", addr, err)
	}
	r.addr = ln.Addr().String()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	r.srv = srv
}

func (r *receiver) down() {
	if r.srv != nil {
		r.srv.CloseClientConnections()
		r.srv.Close()
		r.srv = nil
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body := make([]byte, req.ContentLength)
	_, _ = req.Body.Read(body)
	h := hit{id: req.Header.Get("webhook-id"), timestamp: req.Header.Get("webhook-timestamp"),
		signature: req.Header.Get("webhook-signature"), body: body, header: req.Header.Clone()}
	r.mu.Lock()
	r.tries[h.id]++
	action := "ok"
	if r.script != nil {
		action = r.script(h.id, r.tries[h.id])
	}
	switch action {
	case "ok":
		h.answered = http.StatusOK
	case "fail":
		h.answered = http.StatusInternalServerError
	}
	// Recorded before answering, so the test sees every request once the
	// attempt it made is over.
	r.hits = append(r.hits, h)
	r.mu.Unlock()
	switch action {
	case "hang":
		<-req.Context().Done()
	case "close":
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
	default:
		w.WriteHeader(h.answered)
	}
}

func (r *receiver) got() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}
