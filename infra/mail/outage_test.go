package mail

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/pgtest"
)

// dbOutage takes a test database away from everyone using it, as a
// PostgreSQL restart does: its open connections are ended, and with refuse
// new ones are refused until restore.
type dbOutage struct {
	t    *testing.T
	name string
}

func newDBOutage(t *testing.T, pool *pgxpool.Pool) *dbOutage {
	t.Helper()
	o := &dbOutage{t: t, name: pool.Config().ConnConfig.Database}
	t.Cleanup(func() { o.restore() })
	return o
}

func (o *dbOutage) admin(f func(ctx context.Context, conn *pgx.Conn) error) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.ServerURL())
	if err != nil {
		o.t.Errorf("outage: connect to the server: %v", err)
		return
	}
	defer conn.Close(ctx)
	if err := f(ctx, conn); err != nil {
		o.t.Errorf("outage of %s: %v", o.name, err)
	}
}

// begin ends every connection to the database, waiting until each is gone,
// and with refuse makes it refuse new ones.
func (o *dbOutage) begin(refuse bool) {
	o.t.Helper()
	o.admin(func(ctx context.Context, conn *pgx.Conn) error {
		if refuse {
			if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{o.name}.Sanitize()+" ALLOW_CONNECTIONS false"); err != nil {
				return err
			}
		}
		_, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = $1`, o.name)
		return err
	})
}

// restore lets the database take connections again.
func (o *dbOutage) restore() {
	o.t.Helper()
	o.admin(func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{o.name}.Sanitize()+" ALLOW_CONNECTIONS true")
		return err
	})
}

// faultSender sends through next and, after the first successful send of
// the event id, runs fault: between the server's acceptance and the
// ledger's record.
type faultSender struct {
	next  Sender
	id    string
	fault func()
	once  sync.Once
}

func (f *faultSender) Send(ctx context.Context, msg Message) error {
	err := f.next.Send(ctx, msg)
	if err == nil && msg.ID == f.id {
		f.once.Do(f.fault)
	}
	return err
}

// TestDeliverRecordsAMailSentBeforeTheDatabaseWentAwayWithoutSendingItAgain:
// the server accepted the mail and the database went away before the
// ledger heard of it. The Deliverer that sent it says so, lets no stranger
// take it while its lease runs, and once the database is back records it
// as sent, without a second mail and without waiting for the lease.
func TestDeliverRecordsAMailSentBeforeTheDatabaseWentAwayWithoutSendingItAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := startPlainSMTPServer(t)
	pool := pgtest.NewPool(t)
	outage := newDBOutage(t, pool)
	id := uuid.NewString()
	snd := &faultSender{next: srv.sender(srv.url("smtp", "", "", "starttls=none")), id: id, fault: func() { outage.begin(true) }}
	d, err := NewDeliverer(DelivererConfig{Pool: pool, Sender: snd, Lease: time.Hour, RecordTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	err = d.Deliver(ctx, id, invitationMessage(t))
	if !errors.Is(err, ErrSentNotRecorded) || Permanent(err) {
		t.Fatalf("Deliver with the database gone after the send = %v, want a retryable ErrSentNotRecorded", err)
	}
	outage.restore()

	stranger, err := NewDeliverer(DelivererConfig{Pool: pool, Sender: snd, Lease: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := stranger.Deliver(ctx, id, invitationMessage(t)); !errors.Is(err, ErrInProgress) {
		t.Errorf("another process's Deliver while the lease runs = %v, want ErrInProgress", err)
	}
	if err := d.Deliver(ctx, id, invitationMessage(t)); err != nil {
		t.Fatalf("Deliver once the database is back: %v", err)
	}
	if diff := cmp.Diff([]string{"<roster." + id + "@mail.example.com>"}, messageIDs(t, srv)); diff != "" {
		t.Errorf("mails received (-want +got):\n%s", diff)
	}
	if e := entry(t, d, id); e.Status != StatusSent || e.Attempts != 1 {
		t.Errorf("ledger: %s after %d attempts, want sent after 1", e.Status, e.Attempts)
	}
}
