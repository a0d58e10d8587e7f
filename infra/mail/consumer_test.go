package mail

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/privacy"
)

// outbox is a Sender that keeps what it is given and fails with err when set.
type outbox struct {
	mu   sync.Mutex
	msgs []Message
	err  error
}

func (o *outbox) Send(_ context.Context, msg Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.msgs = append(o.msgs, msg)
	return nil
}

func (o *outbox) sent() []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Message(nil), o.msgs...)
}

// consumerNow is when the test events happen.
var consumerNow = time.Date(2029, 12, 1, 0, 0, 0, 0, time.UTC)

// consumerFixture is a Consumer over a fresh database and an outbox, fed
// one property's events.
type consumerFixture struct {
	t      testing.TB
	c      *Consumer
	d      *Deliverer
	p      *Dispatcher
	out    *outbox
	tokens *invitetoken.Key
	pid    string
	rev    uint64
}

func newConsumerFixture(t testing.TB) *consumerFixture {
	t.Helper()
	f := &consumerFixture{t: t, out: &outbox{}, tokens: invitetoken.New([]byte("a test key of at least 32 bytes!!")), pid: uuid.NewString()}
	pool := pgtest.NewPool(t)
	var err error
	if f.d, err = NewDeliverer(DelivererConfig{Pool: pool, Sender: f.out, MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	if f.c, err = NewConsumer(ConsumerConfig{Pool: pool, Deliverer: f.d, Tokens: f.tokens, AcceptURL: testAcceptURL,
		Log: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	f.dispatcher()
	return f
}

func (f *consumerFixture) dispatcher() {
	f.t.Helper()
	var err error
	if f.p, err = NewDispatcher(DispatcherConfig{Consumer: f.c, Deliverer: f.d, Log: zerolog.Nop()}); err != nil {
		f.t.Fatal(err)
	}
}

// drain sends the mails the consumer has recorded, as the server's
// Dispatcher does.
func (f *consumerFixture) drain() {
	f.t.Helper()
	if err := f.p.Drain(context.Background()); err != nil {
		f.t.Fatalf("Drain: %v", err)
	}
}

// msg is ev as the feed delivers it: the next event of the property's
// stream, caused by actor.
func (f *consumerFixture) msg(actor string, ev domain.Event) *message.Message {
	f.t.Helper()
	typ, data, err := domain.EncodeEvent(ev)
	if err != nil {
		f.t.Fatal(err)
	}
	id := uuid.NewString()
	meta, _ := json.Marshal(domain.Metadata{EventID: id, ActorID: "acc-" + actor, ActorEmail: actor, OccurredAt: consumerNow, Schema: 1})
	f.rev++
	return feed.ToMessage(eventstore.RecordedEvent{ID: id, StreamID: domain.StreamName(f.pid), Revision: f.rev,
		Position: eventstore.Position{Commit: f.rev, Prepare: f.rev}, Type: typ, Data: data, Metadata: meta, RecordedAt: consumerNow})
}

// handle gives m to the consumer and fails the test on an error.
func (f *consumerFixture) handle(m *message.Message) {
	f.t.Helper()
	if err := f.c.Handle(m); err != nil {
		f.t.Fatalf("Handle(%s): %v", m.Metadata.Get(feed.KeyType), err)
	}
}

var expires = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *consumerFixture) created() {
	f.handle(f.msg("owner@example.com", domain.PropertyCreated{Schema: 1, PropertyID: f.pid, Name: "Acme Support", OwnerID: "acc-owner"}))
}

func (f *consumerFixture) invited(iid, nonce string) *message.Message {
	return f.msg("bob@example.com", domain.MemberInvited{Schema: 1, InvitationID: iid, Email: "ann@example.com",
		Role: domain.RoleAdmin, InvitedBy: "acc-bob", ExpiresAt: expires, TokenNonce: nonce})
}

func TestConsumerMailsEachInvitationOnceWithWhatTheInviteeNeeds(t *testing.T) {
	f := newConsumerFixture(t)
	f.created()
	iid := uuid.NewString()
	m := f.invited(iid, "nonce-1")
	for range 3 { // redelivered: one mail
		f.handle(m)
		f.drain()
	}
	got := f.out.sent()
	if len(got) != 1 {
		t.Fatalf("%d mails sent, want 1", len(got))
	}
	token := f.tokens.Mint(f.pid, iid, "nonce-1")
	want, err := Invitation(InvitationMail{PropertyID: f.pid, PropertyName: "Acme Support", InvitationID: iid,
		Email: "ann@example.com", Role: domain.RoleAdmin, InvitedBy: "bob@example.com", ExpiresAt: expires, Token: token}, testAcceptURL)
	if err != nil {
		t.Fatal(err)
	}
	want.ID = m.UUID
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("mail (-want +got):\n%s", diff)
	}
	if !f.tokens.Valid(token, f.pid, iid, "nonce-1") {
		t.Error("the mailed token is not valid for the event's nonce")
	}
}

func TestConsumerMailsAResendWithTheNewTokenToTheInvitationsInvitee(t *testing.T) {
	f := newConsumerFixture(t)
	f.created()
	iid := uuid.NewString()
	f.handle(f.invited(iid, "nonce-1"))
	later := expires.Add(24 * time.Hour)
	resent := f.msg("cat@example.com", domain.InvitationResent{Schema: 1, InvitationID: iid, ExpiresAt: later, TokenNonce: "nonce-2"})
	f.handle(resent)
	f.drain()
	got := f.out.sent()
	if len(got) != 2 {
		t.Fatalf("%d mails sent, want 2 (invite and resend)", len(got))
	}
	token := f.tokens.Mint(f.pid, iid, "nonce-2")
	want, _ := Invitation(InvitationMail{PropertyID: f.pid, PropertyName: "Acme Support", InvitationID: iid,
		Email: "ann@example.com", Role: domain.RoleAdmin, InvitedBy: "cat@example.com", ExpiresAt: later, Token: token}, testAcceptURL)
	want.ID = resent.UUID
	if diff := cmp.Diff(want, got[1]); diff != "" {
		t.Errorf("resent mail (-want +got):\n%s", diff)
	}
}

// TestDispatcherSendsAResendAfterTheMailItReplaces: recorded together, the
// invitation's mail goes first and the resend's, whose token replaces it,
// after; the invitee's last mail is the one that accepts.
func TestDispatcherSendsAResendAfterTheMailItReplaces(t *testing.T) {
	for range 5 { // concurrent sends would be free to swap them
		f := newConsumerFixture(t)
		f.created()
		iid := uuid.NewString()
		invite := f.invited(iid, "nonce-1")
		resend := f.msg("bob@example.com", domain.InvitationResent{Schema: 1, InvitationID: iid, ExpiresAt: expires, TokenNonce: "nonce-2"})
		f.handle(invite)
		f.handle(resend)
		f.drain()
		var got []string
		for _, m := range f.out.sent() {
			got = append(got, m.ID)
		}
		if diff := cmp.Diff([]string{invite.UUID, resend.UUID}, got); diff != "" {
			t.Fatalf("mails sent (-want +got):\n%s", diff)
		}
	}
}

func TestConsumerSendsNothingForWhatIsNoInvitation(t *testing.T) {
	tests := []struct {
		name string
		msg  func(f *consumerFixture) *message.Message
	}{
		{"a role change", func(f *consumerFixture) *message.Message {
			return f.msg("owner@example.com", domain.MemberRoleChanged{Schema: 1, AccountID: "acc-ann", From: domain.RoleAgent, To: domain.RoleAdmin})
		}},
		{"a revocation", func(f *consumerFixture) *message.Message {
			return f.msg("owner@example.com", domain.InvitationRevoked{Schema: 1, InvitationID: uuid.NewString()})
		}},
		{"an event of a stream that is no property's", func(f *consumerFixture) *message.Message {
			m := f.invited(uuid.NewString(), "n")
			m.Metadata.Set(feed.KeyStream, "other-stream")
			return m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newConsumerFixture(t)
			f.created()
			f.handle(tt.msg(f))
			f.drain()
			if n := len(f.out.sent()); n != 0 {
				t.Errorf("%d mails sent, want none", n)
			}
		})
	}
}

// TestConsumerAcksEveryRecordedMailAndTheLedgerKeepsItsFailure: recording
// is the consumer's whole work, so a mail that cannot go out holds back no
// event; the ledger keeps a refusal failed and a temporary failure pending.
func TestConsumerAcksEveryRecordedMailAndTheLedgerKeepsItsFailure(t *testing.T) {
	tests := []struct {
		name       string
		sendErr    error
		wantStatus Status
	}{
		{"a refusal stays failed in the ledger", permanent(errors.New("550 no such user")), StatusFailed},
		{"a temporary failure stays pending, to be retried", errors.New("dial tcp: connection refused"), StatusPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newConsumerFixture(t)
			f.created()
			f.out.err = tt.sendErr
			m := f.invited(uuid.NewString(), "n")
			if err := f.c.Handle(m); err != nil {
				t.Fatalf("Handle = %v, want nil: the mail is recorded", err)
			}
			if e := entry(t, f.d, m.UUID); e.Status != StatusPending || e.Attempts != 0 {
				t.Fatalf("ledger after Handle = %s after %d attempts, want pending after 0", e.Status, e.Attempts)
			}
			f.drain()
			e := entry(t, f.d, m.UUID)
			if e.Status != tt.wantStatus || !strings.Contains(e.LastError, tt.sendErr.Error()) {
				t.Errorf("ledger = %s %q, want %s with the error", e.Status, e.LastError, tt.wantStatus)
			}
		})
	}
}

func TestConsumerRefusesWhatItCannotRead(t *testing.T) {
	tests := []struct {
		name string
		msg  func(f *consumerFixture) *message.Message
	}{
		{"a message that is no feed event", func(*consumerFixture) *message.Message {
			return message.NewMessage(uuid.NewString(), []byte(`{}`))
		}},
		{"a payload that does not decode", func(f *consumerFixture) *message.Message {
			m := f.invited(uuid.NewString(), "n")
			m.Payload = []byte(`{"schema": 99}`)
			return m
		}},
		{"a resend of an invitation it never saw", func(f *consumerFixture) *message.Message {
			return f.msg("bob@example.com", domain.InvitationResent{Schema: 1, InvitationID: uuid.NewString(), ExpiresAt: expires, TokenNonce: "n"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newConsumerFixture(t)
			if err := f.c.Handle(tt.msg(f)); err == nil {
				t.Error("Handle = nil, want an error for the router's retries and poison queue")
			}
		})
	}
}

// sealedFixture is a consumer that opens events through a real vault, and
// the means to seal the events it is fed as the executor does.
type sealedFixture struct {
	*consumerFixture
	vault *privacy.Vault
}

func newSealedFixture(t *testing.T) *sealedFixture {
	t.Helper()
	f := &consumerFixture{t: t, out: &outbox{}, tokens: invitetoken.New([]byte("a test key of at least 32 bytes!!")), pid: uuid.NewString()}
	pool := pgtest.NewPool(t)
	v := privacy.NewVault(pool)
	var err error
	if f.d, err = NewDeliverer(DelivererConfig{Pool: pool, Sender: f.out, MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	if f.c, err = NewConsumer(ConsumerConfig{Pool: pool, Deliverer: f.d, Tokens: f.tokens, AcceptURL: testAcceptURL,
		Log: zerolog.Nop(), Opener: v}); err != nil {
		t.Fatal(err)
	}
	f.dispatcher()
	return &sealedFixture{consumerFixture: f, vault: v}
}

// sealed is m with its event sealed.
func (f *sealedFixture) sealed(m *message.Message) *message.Message {
	f.t.Helper()
	rec, err := feed.FromMessage(m)
	if err != nil {
		f.t.Fatal(err)
	}
	events := []eventstore.EventData{{ID: rec.ID, Type: rec.Type, Data: rec.Data, Metadata: rec.Metadata}}
	if err := f.vault.Seal(context.Background(), events); err != nil {
		f.t.Fatal(err)
	}
	rec.Data, rec.Metadata = events[0].Data, events[0].Metadata
	return feed.ToMessage(rec)
}

// TestConsumerOpensSealedEventsBeforeMailing: the invitee's and inviter's
// emails are sealed in the event, and the mail goes to the plaintext one.
func TestConsumerOpensSealedEventsBeforeMailing(t *testing.T) {
	f := newSealedFixture(t)
	f.created()
	iid := uuid.NewString()
	m := f.sealed(f.invited(iid, "nonce-1"))
	if strings.Contains(string(m.Payload), "ann@example.com") {
		t.Fatalf("the event was not sealed: %s", m.Payload)
	}
	f.handle(m)
	f.drain()
	got := f.out.sent()
	if len(got) != 1 || got[0].To != "ann@example.com" || !strings.Contains(got[0].Text, "bob@example.com invited you") {
		t.Fatalf("mails %+v, want one to ann@example.com from bob@example.com", got)
	}
}

// TestConsumerDoesNotMailAForgottenInvitee: an invitation or resend to a
// person forgotten meanwhile is recorded as failed with the reason and not
// sent; an inviter forgotten meanwhile is "An admin" in the mail.
func TestConsumerDoesNotMailAForgottenInvitee(t *testing.T) {
	ctx := context.Background()
	t.Run("the invitee", func(t *testing.T) {
		f := newSealedFixture(t)
		f.created()
		iid := uuid.NewString()
		invite := f.sealed(f.invited(iid, "nonce-1"))
		resend := f.sealed(f.msg("bob@example.com", domain.InvitationResent{Schema: 1, InvitationID: iid, ExpiresAt: expires, TokenNonce: "nonce-2"}))
		if _, err := f.vault.Forget(ctx, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		f.handle(invite)
		f.handle(resend)
		f.drain()
		if got := f.out.sent(); len(got) != 0 {
			t.Fatalf("%d mails sent to a forgotten invitee: %+v", len(got), got)
		}
		for _, m := range []*message.Message{invite, resend} {
			e, err := f.d.Entry(ctx, m.UUID)
			if err != nil {
				t.Fatal(err)
			}
			if e.Status != StatusFailed || !privacy.IsErasedEmail(e.Recipient) || !strings.Contains(e.LastError, "forgotten") {
				t.Errorf("ledger of %s = %s to %s (%q), want failed to an erased address, saying why", m.UUID, e.Status, e.Recipient, e.LastError)
			}
		}
	})
	t.Run("the invitee, after the mail was recorded", func(t *testing.T) {
		f := newSealedFixture(t)
		f.created()
		invite := f.sealed(f.invited(uuid.NewString(), "nonce-1"))
		f.handle(invite)
		if _, err := f.vault.Forget(ctx, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		f.drain()
		if got := f.out.sent(); len(got) != 0 {
			t.Fatalf("%d mails sent to a forgotten invitee: %+v", len(got), got)
		}
		e := entry(t, f.d, invite.UUID)
		if e.Status != StatusFailed || !privacy.IsErasedEmail(e.Recipient) || !strings.Contains(e.LastError, "forgotten") {
			t.Errorf("ledger = %s to %s (%q), want failed to an erased address, saying why", e.Status, e.Recipient, e.LastError)
		}
		var kept bool
		if err := f.d.pool.QueryRow(ctx, `SELECT event IS NOT NULL FROM mail_ledger WHERE event_id = $1`, invite.UUID).Scan(&kept); err != nil || kept {
			t.Errorf("the ledger keeps the event of a mail to a forgotten invitee (%v)", err)
		}
	})
	t.Run("the inviter", func(t *testing.T) {
		f := newSealedFixture(t)
		f.created()
		m := f.sealed(f.invited(uuid.NewString(), "nonce-1"))
		f.handle(m) // forgotten after the mail was recorded: it is written when sent
		if _, err := f.vault.Forget(ctx, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		f.drain()
		got := f.out.sent()
		if len(got) != 1 || got[0].To != "ann@example.com" || !strings.Contains(got[0].Text, "An admin invited you") ||
			strings.Contains(got[0].Text, "erased") {
			t.Fatalf("mails %+v, want one to ann@example.com from \"An admin\"", got)
		}
	})
}

// TestConsumerRefusesAnEventItCannotOpen: a sealed value that was altered
// is an error for the router's retries and poison queue, and sends nothing.
func TestConsumerRefusesAnEventItCannotOpen(t *testing.T) {
	f := newSealedFixture(t)
	f.created()
	m := f.sealed(f.invited(uuid.NewString(), "nonce-1"))
	i := strings.Index(string(m.Payload), `"pii1:`) + 10
	m.Payload[i] ^= 1 // one hex digit of the subject becomes another
	if err := f.c.Handle(m); err == nil {
		t.Fatal("Handle = nil, want an error naming the event")
	}
	if got := f.out.sent(); len(got) != 0 {
		t.Errorf("%d mails sent from an event that does not open", len(got))
	}
}
