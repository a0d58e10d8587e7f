package commands_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
)

// TestWaitingCommandsShareOneAppendAndKeepTheirOrder: while one command's
// append is held, seven more queue for the property; they then go in one
// append, each decided on the state its predecessors left, and each gets
// the answer it would have got alone.
func TestWaitingCommandsShareOneAppendAndKeepTheirOrder(t *testing.T) {
	ctx := context.Background()
	var gs *gateStore
	f := newFixture(t, func(m *memory.Store) commands.EventStore { gs = &gateStore{EventStore: m}; return gs })
	pid := f.create()
	f.join(pid, cy, "agent")
	before := f.stream(pid)
	staleRev := before[len(before)-1].Revision // current now, stale once the first invite lands

	gs.hold()
	invite := func(m commands.Meta, email string) func() (commands.Result, error) {
		return func() (commands.Result, error) {
			return f.h.Invite.Handle(ctx, m, commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: email, Role: "agent"}}})
		}
	}
	stale := as(owner)
	stale.IfMatch = &staleRev
	outsiderStale := as(outsider)
	outsiderStale.IfMatch = &staleRev
	calls := []struct {
		name     string
		run      func() (commands.Result, error)
		wantCode string
		events   int
		repeated bool
	}{
		{"the first, whose append is held", invite(as(owner), ada.Email), "", 1, false},
		{"a second invitee", invite(as(owner), bob.Email), "", 1, false},
		{"the first invitee again: refused on the state the first left", invite(as(owner), ada.Email), domain.CodeAlreadyInvited, 0, false},
		{"a keyed invite", invite(keyed(owner, "k", "h"), dan.Email), "", 1, false},
		{"the same keyed invite: a repeat", invite(keyed(owner, "k", "h"), dan.Email), "", 1, true},
		{"an agent may not invite", invite(as(cy), "eve@example.com"), domain.CodeForbidden, 0, false},
		{"a stale If-Match", invite(stale, "fay@example.com"), domain.CodeStaleRevision, 0, false},
		{"the same key for another request", invite(keyed(owner, "k", "other"), "gus@example.com"), domain.CodeIdempotencyKeyReused, 0, false},
		{"an outsider's stale If-Match: told the property does not exist, not its revision", invite(outsiderStale, "hal@example.com"), domain.CodePropertyNotFound, 0, false},
	}
	results := make([]commands.Result, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	wg.Go(func() { results[0], errs[0] = calls[0].run() })
	gs.waitHeld()
	for i := 1; i < len(calls); i++ {
		wg.Go(func() { results[i], errs[i] = calls[i].run() })
		for commands.PendingCommands(f.h, pid) < i {
			runtime.Gosched() // queue them in order
		}
	}
	gs.release()
	wg.Wait()

	for i, c := range calls {
		if c.wantCode != "" {
			var de *domain.Error
			if !errors.As(errs[i], &de) || de.Code != c.wantCode {
				t.Errorf("%s: error %v, want code %s", c.name, errs[i], c.wantCode)
			}
			continue
		}
		if errs[i] != nil {
			t.Errorf("%s: %v", c.name, errs[i])
			continue
		}
		if len(results[i].Events) != c.events || results[i].Repeated != c.repeated {
			t.Errorf("%s: %d events, repeated %v; want %d, %v", c.name, len(results[i].Events), results[i].Repeated, c.events, c.repeated)
		}
	}
	if got, want := invitationIDs(results[4]), invitationIDs(results[3]); len(got) != 1 || got[0] != want[0] {
		t.Errorf("the repeat answered invitations %v, the first run %v", got, want)
	}
	if diff := invitedAfter(f, pid, len(before)); len(diff) != 3 || diff[0] != ada.Email || diff[1] != bob.Email || diff[2] != dan.Email {
		t.Errorf("stored invitations after the setup: %v, want ada, bob, dan in that order", diff)
	}
	if got := gs.appends(); got != 2 {
		t.Errorf("%d appends, want 2: the held one and one for the whole queue", got)
	}
	for i := 1; i < 4; i += 2 {
		if results[i].Revision <= results[0].Revision {
			t.Errorf("%s answered revision %d, not after the first's %d", calls[i].name, results[i].Revision, results[0].Revision)
		}
	}
}

func invitedAfter(f *fixture, pid string, from int) []string {
	var out []string
	for _, rec := range f.stream(pid)[from:] {
		e, err := domain.DecodeEvent(rec.Type, rec.Data)
		if err != nil {
			f.tb.Fatal(err)
		}
		if inv, ok := e.(domain.MemberInvited); ok {
			out = append(out, inv.Email)
		}
	}
	return out
}

// gateStore counts appends and, once held, keeps the next append waiting
// until released.
type gateStore struct {
	commands.EventStore
	mu      sync.Mutex
	n       int
	gate    chan struct{}
	entered chan struct{}
}

func (g *gateStore) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n, g.gate, g.entered = 0, make(chan struct{}), make(chan struct{})
}

func (g *gateStore) waitHeld() { <-g.entered }
func (g *gateStore) release()  { close(g.gate) }
func (g *gateStore) appends() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

func (g *gateStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	g.mu.Lock()
	g.n++
	first := g.n == 1 && g.gate != nil
	gate, entered := g.gate, g.entered
	g.mu.Unlock()
	if first {
		close(entered)
		<-gate
	}
	return g.EventStore.Append(ctx, stream, expected, events)
}
