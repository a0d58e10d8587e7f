package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/pgtest"
)

// feedFixture records the invitations of several properties through a
// Consumer, over a fresh database, for a Dispatcher to send to a real SMTP
// server process.
type feedFixture struct {
	t    *testing.T
	pool *pgxpool.Pool
	srv  *smtpServer
	c    *Consumer
	d    *Deliverer
	pos  uint64
	revs map[string]uint64
}

func newFeedFixture(t *testing.T, snd func(*smtpServer) Sender, cfg DelivererConfig) *feedFixture {
	t.Helper()
	f := &feedFixture{t: t, pool: pgtest.NewPool(t), srv: startPlainSMTPServer(t), revs: map[string]uint64{}}
	cfg.Pool, cfg.Sender = f.pool, snd(f.srv)
	var err error
	if f.d, err = NewDeliverer(cfg); err != nil {
		t.Fatal(err)
	}
	if f.c, err = NewConsumer(ConsumerConfig{Pool: f.pool, Deliverer: f.d, Log: zerolog.Nop(),
		Tokens: invitetoken.New([]byte("a test key of at least 32 bytes!!"))}); err != nil {
		t.Fatal(err)
	}
	return f
}

// plainSender is an SMTPSender to srv without TLS.
func plainSender(srv *smtpServer) Sender { return srv.sender(srv.url("smtp", "", "", "starttls=none")) }

// feed hands ev of property pid to the consumer as the feed would, and
// returns the event's ID.
func (f *feedFixture) feed(pid string, ev domain.Event) string {
	f.t.Helper()
	typ, data, err := domain.EncodeEvent(ev)
	if err != nil {
		f.t.Fatal(err)
	}
	id := uuid.NewString()
	meta, _ := json.Marshal(domain.Metadata{EventID: id, ActorID: "acc-owner", ActorEmail: "owner@example.com", OccurredAt: consumerNow, Schema: 1})
	f.pos++
	rec := eventstore.RecordedEvent{ID: id, StreamID: domain.StreamName(pid), Revision: f.revs[pid],
		Position: eventstore.Position{Commit: f.pos, Prepare: f.pos}, Type: typ, Data: data, Metadata: meta, RecordedAt: consumerNow}
	f.revs[pid]++
	if err := f.c.Handle(feed.ToMessage(rec)); err != nil {
		f.t.Fatalf("Handle %s: %v", typ, err)
	}
	return id
}

func (f *feedFixture) property(name string) string {
	pid := uuid.NewString()
	f.feed(pid, domain.PropertyCreated{Schema: 1, PropertyID: pid, Name: name, OwnerID: "acc-owner"})
	return pid
}

func (f *feedFixture) invite(pid string, n int) string {
	return f.feed(pid, domain.MemberInvited{Schema: 1, InvitationID: uuid.NewString(), Email: fmt.Sprintf("guest%d@example.com", n),
		Role: domain.RoleAgent, InvitedBy: "acc-owner", ExpiresAt: expires, TokenNonce: "nonce"})
}

// order is the event IDs of the mails the server received, in the order
// it accepted them.
func (f *feedFixture) order() []string {
	f.t.Helper()
	var ids []string
	for _, id := range messageIDs(f.t, f.srv) {
		id = strings.TrimPrefix(strings.TrimSuffix(id, "@mail.example.com>"), "<roster.")
		ids = append(ids, id)
	}
	return ids
}

