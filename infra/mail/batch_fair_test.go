package mail

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/pgtest"
)

// gateSender sends at once, like the log sender, and keeps the order of the
// mails. Once shut, it holds every mail to the backlog's recipients until
// the one mail it waits for has been sent: a property's mail that waits
// for the backlog's batches would never go out.
type gateSender struct {
	t        *testing.T
	backlog  string // the domain of the backlog's recipients
	mu       sync.Mutex
	sent     []string    // event IDs
	onSend   func(n int) // called at the n-th send of the backlog, outside mu
	shut     bool
	released chan struct{}
}

func (g *gateSender) Send(ctx context.Context, msg Message) error {
	ofBacklog := strings.HasSuffix(msg.To, "@"+g.backlog)
	g.mu.Lock()
	shut := g.shut && ofBacklog
	g.mu.Unlock()
	if shut {
		select {
		case <-g.released:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Minute): // a guard against a hang, not a measure
			g.t.Errorf("the backlog's mails held for two minutes: the other property's mail did not go out")
		}
	}
	g.mu.Lock()
	g.sent = append(g.sent, msg.ID)
	n := len(g.sent)
	g.mu.Unlock()
	if !ofBacklog {
		close(g.released)
	} else if g.onSend != nil {
		g.onSend(n)
	}
	return nil
}

// close holds the backlog's mails from now on.
func (g *gateSender) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shut = true
}

func (g *gateSender) order() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sent)
}

// TestDispatcherInBatchesSendsAPropertysMailPastAnotherPropertysBatches:
// with a sender that waits for no server, a worker takes a batch of one
// property's mails; property B's one mail, recorded before or while A's
// backlog goes out, takes a free worker instead of waiting for A's batches.
// The sender holds A's mails from the moment B's is recorded until it is
// sent, so B's goes out after at most the A mails under way then, one per
// A worker.
func TestDispatcherInBatchesSendsAPropertysMailPastAnotherPropertysBatches(t *testing.T) {
	t.Parallel()
	const backlog, workers, perProperty, batch = 600, 8, 2, 64
	for _, tc := range []struct {
		name     string
		recordAt int // B's mail is recorded at A's n-th send; 0: before the dispatcher starts
	}{
		{"recorded before the backlog goes out", 0},
		{"recorded while the backlog goes out", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := &gateSender{t: t, backlog: "example.com", released: make(chan struct{})}
			f := newFeedFixture(t, func(*smtpServer) Sender { return g }, DelivererConfig{})
			a, b := f.property("A"), f.property("B")
			var ids []string
			for i := range backlog {
				ids = append(ids, f.invite(a, i))
			}
			var single string
			var recordedAfter int
			// A's mails are held from before B's is recorded, so that none
			// goes out while it is. B's invitee's address is not under the
			// backlog's domain.
			recordB := func() {
				g.close()
				single = f.feed(b, invitedTo("guest@b.example.org"))
			}
			if tc.recordAt == 0 {
				recordB()
			} else {
				g.onSend = func(n int) {
					if n == tc.recordAt {
						recordedAfter = n
						recordB()
					}
				}
			}
			f.run(DispatcherConfig{Workers: workers, PerProperty: perProperty, Batch: batch, Log: zerolog.Nop()})
			f.waitSent(backlog + 1)
			got := g.order()
			onceEach(t, got, append(ids, single))
			pos := slices.Index(got, single) + 1
			t.Logf("B's mail, recorded after %d of A's, went out %d of %d", recordedAfter, pos, len(got))
			if limit := recordedAfter + perProperty + 1; pos < 1 || pos > limit {
				t.Errorf("B's mail went out %d of %d, recorded after %d of A's: want by %d", pos, len(got), recordedAfter, limit)
			}
		})
	}
}

// invitedTo is a new invitation of email.
func invitedTo(email string) domain.MemberInvited {
	return domain.MemberInvited{Schema: 1, InvitationID: uuid.NewString(), Email: email,
		Role: domain.RoleAgent, InvitedBy: "acc-owner", ExpiresAt: expires, TokenNonce: "nonce"}
}

