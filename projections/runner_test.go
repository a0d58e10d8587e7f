package projections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/consumers"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/recorded"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// chunkedFeed follows a store in batches of a fixed size, so a test knows
// where each batch starts and ends.
type chunkedFeed struct {
	store *memory.Store
	size  int
}

func (f chunkedFeed) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	cfg := eventstore.PollConfig{BatchSize: f.size, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	return eventstore.NewPollingSubscription(f.store, after, nil, cfg, nil), nil
}

// createLedger makes the table of the ledger projection. Its primary key
// makes a second apply of any event fail.
func createLedger(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `CREATE TABLE test_ledger (
		projection text, commit_position bigint, prepare_position bigint,
		PRIMARY KEY (projection, commit_position, prepare_position))`)
	if err != nil {
		t.Fatal(err)
	}
}

// ledger is a test-only projection that records the position of every
// property event it applies.
func ledger(name string) projections.Projection {
	rs := map[string]projections.Reducer{}
	for _, typ := range domain.EventTypes() {
		rs[typ] = func(b *projections.Batch, e recorded.Event) error {
			_, err := b.Tx().Exec(b.Context(), `INSERT INTO test_ledger VALUES ($1, $2, $3)`,
				name, int64(e.Position.Commit), int64(e.Position.Prepare))
			return err
		}
	}
	return projections.Projection{Name: name, Reducers: rs}
}

