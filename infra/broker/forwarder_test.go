package broker_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/broker"
)

// newForwarder makes a forwarder with its own stream on url, closed and
// deleted when tb ends.
func newForwarder(tb testing.TB, url string) (*broker.Forwarder, broker.Config) {
	tb.Helper()
	stream, prefix := uniqueNames(tb)
	cfg := broker.Config{
		URL: url, Stream: stream, SubjectPrefix: prefix,
		PublishTimeout: 2 * time.Second, ReconnectWait: 100 * time.Millisecond,
	}
	f, err := broker.NewForwarder(cfg, watermill.NewStdLogger(false, false))
	if err != nil {
		tb.Fatalf("NewForwarder: %v", err)
	}
	tb.Cleanup(func() {
		if err := f.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	deleteStreamAtEnd(tb, url, stream)
	return f, cfg
}

// handleRetrying calls Handle as the router's retry middleware would:
// until it succeeds, with backoff, a bounded number of times. It returns
// how many attempts failed.
func handleRetrying(tb testing.TB, f *broker.Forwarder, msg *message.Message) int {
	tb.Helper()
	wait := 50 * time.Millisecond
	var err error
	for attempt := 0; attempt < 40; attempt++ {
		if err = f.Handle(msg); err == nil {
			return attempt
		}
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
	tb.Fatalf("event %s not published after 40 attempts: %v", msg.UUID, err)
	return 0
}

func TestForwarderPublishesEachEventOnceToItsSubjectInThePublicSchema(t *testing.T) {
	url := natsURL(t)
	f, cfg := newForwarder(t, url)
	const pid = "prop-a"
	for i, s := range samples() {
		if err := f.Handle(feedMessage(t, pid, fmt.Sprintf("evt-%02d", i), uint64(i), s.event)); err != nil {
			t.Fatalf("Handle %s: %v", s.typ, err)
		}
	}

	msgs := streamMessages(t, url, cfg.Stream)
	if len(msgs) != len(samples()) {
		t.Fatalf("stream holds %d messages, want %d", len(msgs), len(samples()))
	}
	for i, s := range samples() {
		m, id := msgs[i], fmt.Sprintf("evt-%02d", i)
		t.Run(s.typ, func(t *testing.T) {
			if want := cfg.SubjectPrefix + ".property." + pid + "." + s.subject; m.Subject != want {
				t.Errorf("subject = %q, want %q", m.Subject, want)
			}
			if got := m.Header.Get(nats.MsgIdHdr); got != id {
				t.Errorf("%s = %q, want the event ID %q", nats.MsgIdHdr, got, id)
			}
			if got := m.Header.Get(broker.HeaderType); got != s.typ {
				t.Errorf("%s = %q, want %q", broker.HeaderType, got, s.typ)
			}
			for k := range m.Header {
				if k != nats.MsgIdHdr && k != nats.ExpectedStreamHdr && k != broker.HeaderType && k != broker.HeaderContentType && k != "_watermill_message_uuid" {
					t.Errorf("unexpected header %s: %v", k, m.Header[k])
				}
			}
			if d := diffJSON(t, wantJSON(s, pid, id, uint64(i)), string(m.Data)); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
			assertNoSecrets(t, string(m.Data))
			assertNoSecrets(t, fmt.Sprint(m.Header))
		})
	}
}

func TestForwarderHandlingAnEventTwiceStoresItOnce(t *testing.T) {
	url := natsURL(t)
	f, cfg := newForwarder(t, url)
	msg := feedMessage(t, "prop-a", "evt-dup", 0, domain.MemberLeft{Schema: 1, AccountID: "acc-1"})
	for i := range 3 {
		if err := f.Handle(msg); err != nil {
			t.Fatalf("Handle #%d: %v", i+1, err)
		}
	}
	// The same event ID in a message rebuilt from the feed, as after a
	// redelivery, is a duplicate too.
	if err := f.Handle(feedMessage(t, "prop-a", "evt-dup", 0, domain.MemberLeft{Schema: 1, AccountID: "acc-1"})); err != nil {
		t.Fatalf("Handle of the redelivered copy: %v", err)
	}
	if got := len(streamMessages(t, url, cfg.Stream)); got != 1 {
		t.Errorf("stream holds %d messages, want 1", got)
	}
}

func TestForwarderRefusesAFeedMessageItCannotRead(t *testing.T) {
	f, _ := newForwarder(t, natsURL(t))
	if err := f.Handle(message.NewMessage("x", []byte("{}"))); err == nil {
		t.Error("Handle of a message without feed metadata succeeded, want an error")
	}
}

// published is what the restart test checks in the stream: which event,
// in which property.
type published struct{ ID, Subject string }

func TestForwarderLosesNothingWhenTheBrokerRestartsMidRun(t *testing.T) {
	srv := mustStartNATS(t)
	f, cfg := newForwarder(t, srv.URL())

	props := []string{"prop-a", "prop-b", "prop-c"}
	const n = 60
	var want []published
	msgs := make([]*message.Message, n)
	for i := range n {
		pid := props[i%len(props)]
		rev := uint64(i / len(props))
		id := fmt.Sprintf("evt-%03d", i)
		msgs[i] = feedMessage(t, pid, id, rev, domain.MemberRoleChanged{Schema: 1, AccountID: "acc-1", From: domain.RoleAgent, To: domain.RoleAdmin})
		want = append(want, published{id, cfg.SubjectPrefix + ".property." + pid + ".member.role_changed.v1"})
	}

	failures := 0
	for i, msg := range msgs {
		switch i {
		case 20:
			// Down for a while: Handle must fail, not pretend.
			srv.stop()
			if err := f.Handle(msg); err == nil {
				t.Fatal("Handle succeeded while the broker was down")
			}
			failures++
			srv.start()
		case 40:
			// Restarted between two events, without a pause: the
			// client finds out on its next publish.
			srv.restart()
			// An event published before the restart comes again (a
			// redelivery): the duplicate window outlives the restart.
			failures += handleRetrying(t, f, msgs[5])
		}
		failures += handleRetrying(t, f, msg)
	}
	if failures == 0 {
		t.Error("no Handle failed: the broker was never seen down, the test proves nothing")
	}
	t.Logf("%d failed attempts across the restarts", failures)

	var got []published
	for _, m := range streamMessages(t, srv.URL(), cfg.Stream) {
		if m.Header.Get(nats.MsgIdHdr) != msgIDOfBody(t, m.Data) {
			t.Errorf("message %d: Nats-Msg-Id %q is not the body's id", m.Sequence, m.Header.Get(nats.MsgIdHdr))
		}
		got = append(got, published{m.Header.Get(nats.MsgIdHdr), m.Subject})
	}
	// Every event exactly once, in the order handled: so in order per
	// property too.
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("stream content (-want +got):\n%s", d)
	}
}

func TestForwarderStartsWhileTheBrokerIsDownAndCatchesUp(t *testing.T) {
	srv := mustStartNATS(t)
	srv.stop()
	f, cfg := newForwarder(t, srv.URL())
	msg := feedMessage(t, "prop-a", "evt-early", 0, domain.MemberLeft{Schema: 1, AccountID: "acc-1"})
	if err := f.Handle(msg); err == nil {
		t.Fatal("Handle succeeded with no broker")
	}
	srv.start()
	handleRetrying(t, f, msg)
	if got := len(streamMessages(t, srv.URL(), cfg.Stream)); got != 1 {
		t.Errorf("stream holds %d messages, want 1", got)
	}
}

func msgIDOfBody(tb testing.TB, body []byte) string {
	tb.Helper()
	var e struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		tb.Fatalf("body is not JSON: %v", err)
	}
	return e.ID
}
