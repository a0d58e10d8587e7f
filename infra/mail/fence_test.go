package mail

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/pgtest"
)

func TestFencedConnWritesNothingOnceItsTimeHasPassed(t *testing.T) {
	tests := []struct {
		name      string
		until     time.Duration // from now
		wantBytes string
		wantErr   error
	}{
		{"before the end it writes", time.Hour, "DATA\r\n", nil},
		{"at or after the end it refuses", -time.Millisecond, "", os.ErrDeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer server.Close()
			conn := fencedConn{Conn: client, until: time.Now().Add(tt.until)}
			got := make(chan string, 1)
			go func() { b, _ := io.ReadAll(server); got <- string(b) }()
			_, err := conn.Write([]byte("DATA\r\n"))
			_ = conn.Close()
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Write = %v, want %v", err, tt.wantErr)
			}
			if b := <-got; b != tt.wantBytes {
				t.Errorf("the peer read %q, want %q", b, tt.wantBytes)
			}
		})
	}
}

func TestFencedConnKeepsDeadlinesWithinItsTime(t *testing.T) {
	until := time.Now().Add(time.Minute)
	c := fencedConn{until: until}
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"no deadline becomes the end", time.Time{}, until},
		{"a later deadline becomes the end", until.Add(time.Hour), until},
		{"an earlier deadline stays", until.Add(-time.Second), until.Add(-time.Second)},
	}
	for _, tt := range tests {
		if got := c.earlier(tt.in); !got.Equal(tt.want) {
			t.Errorf("%s: earlier(%v) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
}

// deadlineSender records the deadline of the context it was asked to send in.
type deadlineSender struct {
	deadline time.Time
	had      bool
}

func (s *deadlineSender) Send(ctx context.Context, _ Message) error {
	s.deadline, s.had = ctx.Deadline()
	return nil
}

func TestDeliverSendsOnlyWithinTheAttemptsLease(t *testing.T) {
	snd := &deadlineSender{}
	lease := 10 * time.Second
	d, err := NewDeliverer(DelivererConfig{Pool: pgtest.NewPool(t), Sender: snd, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := d.Deliver(context.Background(), uuid.NewString(), invitationMessage(t)); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if !snd.had {
		t.Fatal("the send had no deadline: a paused process could finish it after its lease ran out")
	}
	if latest := before.Add(lease); !snd.deadline.Before(latest) {
		t.Errorf("the send's deadline %v is not before the lease's end %v", snd.deadline, latest)
	}
}