// TestDispatcherBatchIsOneMailForAnSMTPServer: a batch shares one lease, so
// an SMTP sender's mails go one by one unless told otherwise; a negative
// batch is refused.
func TestDispatcherBatchIsOneMailForAnSMTPServer(t *testing.T) {
	f := newConsumerFixture(t)
	smtp, err := NewDeliverer(DelivererConfig{Pool: f.d.pool, Sender: &SMTPSender{}})
	if err != nil {
		t.Fatal(err)
	}
	smtpConsumer, err := NewConsumer(ConsumerConfig{Pool: f.d.pool, Deliverer: smtp, Tokens: f.tokens, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cfg   DispatcherConfig
		batch int
	}{
		{"another sender, by default", DispatcherConfig{Consumer: f.c, Deliverer: f.d}, DefaultBatch},
		{"an SMTP sender, by default", DispatcherConfig{Consumer: smtpConsumer, Deliverer: smtp}, 1},
		{"an SMTP sender, told", DispatcherConfig{Consumer: smtpConsumer, Deliverer: smtp, Batch: 4}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewDispatcher(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if p.batch != tc.batch {
				t.Errorf("batch = %d, want %d", p.batch, tc.batch)
			}
		})
	}
	if _, err := NewDispatcher(DispatcherConfig{Consumer: f.c, Deliverer: f.d, Batch: -3}); err == nil ||
		!strings.Contains(err.Error(), "batch of -3 is negative") {
		t.Errorf("NewDispatcher with a batch of -3 = %v, want it refused", err)
	}
}

// hookSender keeps what it is given, calling hook first.
type hookSender struct {
	outbox
	hook func(msg Message)
}

func (h *hookSender) Send(ctx context.Context, msg Message) error {
	h.hook(msg)
	return h.outbox.Send(ctx, msg)
}

// newBatchFixture is a consumer fixture whose dispatcher sends in batches
// through snd, with n mails recorded to distinct invitees.
func newBatchFixture(t *testing.T, snd Sender, n int) (*consumerFixture, []string) {
	t.Helper()
	f := &consumerFixture{t: t, out: &outbox{}, tokens: invitetoken.New([]byte("a test key of at least 32 bytes!!")), pid: uuid.NewString()}
	pool := pgtest.NewPool(t)
	var err error
	if f.d, err = NewDeliverer(DelivererConfig{Pool: pool, Sender: snd, MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	if f.c, err = NewConsumer(ConsumerConfig{Pool: pool, Deliverer: f.d, Tokens: f.tokens, AcceptURL: testAcceptURL,
		Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	if f.p, err = NewDispatcher(DispatcherConfig{Consumer: f.c, Deliverer: f.d, Batch: 16, Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	f.created()
	var ids []string
	for i := range n {
		m := f.msg("bob@example.com", invitedTo(fmt.Sprintf("guest%d@example.com", i)))
		f.handle(m)
		ids = append(ids, m.UUID)
	}
	return f, ids
}

// TestDispatcherBatchPostponesTheMailItCannotWriteAlone: one mail of a
// batch whose recorded event does not decode waits for its backoff, its
// attempt counted; the others of the batch go out.
func TestDispatcherBatchPostponesTheMailItCannotWriteAlone(t *testing.T) {
	out := &outbox{}
	f, ids := newBatchFixture(t, out, 5)
	ctx := context.Background()
	if _, err := f.d.pool.Exec(ctx, `UPDATE mail_ledger SET event = 'not json' WHERE event_id = $1`, ids[2]); err != nil {
		t.Fatal(err)
	}
	f.drain()
	if got := len(out.sent()); got != 4 {
		t.Errorf("%d mails sent, want the 4 that can be written", got)
	}
	for i, id := range ids {
		e := entry(t, f.d, id)
		switch {
		case i == 2 && (e.Status != StatusPending || e.Attempts != 1 || !e.NextAttemptAt.After(time.Now()) ||
			!strings.Contains(e.LastError, "could not be written")):
			t.Errorf("the mail that cannot be written: %+v, want pending after its backoff with one attempt", e)
		case i != 2 && e.Status != StatusSent:
			t.Errorf("mail %d: %s, want sent", i, e.Status)
		}
	}
}

// TestDispatcherStoppedMidBatchGivesTheRestBackUncounted: the Dispatcher
// stopped while it sends a batch gives back the batch's mails it has not
// sent, pending and due, with no attempt counted.
func TestDispatcherStoppedMidBatchGivesTheRestBackUncounted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snd := &hookSender{hook: func(Message) { cancel() }}
	f, ids := newBatchFixture(t, snd, 5)
	if err := f.p.Drain(ctx); err == nil {
		t.Fatal("Drain = nil, want the context's error")
	}
	sent := 0
	for _, id := range ids {
		switch e := entry(t, f.d, id); {
		case e.Status == StatusSent:
			sent++
		case e.Status != StatusPending || e.Attempts != 0 || e.NextAttemptAt.After(time.Now()):
			t.Errorf("an unsent mail of the batch: %+v, want pending and due, no attempt counted", e)
		}
	}
	if sent != 1 || len(snd.sent()) != 1 {
		t.Errorf("%d mails recorded sent, %d sent, want the 1 under way", sent, len(snd.sent()))
	}
}

// TestClaimAllTakesOnlyTheMailsItMaySend: a batch's claim takes a pending
// mail with attempts left and its recorded event, and leaves every other:
// sent, failed, out of attempts, held by another process's live lease,
// without an event, or unknown to the ledger.
func TestClaimAllTakesOnlyTheMailsItMaySend(t *testing.T) {
	f, ids := newBatchFixture(t, &outbox{}, 6)
	ctx := context.Background()
	for _, q := range []struct{ sql, id string }{
		{`UPDATE mail_ledger SET status = 'sent', event = NULL WHERE event_id = $1`, ids[1]},
		{`UPDATE mail_ledger SET status = 'failed' WHERE event_id = $1`, ids[2]},
		{`UPDATE mail_ledger SET attempts = 3 WHERE event_id = $1`, ids[3]},
		{`UPDATE mail_ledger SET status = 'sending', claimed_until = now() + interval '1 hour', lease_holder = 'another',
		  lease_id = gen_random_uuid() WHERE event_id = $1`, ids[4]},
		{`UPDATE mail_ledger SET event = NULL WHERE event_id = $1`, ids[5]},
	} {
		if _, err := f.d.pool.Exec(ctx, q.sql, q.id); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := f.d.claimAll(ctx, append(slices.Clone(ids), uuid.NewString()))
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 1 || claimed[0].eventID != ids[0] || claimed[0].attempt != 1 || claimed[0].lease == "" {
		t.Fatalf("claimed %+v, want only the pending mail %s, at its first attempt under a lease", claimed, ids[0])
	}
	if e := entry(t, f.d, ids[0]); e.Status != StatusSending {
		t.Errorf("the claimed mail is %s, want sending", e.Status)
	}
	if _, err := f.d.claimAll(ctx, []string{"not a uuid"}); err == nil {
		t.Error("claimAll of an event ID that is not a UUID = nil error, want the database's refusal")
	}
}
