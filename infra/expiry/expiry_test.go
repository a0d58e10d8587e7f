package expiry_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/expiry"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
)

// clock is the tests' time, shared by the commands and the schedulers;
// safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

var (
	owner = domain.Actor{AccountID: "acc-owner", Email: "owner@example.com", EmailVerified: true}
	ada   = domain.Actor{AccountID: "acc-ada", Email: "ada@example.com", EmailVerified: true}
)

// world is one database and event store that instances share.
type world struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *postgres.Store
	clock *clock
	h     commands.Handlers
}

func newWorld(t *testing.T) *world {
	pool := pgtest.NewPool(t)
	w := &world{t: t, pool: pool, store: postgres.New(pool), clock: &clock{now: time.Now().UTC().Truncate(time.Second)}}
	w.h = w.handlers()
	return w
}

func (w *world) handlers() commands.Handlers {
	return commands.New(commands.Config{Store: w.store, Tokens: invitetoken.New([]byte("expiry-test-invitation-key-32-bytes")),
		Now: w.clock.Now})
}

// instance runs what one server instance runs of the feed: the projections
// and the scheduler, each while it leads them. It returns the instance's
// stop, which waits for it to hand its leases back.
func (w *world) instance(name string) (stop func()) {
	c, err := consumers.New(consumers.Config{Pool: w.pool, Feed: w.store, Log: zerolog.Nop(), Instance: name + "-" + uuid.NewString()[:8],
		NackBackoff: time.Millisecond, MaxNackBackoff: 10 * time.Millisecond,
		Retry: middleware.Retry{MaxRetries: 2, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Multiplier: 2}})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, p := range projections.All() {
		c.AddProjection(p)
	}
	h := w.handlers()
	s, err := expiry.New(expiry.Config{Pool: w.pool, Now: w.clock.Now, Poll: 20 * time.Millisecond, Log: zerolog.Nop(),
		Decide: expiry.DeciderFunc(func(ctx context.Context, corr, pid, acc string) error {
			_, err := h.ExpireAccess.Handle(ctx, corr, pid, acc)
			return err
		})})
	if err != nil {
		w.t.Fatal(err)
	}
	c.AddWithWork(expiry.Name, s.Handle, s.Run)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			w.t.Errorf("consumers: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	w.t.Cleanup(stop)
	return stop
}

// property creates a property with ada as an agent whose access ends at end.
func (w *world) property(end time.Time) string {
	ctx := context.Background()
	res, err := w.h.CreateProperty.Handle(ctx, commands.Meta{Actor: owner}, commands.CreateProperty{Name: "Shop"})
	if err != nil {
		w.t.Fatal(err)
	}
	pid := res.PropertyID
	if _, err := w.h.ImportMembers.Handle(ctx, commands.Meta{Actor: owner}, commands.ImportMembers{PropertyID: pid,
		Rows: []commands.ImportRow{{AccountID: ada.AccountID, Email: ada.Email, Role: "agent"}}}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.h.SetAccessUntil.Handle(ctx, commands.Meta{Actor: owner}, commands.SetAccessUntil{PropertyID: pid,
		AccountID: ada.AccountID, AccessUntil: end.Format(time.RFC3339)}); err != nil {
		w.t.Fatal(err)
	}
	return pid
}

// count reads pid's stream and counts its events of type typ.
func (w *world) count(pid, typ string) int {
	recs, err := w.store.ReadStream(context.Background(), domain.StreamName(pid), 0)
	if err != nil {
		w.t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Type == typ {
			n++
		}
	}
	return n
}

// waitFor waits until pid's stream holds n events of type typ; a minute
// guards against a hang, it measures nothing.
func (w *world) waitFor(pid, typ string, n int) {
	w.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for w.count(pid, typ) < n {
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: %d %s after a minute, want %d", pid, w.count(pid, typ), typ, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle lets every instance look a few times more.
func settle() { time.Sleep(200 * time.Millisecond) }

func TestTwoInstancesExpireAnAccessOnce(t *testing.T) {
	w := newWorld(t)
	end := w.clock.Now().Add(30 * 24 * time.Hour)
	pid := w.property(end)
	w.instance("a")
	w.instance("b")

	// A week ahead: one reminder; a day ahead: another; at the end: one expiry.
	w.clock.Set(end.Add(-7 * 24 * time.Hour))
	w.waitFor(pid, domain.TypeMemberAccessEndingSoon, 1)
	w.clock.Set(end.Add(-24 * time.Hour))
	w.waitFor(pid, domain.TypeMemberAccessEndingSoon, 2)
	settle()
	if n := w.count(pid, domain.TypeMemberAccessExpired); n != 0 {
		t.Fatalf("%d MemberAccessExpired a day before the end", n)
	}
	w.clock.Set(end)
	w.waitFor(pid, domain.TypeMemberAccessExpired, 1)
	settle()
	if n := w.count(pid, domain.TypeMemberAccessExpired); n != 1 {
		t.Errorf("%d MemberAccessExpired, want exactly 1", n)
	}
	if n := w.count(pid, domain.TypeMemberAccessEndingSoon); n != 2 {
		t.Errorf("%d MemberAccessEndingSoon, want exactly 2 (a week and a day before)", n)
	}
}

func TestAnExpiryDueDuringARestartIsAppendedAfterIt(t *testing.T) {
	w := newWorld(t)
	end := w.clock.Now().Add(time.Hour)
	pid := w.property(end)
	stop := w.instance("first")
	w.clock.Set(end.Add(-30 * time.Minute))
	w.waitFor(pid, domain.TypeMemberAccessEndingSoon, 1)
	stop()

	// The end comes while no instance runs; the next one to start ends it.
	w.clock.Set(end.Add(time.Minute))
	settle()
	if n := w.count(pid, domain.TypeMemberAccessExpired); n != 0 {
		t.Fatalf("%d MemberAccessExpired with no instance running", n)
	}
	w.instance("second")
	w.waitFor(pid, domain.TypeMemberAccessExpired, 1)
	settle()
	if n := w.count(pid, domain.TypeMemberAccessExpired); n != 1 {
		t.Errorf("%d MemberAccessExpired, want exactly 1", n)
	}
	if n := w.count(pid, domain.TypeMemberAccessEndingSoon); n != 1 {
		t.Errorf("%d MemberAccessEndingSoon, want 1: the day's reminder, given once across the restart", n)
	}
}
