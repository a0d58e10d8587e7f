package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// batch is msgs, one-event messages of the fixture, as one batch message.
func (f *consumerFixture) batch(msgs ...*message.Message) *message.Message {
	f.t.Helper()
	recs := make([]eventstore.RecordedEvent, len(msgs))
	for i, m := range msgs {
		rec, err := feed.FromMessage(m)
		if err != nil {
			f.t.Fatal(err)
		}
		recs[i] = rec
	}
	return feed.ToBatchMessage(recs)
}

// TestABatchRetriedHalfWaySendsEachMailOnce: a batch whose second mail
// cannot be recorded fails after its first was recorded, and is sent
// meanwhile; the batch handled again, and again as after a crash before the
// checkpoint's save, records the second, and no mail goes out twice.
func TestABatchRetriedHalfWaySendsEachMailOnce(t *testing.T) {
	f := newConsumerFixture(t)
	f.created()
	first, second := f.invited(uuid.NewString(), "n1"), f.invited(uuid.NewString(), "n2")
	batch := f.batch(f.msg("owner@example.com", domain.MemberRoleChanged{Schema: 1, AccountID: "acc-x", From: domain.RoleAgent, To: domain.RoleAdmin}), first, second)
	ctx := context.Background()
	// A sequence is not rolled back: the ledger refuses the second mail once.
	if _, err := f.c.pool.Exec(ctx, `CREATE SEQUENCE fail_once;
CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.event_id::text = '`+second.UUID+`' AND nextval('fail_once') = 1 THEN
		RAISE EXCEPTION 'the database fails half-way';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER fail_once BEFORE INSERT ON mail_ledger FOR EACH ROW EXECUTE FUNCTION fail_once();`); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Handle(batch); err == nil {
		t.Fatal("first Handle = nil, want the database's failure")
	}
	f.drain()
	if got := len(f.out.sent()); got != 1 {
		t.Fatalf("%d mails sent after the failed batch, want the first one", got)
	}
	for range 2 {
		if err := f.c.Handle(batch); err != nil {
			t.Fatalf("Handle again = %v", err)
		}
		f.drain()
	}
	if got := len(f.out.sent()); got != 2 {
		t.Errorf("%d mails sent, want 2: each invitation once", got)
	}
	for _, m := range []*message.Message{first, second} {
		if e := entry(t, f.d, m.UUID); e.Status != StatusSent || e.Attempts != 1 {
			t.Errorf("ledger of %s = %s after %d attempts, want sent after 1", m.UUID, e.Status, e.Attempts)
		}
	}
}

// TestABatchItCannotReadIsRefused: a batch holding an event that does not
// decode, or a batch message that is not one, is an error for the router
// to retry.
func TestABatchItCannotReadIsRefused(t *testing.T) {
	tests := []struct {
		name string
		msg  func(f *consumerFixture) *message.Message
	}{
		{"an event that does not decode after a good one", func(f *consumerFixture) *message.Message {
			bad := f.invited(uuid.NewString(), "n")
			bad.Payload = []byte(`{"schema": 99}`)
			return f.batch(f.invited(uuid.NewString(), "n"), bad)
		}},
		{"a batch whose payload is cut short", func(f *consumerFixture) *message.Message {
			m := f.batch(f.invited(uuid.NewString(), "n"))
			m.Payload = m.Payload[:len(m.Payload)-3]
			return m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newConsumerFixture(t)
			f.created()
			if err := f.c.Handle(tt.msg(f)); err == nil {
				t.Error("Handle = nil, want an error for the router's retries")
			}
		})
	}
}

// TestABatchReadsWhatItsOwnEventsSaid: the property's creation, an
// invitation and its resend in one batch give two mails naming the
// property and the invitee, as they would one message at a time; a resend
// of an invitation from an earlier batch reads it from the tables; and a
// resend of an invitation nobody knows fails the batch after the events
// before it were recorded.
func TestABatchReadsWhatItsOwnEventsSaid(t *testing.T) {
	f := newConsumerFixture(t)
	created := f.msg("owner@example.com", domain.PropertyCreated{Schema: 1, PropertyID: f.pid, Name: "Acme Support", OwnerID: "acc-owner"})
	iid := uuid.NewString()
	invited := f.invited(iid, "n1")
	resent := f.msg("bob@example.com", domain.InvitationResent{Schema: 1, InvitationID: iid, ExpiresAt: expires, TokenNonce: "n2"})
	if err := f.c.Handle(f.batch(created, invited, resent)); err != nil {
		t.Fatalf("Handle = %v", err)
	}
	later := f.msg("bob@example.com", domain.InvitationResent{Schema: 1, InvitationID: iid, ExpiresAt: expires, TokenNonce: "n3"})
	other := f.invited(uuid.NewString(), "n4")
	unknown := f.msg("bob@example.com", domain.InvitationResent{Schema: 1, InvitationID: uuid.NewString(), ExpiresAt: expires, TokenNonce: "n5"})
	if err := f.c.Handle(f.batch(later, other, unknown)); err == nil {
		t.Fatal("Handle of a batch resending an unknown invitation = nil, want an error")
	}
	f.drain()
	sent := f.out.sent()
	if len(sent) != 4 {
		t.Fatalf("%d mails sent, want 4: the invitation, its two resends and the other invitation", len(sent))
	}
	for i, m := range sent {
		if m.To != "ann@example.com" || !strings.Contains(m.Subject+m.Text, "Acme Support") {
			t.Errorf("mail %d to %q, subject %q: want ann@example.com and the property's name", i, m.To, m.Subject)
		}
	}
	if e, err := f.d.Entry(context.Background(), unknown.UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the unknown resend's ledger entry: %+v, %v; want ErrNotFound", e, err)
	}
}

// TestABatchKeepsTheFeedsOrderOfMails: an invitation and its resends in
// one batch go out in the feed's order, so the last mail holds the token
// that accepts, however the ledger's IDs happen to sort.
func TestABatchKeepsTheFeedsOrderOfMails(t *testing.T) {
	f := newConsumerFixture(t)
	f.created()
	iid := uuid.NewString()
	msgs := []*message.Message{f.invited(iid, "n0")}
	for i := 1; i < 8; i++ {
		msgs = append(msgs, f.msg("bob@example.com", domain.InvitationResent{Schema: 1, InvitationID: iid, ExpiresAt: expires, TokenNonce: fmt.Sprintf("n%d", i)}))
	}
	f.handle(f.batch(msgs...))
	f.drain()
	sent := f.out.sent()
	if len(sent) != len(msgs) {
		t.Fatalf("%d mails sent, want %d", len(sent), len(msgs))
	}
	for i, m := range sent {
		if want := f.tokens.Mint(f.pid, iid, fmt.Sprintf("n%d", i)); !strings.Contains(m.Text, want) {
			t.Errorf("mail %d does not hold the token of event %d: the mails went out out of the feed's order", i, i)
		}
	}
}
