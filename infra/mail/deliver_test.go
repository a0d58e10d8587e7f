package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/pgtest"
)

// newDeliverer returns a Deliverer over a fresh ledger database.
func newDeliverer(t *testing.T, snd Sender, maxAttempts int) *Deliverer {
	t.Helper()
	d, err := NewDeliverer(DelivererConfig{Pool: pgtest.NewPool(t), Sender: snd, MaxAttempts: maxAttempts})
	if err != nil {
		t.Fatalf("NewDeliverer: %v", err)
	}
	return d
}

func invitationMessage(t *testing.T) Message {
	t.Helper()
	msg, err := Invitation(testInvitation(), testAcceptURL)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// entry returns the ledger row of id without its times.
func entry(t *testing.T, d *Deliverer, id string) Entry {
	t.Helper()
	e, err := d.Entry(context.Background(), id)
	if err != nil {
		t.Fatalf("Entry(%s): %v", id, err)
	}
	return e
}

var ignoreTimes = cmpopts.IgnoreFields(Entry{}, "NextAttemptAt", "CreatedAt", "UpdatedAt", "SentAt")

// messageIDs returns the Message-ID of every mail the server received.
func messageIDs(t *testing.T, srv *smtpServer) []string {
	t.Helper()
	var ids []string
	for _, r := range srv.received() {
		ids = append(ids, parseMail(t, r.Data).Header.Get("Message-Id"))
	}
	return ids
}

func TestDeliverSendsAnEventsMailOnceHoweverOftenItIsDelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startSMTPServer(t, "-user", "roster", "-pass", "s3cret")
	d := newDeliverer(t, srv.sender(srv.url("smtp", "roster", "s3cret", "starttls=required")), 0)
	id := uuid.NewString()
	for i := range 3 {
		if err := d.Deliver(ctx, id, invitationMessage(t)); err != nil {
			t.Fatalf("Deliver #%d: %v", i+1, err)
		}
	}
	if diff := cmp.Diff([]string{"<roster." + id + "@mail.example.com>"}, messageIDs(t, srv)); diff != "" {
		t.Errorf("mails received (-want +got):\n%s", diff)
	}
	want := Entry{EventID: id, Recipient: "ann@example.com", Subject: Subject(testInvitation()), Status: StatusSent, Attempts: 1}
	got := entry(t, d, id)
	if diff := cmp.Diff(want, got, ignoreTimes); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
	if got.SentAt.IsZero() {
		t.Error("SentAt is zero for a sent mail")
	}
}

func TestDeliverRecordsRefusalsAsFailedAndTemporaryFailuresAsRetryable(t *testing.T) {
	tests := []struct {
		name          string
		flags         []string
		calls         int
		wantPermanent bool
		want          Entry // without EventID, Recipient, Subject
	}{
		{"5xx on RCPT fails the mail at once", []string{"-refuse-rcpt", "550"}, 1, true,
			Entry{Status: StatusFailed, Attempts: 1, LastError: "550"}},
		{"5xx at the end of DATA fails the mail at once", []string{"-refuse-data", "554"}, 1, true,
			Entry{Status: StatusFailed, Attempts: 1, LastError: "554"}},
		{"4xx on RCPT leaves it pending and counts each attempt", []string{"-refuse-rcpt", "451"}, 3, false,
			Entry{Status: StatusPending, Attempts: 3, LastError: "451"}},
		{"4xx at the end of DATA leaves it pending and counts each attempt", []string{"-refuse-data", "452"}, 2, false,
			Entry{Status: StatusPending, Attempts: 2, LastError: "452"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := startSMTPServer(t, tt.flags...)
			d := newDeliverer(t, srv.sender(srv.url("smtp", "", "", "")), 0)
			id := uuid.NewString()
			var err error
			for range tt.calls {
				err = d.Deliver(ctx, id, invitationMessage(t))
				var de *DeliveryError
				if !errors.As(err, &de) {
					t.Fatalf("Deliver = %v, want a *DeliveryError", err)
				}
				if de.Retryable == tt.wantPermanent || Permanent(err) != tt.wantPermanent {
					t.Fatalf("Deliver = %v: Retryable %t, Permanent %t; want permanent %t", err, de.Retryable, Permanent(err), tt.wantPermanent)
				}
			}
			got := entry(t, d, id)
			if !strings.Contains(got.LastError, tt.want.LastError) {
				t.Errorf("LastError = %q, want it to contain %q", got.LastError, tt.want.LastError)
			}
			if diff := cmp.Diff(tt.want, got, ignoreTimes, cmpopts.IgnoreFields(Entry{}, "EventID", "Recipient", "Subject", "LastError")); diff != "" {
				t.Errorf("ledger (-want +got):\n%s", diff)
			}
			if tt.want.Status == StatusPending && got.NextAttemptAt.IsZero() {
				t.Error("a pending mail has no suggested next attempt")
			}
			if n := len(srv.received()); n != 0 {
				t.Errorf("server accepted %d messages, want 0", n)
			}
		})
	}
}