// run runs a Dispatcher over the fixture until the test ends.
func (f *feedFixture) run(cfg DispatcherConfig) {
	f.t.Helper()
	cfg.Consumer, cfg.Deliverer = f.c, f.d
	p, err := NewDispatcher(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
}

// waitSent waits until the ledger counts n mails sent. The bound is a guard
// against a hang (a mail waiting for its lease of an hour), not a measure.
func (f *feedFixture) waitSent(n int) {
	f.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s, err := f.d.Status(context.Background())
		if err == nil && s.Sent >= n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d of %d mails sent (%+v, %v) after two minutes; the server has %d", s.Sent, n, s, err, len(f.order()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitReceived waits until the server has accepted n mails.
func (f *feedFixture) waitReceived(n int) {
	f.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(f.order()) < n {
		if time.Now().After(deadline) {
			f.t.Fatalf("the server accepted %d mails after two minutes, want %d", len(f.order()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// onceEach fails the test unless the server received exactly the mails of
// ids, each once.
func onceEach(t *testing.T, got, ids []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("mail of %s received %d times, want once", id, seen[id])
		}
		delete(seen, id)
	}
	for id, n := range seen {
		t.Errorf("unexpected mail of %s received %d times", id, n)
	}
}

// logWatch is a log that signals the first line holding want.
type logWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	return w.buf.Write(p)
}

// TestDispatcherSendsEachMailOnceThroughADatabaseOutageAndHoldsNoMailForTheLease:
// the database goes away between a mail's claim and the record that it was
// sent, the server having accepted it. The process that holds the lease
// (an hour here) recognises it once the database is back and records the
// mail without sending it again; the mails behind it go out, each once.
func TestDispatcherSendsEachMailOnceThroughADatabaseOutageAndHoldsNoMailForTheLease(t *testing.T) {
	tests := []struct {
		name string
		// refuse: the database refuses connections until the attempt has
		// given up recording its outcome; otherwise only the connections
		// are cut, and the next ones succeed.
		refuse bool
	}{
		{"the connections are cut between the send and its record", false},
		{"the database is gone until the attempt gives up recording", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var (
				outage *dbOutage
				first  string
				log    = &logWatch{want: ErrSentNotRecorded.Error(), seen: make(chan struct{})}
			)
			fault := func() {
				outage.begin(tt.refuse)
				if tt.refuse {
					go func() { <-log.seen; outage.restore() }()
				}
			}
			f := newFeedFixture(t, func(srv *smtpServer) Sender {
				return &faultSender{next: plainSender(srv), id: "set below", fault: fault}
			}, DelivererConfig{Lease: time.Hour, RecordTimeout: 100 * time.Millisecond})
			outage = newDBOutage(t, f.pool)
			snd := f.d.sender.(*faultSender)

			a, b, c := f.property("A"), f.property("B"), f.property("C")
			first = f.invite(a, 0)
			snd.id = first
			ids := []string{first}
			for i := 1; i < 12; i++ {
				ids = append(ids, f.invite([]string{a, b, c}[i%3], i))
			}
			f.run(DispatcherConfig{Workers: 4, PerProperty: 2, Poll: 20 * time.Millisecond, Log: zerolog.New(log)})
			f.waitSent(len(ids))

			onceEach(t, f.order(), ids)
			if e := entry(t, f.d, first); e.Status != StatusSent || e.Attempts != 1 {
				t.Errorf("mail cut off from the ledger: %s after %d attempts, want sent after 1", e.Status, e.Attempts)
			}
			if tt.refuse {
				select {
				case <-log.seen:
				default:
					t.Errorf("the attempt never said the mail was sent but not recorded; log:\n%s", log.buf.String())
				}
			}
		})
	}
}

// TestDispatcherSendsAPropertysMailPastAnotherPropertysBacklog: property A
// has 2,000 mails queued, then property B one. B's goes out within the
// first few sends, before most of A's; every mail goes out once.
func TestDispatcherSendsAPropertysMailPastAnotherPropertysBacklog(t *testing.T) {
	t.Parallel()
	const backlog, workers, perProperty = 2000, 8, 2
	f := newFeedFixture(t, plainSender, DelivererConfig{})
	a, b := f.property("A"), f.property("B")
	ids := make([]string, 0, backlog+1)
	for i := range backlog {
		ids = append(ids, f.invite(a, i))
	}
	single := f.invite(b, 0)
	ids = append(ids, single)

	f.run(DispatcherConfig{Workers: workers, PerProperty: perProperty, Log: zerolog.Nop()})
	f.waitSent(len(ids))
	got := f.order()
	onceEach(t, got, ids)
	pos := slices.Index(got, single) + 1
	t.Logf("B's mail went out %d of %d", pos, len(got))
	if limit := 2 * workers; pos < 1 || pos > limit {
		t.Errorf("B's mail went out %d of %d, want among the first %d", pos, len(got), limit)
	}
}

// TestDispatcherSendsAPropertysMailRecordedWhileAnotherPropertysBacklogGoesOut:
// A's 2,000 mails are going out when B's one is recorded; B's is sent
// within a few sends of being recorded, not after A's backlog.
func TestDispatcherSendsAPropertysMailRecordedWhileAnotherPropertysBacklogGoesOut(t *testing.T) {
	t.Parallel()
	const backlog, workers, perProperty = 2000, 8, 2
	f := newFeedFixture(t, plainSender, DelivererConfig{})
	a, b := f.property("A"), f.property("B")
	for i := range backlog {
		f.invite(a, i)
	}
	f.run(DispatcherConfig{Workers: workers, PerProperty: perProperty, Log: zerolog.Nop()})
	f.waitReceived(20)
	single := f.invite(b, 0)
	recordedAfter := len(f.order()) // at least as many as when B's was recorded

	deadline := time.Now().Add(2 * time.Minute)
	for entry(t, f.d, single).Status != StatusSent {
		if time.Now().After(deadline) {
			t.Fatalf("B's mail not sent after two minutes; %d of A's are", len(f.order()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	got := f.order()
	pos := slices.Index(got, single) + 1
	t.Logf("B's mail, recorded after %d of A's, went out %d of %d so far", recordedAfter, pos, len(got))
	if limit := recordedAfter + 2*workers; pos < 1 || pos > limit || pos > backlog/2 {
		t.Errorf("B's mail went out %d, recorded after %d of A's: want by %d and before most of A's", pos, recordedAfter, limit)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("mail of %s received twice", id)
		}
		seen[id] = true
	}
}

// TestNewDispatcherReportsEveryProblem: a dispatcher needs a consumer and
// that consumer's deliverer, and no negative bound.
func TestNewDispatcherReportsEveryProblem(t *testing.T) {
	_, err := NewDispatcher(DispatcherConfig{Workers: -1, PerProperty: -2, Poll: -time.Second})
	if err == nil {
		t.Fatal("NewDispatcher = nil error")
	}
	for _, want := range []string{"no consumer", "no deliverer", "-1 workers", "-2 per property", "poll interval -1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	f := newConsumerFixture(t)
	other, err := NewDeliverer(DelivererConfig{Pool: f.d.pool, Sender: f.out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewDispatcher(DispatcherConfig{Consumer: f.c, Deliverer: other}); err == nil || !strings.Contains(err.Error(), "not the consumer's") {
		t.Errorf("NewDispatcher with another deliverer = %v, want it refused", err)
	}
}