// ledgerCommits returns the commit positions the ledger projection recorded.
func ledgerCommits(t testing.TB, pool *pgxpool.Pool, name string) []int64 {
	t.Helper()
	r, err := pool.Query(context.Background(),
		`SELECT commit_position FROM test_ledger WHERE projection = $1 ORDER BY 1`, name)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(r, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func upTo(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

var errInjected = errors.New("injected fault")

// fault makes a projection fail on the event at one position, a number of
// times (forever when negative), and reports each failure on hits.
type fault struct {
	at   eventstore.Position
	left atomic.Int64
	hits chan struct{}
}

func newFault(at eventstore.Position, times int64) *fault {
	f := &fault{at: at, hits: make(chan struct{}, 1000)}
	f.left.Store(times)
	return f
}

// wrap returns p with every event type routed through the fault first.
func (f *fault) wrap(p projections.Projection) projections.Projection {
	rs := map[string]projections.Reducer{}
	for _, typ := range domain.EventTypes() {
		inner := p.Reducers[typ]
		rs[typ] = func(b *projections.Batch, e recorded.Event) error {
			if e.Position == f.at && f.left.Add(-1) != -1 {
				select {
				case f.hits <- struct{}{}:
				default:
				}
				return errInjected
			}
			if inner == nil {
				return nil
			}
			return inner(b, e)
		}
	}
	p.Reducers = rs
	return p
}

// logSink collects a runner's log lines for inspection.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// errors returns the messages of the error-level lines.
func (s *logSink) errors(t testing.TB) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var entry struct{ Level, Error string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if entry.Level == "error" {
			out = append(out, entry.Error)
		}
	}
	return out
}

func waitHit(t testing.TB, f *fault) {
	t.Helper()
	select {
	case <-f.hits:
	case <-time.After(time.Minute): // a hang guard, not a timing assertion
		t.Fatal("the fault never fired")
	}
}

// quick returns the consumers of ps over feed, one instance, with the
// redelivery backoff shortened, for a test that runs and stops them itself.
func quick(t testing.TB, pool *pgxpool.Pool, feed projections.Feed, log zerolog.Logger, ps ...projections.Projection) *consumers.Consumers {
	t.Helper()
	c, err := consumers.New(consumers.Config{Pool: pool, Feed: feed, Log: log, Instance: "test-" + pt.NewID(),
		NackBackoff: time.Millisecond, MaxNackBackoff: 5 * time.Millisecond,
		Retry: middleware.Retry{MaxRetries: 2, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Multiplier: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		c.AddProjection(p)
	}
	return c
}

func TestRunnerCrashMidBatch(t *testing.T) {
	t.Parallel()
	// The feed comes in batches of 4 events, each applied in one
	// transaction; the fault at event 7, in the middle of the second batch
	// [5..8], leaves events 1 to 6 applied (the handler commits the
	// events before a failing one) and the 7th not.
	faultAt := eventstore.Position{Commit: 7, Prepare: 7}
	tests := []struct {
		name string
		// failures is how often the fault fires; negative: until the runner is stopped.
		failures int64
	}{
		{"an event failing midway through a batch leaves the events before it applied and itself not, and a restart without the fault applies every event once", -1},
		{"an event that fails is sent again by the runner until it applies, and every event is applied once", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := pgtest.NewPool(t)
			createLedger(t, pool)
			store := memory.New()
			last := pt.NewHistory(t, store).Add(pt.Script()...)
			feed := chunkedFeed{store: store, size: 4}

			faultLedger, faultMembers := newFault(faultAt, tt.failures), newFault(faultAt, tt.failures)
			logs := &logSink{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := quick(t, pool, feed, zerolog.New(logs), faultLedger.wrap(ledger("ledger")), faultMembers.wrap(projections.Members()))
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()

			if tt.failures < 0 {
				waitHit(t, faultLedger)
				waitHit(t, faultMembers)
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("Run after cancel = %v, want nil", err)
				}
				cps, err := projections.Checkpoints(context.Background(), pool)
				if err != nil {
					t.Fatal(err)
				}
				before := eventstore.Position{Commit: 6, Prepare: 6}
				if diff := cmp.Diff(map[string]eventstore.Position{"ledger": before, "members": before}, cps); diff != "" {
					t.Errorf("checkpoints after the crash (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(upTo(6), ledgerCommits(t, pool, "ledger")); diff != "" {
					t.Errorf("ledger after the crash (-want +got):\n%s", diff)
				}
				// Ann's join (event 6) came before the fault; her role
				// change (event 8) after it.
				if got := memberRows(t, pool); len(got) != 2 || got[0].AccountID != pt.Ann || got[0].Role != string(domain.RoleAgent) {
					t.Errorf("members after the crash = %+v, want the owner and Ann, an agent", got)
				}
				pt.Start(t, pool, feed, zerolog.New(logs), ledger("ledger"), projections.Members())
			} else {
				defer func() { cancel(); <-done }()
			}
			pt.Wait(t, pool, last, "ledger", "members")

			if diff := cmp.Diff(upTo(len(pt.Script())), ledgerCommits(t, pool, "ledger")); diff != "" {
				t.Errorf("ledger (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(memberRows(t, project(t, pt.Script())), memberRows(t, pool), equalTimes); diff != "" {
				t.Errorf("members differ from a clean run (-clean +got):\n%s", diff)
			}
			for _, msg := range logs.errors(t) {
				if !strings.Contains(msg, errInjected.Error()) {
					t.Errorf("logged error %q, want only the injected fault", msg)
				}
			}
		})
	}
}

func TestRunnersSharingACheckpointApplyEachEventOnce(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	createLedger(t, pool)
	store := memory.New()
	logs := &logSink{}
	for range 3 {
		pt.Start(t, pool, chunkedFeed{store: store, size: 3}, zerolog.New(logs), ledger("ledger"))
	}
	h := pt.NewHistory(t, store)
	for _, s := range pt.Script() {
		h.Add(s)
	}
	pt.Wait(t, pool, h.Last, "ledger")
	if diff := cmp.Diff(upTo(h.Count), ledgerCommits(t, pool, "ledger")); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
	if errs := logs.errors(t); len(errs) > 0 {
		t.Errorf("runners logged errors: %q", errs)
	}
}

func TestRunnerSkipsForeignStreamsAndUnhandledTypes(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	createLedger(t, pool)
	store := memory.New()
	ctx := context.Background()
	h := pt.NewHistory(t, store)
	h.Add(pt.Script()[0])
	appendRaw := func(stream, typ string) eventstore.Position {
		res, err := store.Append(ctx, stream, eventstore.Any(),
			[]eventstore.EventData{{ID: pt.NewID(), Type: typ, Data: []byte(`{"schema":1}`)}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Position
	}
	appendRaw("account-"+pt.Ann, domain.TypeMemberJoined) // a type the ledger handles, in a foreign stream
	appendRaw(domain.StreamName(pt.Acme), "PropertyArchived")
	h.Add(pt.Script()[1])
	last := appendRaw("billing-1", "InvoicePaid")

	pt.Start(t, pool, store, zerolog.Nop(), ledger("ledger"))
	pt.Wait(t, pool, last, "ledger")
	if diff := cmp.Diff([]int64{1, 4}, ledgerCommits(t, pool, "ledger")); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
}

func TestRunRefusesMisnamedProjections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ps   []projections.Projection
	}{
		{"an empty name is refused", []projections.Projection{{Name: ""}}},
		{"a repeated name is refused", []projections.Projection{projections.Members(), projections.Members()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := quick(t, pgtest.NewPool(t), memory.New(), zerolog.Nop(), tt.ps...)
			if err := r.Run(context.Background()); err == nil {
				t.Error("Run = nil, want an error")
			}
		})
	}
}

// BenchmarkProjectorHandler measures the members projection's handler
// applying events one by one, each in its own transaction with its
// checkpoint, as when the feed trickles in (BenchmarkProjectorBatch
// measures batches).
func BenchmarkProjectorHandler(b *testing.B) {
	pool := pgtest.NewPool(b)
	h := projections.NewHandler(pool, projections.Members(), zerolog.Nop())
	const size = 500
	var seq uint64
	b.ResetTimer()
	for i := 0; i < b.N; i += size {
		b.StopTimer()
		batch := membersBatch(b, fmt.Sprintf("bench-%d", i), size, &seq)
		b.StartTimer()
		for _, rec := range batch[:min(size, b.N-i)] {
			if err := h.Handle(feed.ToMessage(rec)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// membersBatch builds size events of one property: its creation and
// owner, then members joining, changing role and being disabled.
func membersBatch(b *testing.B, pid string, size int, seq *uint64) []eventstore.RecordedEvent {
	evs := []domain.Event{
		domain.PropertyCreated{Schema: 1, PropertyID: pid, Name: pid, OwnerID: "owner"},
		domain.MemberJoined{Schema: 1, AccountID: "owner", Email: "owner@example.com", Role: domain.RoleAdmin},
	}
	for k := 0; len(evs) < size; k++ {
		acc := fmt.Sprintf("acc-%d", k)
		evs = append(evs,
			domain.MemberJoined{Schema: 1, AccountID: acc, Email: acc + "@example.com", Role: domain.RoleAgent},
			domain.MemberRoleChanged{Schema: 1, AccountID: acc, From: domain.RoleAgent, To: domain.RoleAdmin},
			domain.MemberAccessDisabled{Schema: 1, AccountID: acc})
	}
	evs = evs[:size]
	out := make([]eventstore.RecordedEvent, len(evs))
	for i, e := range evs {
		typ, data, err := domain.EncodeEvent(e)
		if err != nil {
			b.Fatal(err)
		}
		meta, _ := json.Marshal(domain.Metadata{OccurredAt: pt.At(i), Schema: 1})
		*seq++
		out[i] = eventstore.RecordedEvent{ID: pt.NewID(), StreamID: domain.StreamName(pid), Revision: uint64(i),
			Position: eventstore.Position{Commit: *seq, Prepare: *seq}, Type: typ, Data: data, Metadata: meta, RecordedAt: pt.At(i)}
	}
	return out
}
