package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

func TestRetryRequeuesOnlyFailedMails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, srv, id := failedMail(t)

	srv.restart() // an operator fixed what made the server refuse
	if err := d.Retry(ctx, id); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if e := entry(t, d, id); e.Status != StatusPending || e.Attempts != 0 {
		t.Errorf("after Retry: %s after %d attempts, want pending after 0", e.Status, e.Attempts)
	}
	if due, err := d.Due(ctx, 10); err != nil || !cmp.Equal(due, []string{id}) {
		t.Errorf("Due = %v, %v; want [%s]", due, err, id)
	}
	if err := d.Deliver(ctx, id, invitationMessage(t)); err != nil {
		t.Fatalf("Deliver after Retry: %v", err)
	}
	if n := len(srv.received()); n != 1 {
		t.Errorf("server received %d mails, want 1", n)
	}

	tests := []struct {
		name, id string
		want     error
	}{
		{"a sent mail", id, ErrNotFailed},
		{"an unknown event", uuid.NewString(), ErrNotFound},
		{"not an event ID", "nope", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := d.Retry(ctx, tt.id); !errors.Is(err, tt.want) {
				t.Errorf("Retry(%s) = %v, want %v", tt.id, err, tt.want)
			}
		})
	}
}

func TestDefaultBackoffDoublesUpToAnHour(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {7, 32 * time.Minute}, {8, time.Hour}, {20, time.Hour},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.attempt), func(t *testing.T) {
			if got := DefaultBackoff(tt.attempt); got != tt.want {
				t.Errorf("DefaultBackoff(%d) = %s, want %s", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestNewDelivererReportsEveryProblem(t *testing.T) {
	_, err := NewDeliverer(DelivererConfig{MaxAttempts: -1, Lease: -time.Second})
	for _, want := range []string{"no database pool", "no sender", "max attempts -1", "lease -1s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewDeliverer = %v, want it to mention %q", err, want)
		}
	}
}

func TestRetryHereLeavesTheSendToTheRetrier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, srv, id := failedMail(t)
	other, err := NewDeliverer(DelivererConfig{Pool: d.pool, Sender: d.sender})
	if err != nil {
		t.Fatal(err)
	}

	srv.restart() // an operator fixed what made the server refuse
	if err := d.RetryHere(ctx, id); err != nil {
		t.Fatalf("RetryHere: %v", err)
	}
	if e := entry(t, d, id); e.Status != StatusPending || e.Attempts != 0 {
		t.Errorf("after RetryHere: %s after %d attempts, want pending after 0", e.Status, e.Attempts)
	}
	if due, err := other.Due(ctx, 10); err != nil || len(due) != 0 {
		t.Errorf("Due elsewhere = %v, %v; want nothing while the retrier sends", due, err)
	}
	if err := d.Deliver(ctx, id, invitationMessage(t)); err != nil {
		t.Fatalf("the retrier's Deliver: %v", err)
	}
	if n := len(srv.received()); n != 1 {
		t.Errorf("server received %d mails, want 1", n)
	}
	if err := d.RetryHere(ctx, id); !errors.Is(err, ErrNotFailed) {
		t.Errorf("RetryHere of a sent mail = %v, want ErrNotFailed", err)
	}
	if err := d.RetryHere(ctx, "not-a-uuid"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RetryHere of a bad ID = %v, want ErrNotFound", err)
	}
}

// failedMail is a Deliverer over a server that refused its one mail for
// good: the mail of event id is failed in the ledger.
func failedMail(t *testing.T) (*Deliverer, *smtpServer, string) {
	t.Helper()
	srv := startSMTPServer(t, "-refuse-rcpt", "550")
	d := newDeliverer(t, srv.sender(srv.url("smtp", "", "", "")), 0)
	id := uuid.NewString()
	if err := d.Deliver(context.Background(), id, invitationMessage(t)); !Permanent(err) {
		t.Fatalf("Deliver = %v, want a permanent error", err)
	}
	return d, srv, id
}
