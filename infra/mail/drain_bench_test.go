package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/pgtest"
)

// backlog writes the ledger rows of big mails of one property, then of one
// mail each of small others, the way the Consumer records them, in one
// COPY: recording 100,000 mails through the Consumer would take the
// benchmark's time many times over. It returns the properties, the big one
// first.
func backlog(tb testing.TB, pool *pgxpool.Pool, big, small int) []string {
	tb.Helper()
	props := []string{uuid.NewString()}
	for range small {
		props = append(props, uuid.NewString())
	}
	start := time.Now().Add(-time.Hour)
	rows := make([][]any, 0, big+small)
	add := func(pid string, n int) {
		ev := domain.MemberInvited{Schema: 1, InvitationID: uuid.NewString(), Email: fmt.Sprintf("guest%d@example.com", n),
			Role: domain.RoleAgent, InvitedBy: "acc-owner", ExpiresAt: expires, TokenNonce: "nonce"}
		typ, data, err := domain.EncodeEvent(ev)
		if err != nil {
			tb.Fatal(err)
		}
		id := uuid.NewString()
		meta, _ := json.Marshal(domain.Metadata{EventID: id, ActorID: "acc-owner", ActorEmail: "owner@example.com",
			OccurredAt: consumerNow, Schema: 1})
		stored, err := json.Marshal(eventstore.RecordedEvent{ID: id, StreamID: domain.StreamName(pid), Revision: uint64(n + 1),
			Position: eventstore.Position{Commit: uint64(len(rows) + 1), Prepare: uint64(len(rows) + 1)},
			Type:     typ, Data: data, Metadata: meta, RecordedAt: consumerNow})
		if err != nil {
			tb.Fatal(err)
		}
		rows = append(rows, []any{id, ev.Email, "You are invited", "pending", pid, stored,
			start.Add(time.Duration(len(rows)) * time.Microsecond)})
	}
	for i := range big {
		add(props[0], i)
	}
	for _, pid := range props[1:] {
		add(pid, 0)
	}
	ctx := context.Background()
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"mail_ledger"},
		[]string{"event_id", "recipient", "subject", "status", "property_id", "event", "created_at"},
		pgx.CopyFromRows(rows)); err != nil {
		tb.Fatal(err)
	}
	// As autovacuum would have by the time such a backlog is sent.
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE mail_ledger`); err != nil {
		tb.Fatal(err)
	}
	return props
}

// BenchmarkDrain: a Dispatcher with the log sender drains a backlog of
// big mails of one property and one mail each of 1,000 others, and reports
// mails/s. Run with -benchtime=1x: each iteration builds its own backlog.
func BenchmarkDrain(b *testing.B) {
	const small = 1_000
	for _, big := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("big=%d", big), func(b *testing.B) {
			for range b.N {
				drainBacklog(b, big, small)
			}
		})
	}
}

func drainBacklog(b *testing.B, big, small int) {
	b.StopTimer()
	pool := pgtest.NewPool(b)
	defer pool.Close()
	d, err := NewDeliverer(DelivererConfig{Pool: pool, Sender: NewLogSender(zerolog.Nop(), testAcceptURL)})
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewConsumer(ConsumerConfig{Pool: pool, Deliverer: d, Log: zerolog.Nop(),
		Tokens: invitetoken.New([]byte("a test key of at least 32 bytes!!"))})
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewDispatcher(DispatcherConfig{Consumer: c, Deliverer: d, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	backlog(b, pool, big, small)
	b.StartTimer()
	start := time.Now()
	if err := p.Drain(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	s, err := d.Status(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if s.Sent != big+small {
		b.Fatalf("%d of %d mails sent: %+v", s.Sent, big+small, s)
	}
	b.ReportMetric(float64(big+small)/elapsed.Seconds(), "mails/s")
}