func TestDeliverGivesUpAfterMaxAttemptsAndShowsTheFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startSMTPServer(t, "-refuse-rcpt", "451")
	d := newDeliverer(t, srv.sender(srv.url("smtp", "", "", "")), 3)
	failing, sent := uuid.NewString(), uuid.NewString()
	for attempt := 1; attempt <= 3; attempt++ {
		err := d.Deliver(ctx, failing, invitationMessage(t))
		if wantPermanent := attempt == 3; Permanent(err) != wantPermanent {
			t.Fatalf("attempt %d: Deliver = %v, want permanent %t", attempt, err, wantPermanent)
		}
	}
	// A failed mail is not tried again until an operator asks.
	err := d.Deliver(ctx, failing, invitationMessage(t))
	if !Permanent(err) {
		t.Fatalf("Deliver after giving up = %v, want a permanent error", err)
	}
	if got := entry(t, d, failing).Attempts; got != 3 {
		t.Errorf("Attempts = %d after giving up, want 3", got)
	}

	srv.restart()
	if err := d.Deliver(ctx, sent, invitationMessage(t)); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	sum, err := d.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if len(sum.Failures) == 1 && !strings.Contains(sum.Failures[0].LastError, "gave up after 3 attempts") {
		t.Errorf("Failures[0].LastError = %q, want it to say it gave up after 3 attempts", sum.Failures[0].LastError)
	}
	want := Summary{Sent: 1, Failed: 1, Failures: []Failure{{EventID: failing, Recipient: "ann@example.com",
		Subject: Subject(testInvitation()), Attempts: 3}}}
	if diff := cmp.Diff(want, sum, cmpopts.IgnoreFields(Failure{}, "LastError", "FailedAt")); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}

func TestDeliverLosesAndDoublesNothingWhenTheServerGoesDownBetweenMails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startSMTPServer(t, "-user", "roster", "-pass", "s3cret")
	d := newDeliverer(t, srv.sender(srv.url("smtp", "roster", "s3cret", "starttls=required")), 0)
	ids := make([]string, 6)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	// The consumer's view: each event is handed over until Deliver says
	// yes, and some are handed over again after that (at-least-once).
	for _, id := range ids[:3] {
		if err := d.Deliver(ctx, id, invitationMessage(t)); err != nil {
			t.Fatalf("Deliver %s: %v", id, err)
		}
	}
	srv.kill()
	for round := 1; round <= 2; round++ {
		for _, id := range ids[3:] {
			err := d.Deliver(ctx, id, invitationMessage(t))
			if err == nil || Permanent(err) {
				t.Fatalf("round %d: Deliver %s with the server down = %v, want a retryable error", round, id, err)
			}
		}
	}
	for _, id := range ids[3:] {
		if e := entry(t, d, id); e.Status != StatusPending || e.Attempts != 2 {
			t.Errorf("event %s with the server down: %s after %d attempts, want pending after 2", id, e.Status, e.Attempts)
		}
	}
	srv.restart("-user", "roster", "-pass", "s3cret")
	for _, id := range ids { // the first three again: redelivered events
		if err := d.Deliver(ctx, id, invitationMessage(t)); err != nil {
			t.Fatalf("Deliver %s after the restart: %v", id, err)
		}
	}
	var want []string
	for _, id := range ids {
		want = append(want, "<roster."+id+"@mail.example.com>")
	}
	if diff := cmp.Diff(want, messageIDs(t, srv), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("mails received, one per event (-want +got):\n%s", diff)
	}
	sum, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Summary{Sent: 6}, sum, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
}

func TestDeliverRetriesAMailCutOffInsideDATAByAServerCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startSMTPServer(t, "-stall-data")
	d := newDeliverer(t, srv.sender(srv.url("smtp", "", "", "starttls=required")), 0)
	id := uuid.NewString()

	msg := invitationMessage(t)
	done := make(chan error, 1)
	go func() { done <- d.Deliver(ctx, id, msg) }()
	srv.waitFor("stalled") // the server has the whole message and has not answered
	if e := entry(t, d, id); e.Status != StatusSending {
		t.Errorf("status while the server holds the message = %s, want sending", e.Status)
	}
	srv.kill()
	select {
	case err := <-done:
		if err == nil || Permanent(err) {
			t.Fatalf("Deliver cut off by the crash = %v, want a retryable error", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Deliver did not return within %s of the server dying", waitLimit)
	}

	srv.restart()
	if err := d.Deliver(ctx, id, invitationMessage(t)); err != nil {
		t.Fatalf("Deliver after the restart: %v", err)
	}
	if diff := cmp.Diff([]string{"<roster." + id + "@mail.example.com>"}, messageIDs(t, srv)); diff != "" {
		t.Errorf("mails received (-want +got):\n%s", diff)
	}
	if e := entry(t, d, id); e.Status != StatusSent || e.Attempts != 2 {
		t.Errorf("ledger: %s after %d attempts, want sent after 2", e.Status, e.Attempts)
	}
}

func TestDeliverAfterAnAttemptDiedMidway(t *testing.T) {
	tests := []struct {
		name        string
		maxAttempts int
		// ownClaim: the attempt was this Deliverer's, whose claim committed
		// without its answer arriving, so it sent nothing; otherwise it was
		// another process's, which got the mail out and died.
		ownClaim   bool
		leaseOver  bool
		wantErr    func(error) bool
		wantStatus Status
		wantMails  int // all with the event's Message-ID
	}{
		{"while another process's lease runs it is left alone", 0, false, false,
			func(err error) bool { return errors.Is(err, ErrInProgress) && !Permanent(err) }, StatusSending, 1},
		{"once another process's lease is over the outcome is unknown and the mail goes again", 0, false, true,
			func(err error) bool { return err == nil }, StatusSent, 2},
		{"once the lease of the last allowed attempt is over the mail is failed", 1, false, true,
			Permanent, StatusFailed, 1},
		{"its own lease it takes again at once, without waiting for the lease", 0, true, false,
			func(err error) bool { return err == nil }, StatusSent, 1},
		{"its own last allowed attempt it fails at once", 1, true, false,
			Permanent, StatusFailed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			srv := startSMTPServer(t)
			snd := srv.sender(srv.url("smtp", "", "", ""))
			d := newDeliverer(t, snd, tt.maxAttempts)
			id := uuid.NewString()
			msg := invitationMessage(t)

			if tt.ownClaim {
				if _, _, claimed, err := d.claim(ctx, id, msg); err != nil || !claimed {
					t.Fatalf("claim = %t, %v", claimed, err)
				}
			} else {
				// An attempt that got the mail out and died before the
				// ledger heard of it: the duplicate window.
				other, err := NewDeliverer(DelivererConfig{Pool: d.pool, Sender: snd, MaxAttempts: tt.maxAttempts})
				if err != nil {
					t.Fatal(err)
				}
				if _, _, claimed, err := other.claim(ctx, id, msg); err != nil || !claimed {
					t.Fatalf("claim = %t, %v", claimed, err)
				}
				msg.ID = id
				if err := snd.Send(ctx, msg); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			if tt.leaseOver {
				if _, err := d.pool.Exec(ctx, `UPDATE mail_ledger SET claimed_until = now() - interval '1 second' WHERE event_id = $1`, id); err != nil {
					t.Fatal(err)
				}
			}

			if err := d.Deliver(ctx, id, invitationMessage(t)); !tt.wantErr(err) {
				t.Errorf("Deliver = %v, not the error wanted", err)
			}
			if got := entry(t, d, id).Status; got != tt.wantStatus {
				t.Errorf("status = %s, want %s", got, tt.wantStatus)
			}
			want := make([]string, tt.wantMails)
			for i := range want {
				want[i] = "<roster." + id + "@mail.example.com>"
			}
			if diff := cmp.Diff(want, messageIDs(t, srv), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("mails received (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeliverOfOneEventFromManyWorkersSendsOneMail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startSMTPServer(t)
	d := newDeliverer(t, srv.sender(srv.url("smtp", "", "", "")), 0)
	id := uuid.NewString()

	msg := invitationMessage(t)
	const workers = 8
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { errs[i] = d.Deliver(ctx, id, msg) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, ErrInProgress) {
			t.Errorf("worker %d: Deliver = %v, want nil or ErrInProgress", i, err)
		}
	}
	if err := d.Deliver(ctx, id, invitationMessage(t)); err != nil {
		t.Fatalf("Deliver after the workers: %v", err)
	}
	if n := len(srv.received()); n != 1 {
		t.Errorf("server received %d mails, want 1", n)
	}
}

func TestDeliverRefusesAnEventIDThatIsNotAUUIDWithoutSending(t *testing.T) {
	snd := &failingSender{err: fmt.Errorf("should not be called")}
	d := newDeliverer(t, snd, 0)
	if err := d.Deliver(context.Background(), "not-a-uuid", Message{To: "ann@example.com"}); !Permanent(err) {
		t.Errorf("Deliver = %v, want a permanent error", err)
	}
	if snd.calls != 0 {
		t.Errorf("sender called %d times, want 0", snd.calls)
	}
}

func TestDeliverRecordsTheCauseWithoutTheMessageBody(t *testing.T) {
	snd := &failingSender{err: errors.New("connection refused")}
	d := newDeliverer(t, snd, 0)
	id := uuid.NewString()
	msg := invitationMessage(t)
	err := d.Deliver(context.Background(), id, msg)
	var de *DeliveryError
	if !errors.As(err, &de) || !de.Retryable || de.RetryAfter != DefaultBackoff(1) || de.Attempts != 1 {
		t.Fatalf("Deliver = %#v, want a retryable DeliveryError after 1 attempt suggesting %s", err, DefaultBackoff(1))
	}
	var dump string
	if err := d.pool.QueryRow(context.Background(), `SELECT row_to_json(l)::text FROM mail_ledger l WHERE event_id = $1`, id).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dump, "connection refused") {
		t.Errorf("ledger row lacks the cause: %s", dump)
	}
	for _, secret := range []string{testInvitation().Token, testAcceptURL} {
		if strings.Contains(dump, secret) {
			t.Errorf("ledger row holds %q: %s", secret, dump)
		}
	}
}
