package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
)

// TestCachedStateIsCheckedAgainstTheStream: instance a keeps the property's
// state in memory, instance b (another server) changes the property behind
// its back. Whatever a answers must be what the stream says now.
func TestCachedStateIsCheckedAgainstTheStream(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		behind     func(b commands.Handlers, pid string) error // what the other instance does
		command    func(a commands.Handlers, pid string) (commands.Result, error)
		wantCode   string // empty: the command must succeed
		wantEvents int
		repeated   bool
	}{
		{
			name: "a promotion elsewhere lets a cached refusal through",
			behind: func(b commands.Handlers, pid string) error {
				_, err := b.ChangeRole.Handle(ctx, as(owner), commands.ChangeRole{PropertyID: pid, AccountID: cy.AccountID, Role: "admin"})
				return err
			},
			command: func(a commands.Handlers, pid string) (commands.Result, error) {
				return a.Invite.Handle(ctx, as(cy), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: dan.Email, Role: "agent"}}})
			},
			wantEvents: 1,
		},
		{
			name: "a removal elsewhere turns a cached permission into a refusal",
			behind: func(b commands.Handlers, pid string) error {
				_, err := b.Remove.Handle(ctx, as(owner), commands.Remove{PropertyID: pid, AccountID: cy.AccountID})
				return err
			},
			command: func(a commands.Handlers, pid string) (commands.Result, error) {
				return a.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: pid, AccountID: cy.AccountID, Enabled: false})
			},
			wantCode: domain.CodeMemberNotFound,
		},
		{
			name: "a change elsewhere turns a cached no-op into an event",
			behind: func(b commands.Handlers, pid string) error {
				_, err := b.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: pid, AccountID: cy.AccountID, Enabled: false})
				return err
			},
			command: func(a commands.Handlers, pid string) (commands.Result, error) {
				return a.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: pid, AccountID: cy.AccountID, Enabled: true})
			},
			wantEvents: 1,
		},
		{
			name: "a keyed command run elsewhere first is a repeat",
			behind: func(b commands.Handlers, pid string) error {
				_, err := b.Invite.Handle(ctx, keyed(owner, "k1", "h1"), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: dan.Email, Role: "agent"}}})
				return err
			},
			command: func(a commands.Handlers, pid string) (commands.Result, error) {
				return a.Invite.Handle(ctx, keyed(owner, "k1", "h1"), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: dan.Email, Role: "agent"}}})
			},
			wantEvents: 1,
			repeated:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			pid := f.create()
			f.join(pid, cy, "agent") // f.h now holds the property's state
			before := len(f.stream(pid))
			if err := tt.behind(f.instance(), pid); err != nil {
				t.Fatalf("other instance: %v", err)
			}
			behind := len(f.stream(pid)) - before
			res, err := tt.command(f.h, pid)
			if tt.wantCode != "" {
				var de *domain.Error
				if err == nil || !errors.As(err, &de) || de.Code != tt.wantCode {
					t.Fatalf("error = %v, want code %s", err, tt.wantCode)
				}
			} else if err != nil {
				t.Fatalf("command: %v", err)
			}
			if len(res.Events) != tt.wantEvents || res.Repeated != tt.repeated {
				t.Errorf("result has %d events, repeated %v; want %d, %v", len(res.Events), res.Repeated, tt.wantEvents, tt.repeated)
			}
			want := tt.wantEvents
			if tt.repeated {
				want = 0
			}
			if stored := len(f.stream(pid)) - before - behind; stored != want {
				t.Errorf("%d events stored by the command, want %d", stored, want)
			}
		})
	}
}

// TestEveryEventIsLinkedToThePreviousOne: single and bulk commands, from two
// instances, leave one unbroken chain per property.
func TestEveryEventIsLinkedToThePreviousOne(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	other := f.create()
	f.join(pid, cy, "admin")
	if _, err := f.instance().Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: pid,
		Rows: []commands.InviteRow{{Email: ada.Email, Role: "agent"}, {Email: bob.Email, Role: "agent"}}}); err != nil {
		t.Fatal(err)
	}
	f.invite(pid, dan.Email, "agent") // f.h is behind: its append conflicts, then links to the fresh head
	f.invite(other, dan.Email, "agent")
	for _, p := range []string{pid, other} {
		prev := chain.Genesis
		for _, rec := range f.stream(p) {
			link, err := chain.Read(rec)
			if err != nil {
				t.Fatalf("event %d: %v", rec.Revision, err)
			}
			if !link.Chained || link.Prev != prev || link.Computed != link.Hash {
				t.Fatalf("event %d of %s: chained %v, prev %s (want %s), hash %s (computed %s)",
					rec.Revision, p, link.Chained, link.Prev, prev, link.Hash, link.Computed)
			}
			prev = link.Hash
		}
	}
}

// TestTheCacheSavesReadsWithinItsBounds counts stream reads: a cached
// property is not read again, an evicted or flushed one is.
func TestTheCacheSavesReadsWithinItsBounds(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		opts      []commands.Option
		flush     bool
		idle      time.Duration // how long nothing happens before the 4 commands
		wantReads int           // reads of the 4 commands after the setup
	}{
		{name: "cached properties are not read again", wantReads: 0},
		{name: "one cached property: alternating two evicts each time", opts: []commands.Option{commands.WithCache(1, 1000)}, wantReads: 4},
		{name: "no cache: every command reads its stream", opts: []commands.Option{commands.WithCache(0, 0)}, wantReads: 4},
		{name: "a flush drops every cached state", flush: true, wantReads: 2},
		{name: "states idle past the idle time are read again", idle: commands.DefaultCacheIdle + time.Second, wantReads: 2},
		{name: "states idle within the idle time stay", idle: commands.DefaultCacheIdle - time.Second, wantReads: 0},
		{name: "a longer idle time keeps them", opts: []commands.Option{commands.WithCacheIdle(time.Hour)}, idle: 2 * time.Minute, wantReads: 0},
		{name: "no idle time keeps them however long", opts: []commands.Option{commands.WithCacheIdle(0)}, idle: 24 * time.Hour, wantReads: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rc *readCounter
			f := newFixture(t, func(m *memory.Store) commands.EventStore { rc = &readCounter{EventStore: m}; return rc })
			h := commands.New(commands.Config{Store: rc, InviteTTL: ttl, Tokens: f.tokens, Now: f.clock.Now, Options: tt.opts})
			var pids [2]string
			for i := range pids {
				res, err := h.CreateProperty.Handle(ctx, as(owner), commands.CreateProperty{Name: "Cached"})
				if err != nil {
					t.Fatal(err)
				}
				pids[i] = res.PropertyID
			}
			if _, err := h.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: pids[0], AccountID: owner.AccountID, Enabled: true}); err != nil {
				t.Fatal(err)
			}
			if tt.flush {
				h.Flush()
			}
			f.clock.Advance(tt.idle)
			rc.reset()
			emails := []string{ada.Email, bob.Email, cy.Email, dan.Email}
			for i, email := range emails {
				if _, err := h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: pids[(i+1)%2], // the property used last in the setup comes second
					Rows: []commands.InviteRow{{Email: email, Role: "agent"}}}); err != nil {
					t.Fatalf("invite %s: %v", email, err)
				}
			}
			if got := rc.count(); got != tt.wantReads {
				t.Errorf("%d stream reads, want %d", got, tt.wantReads)
			}
		})
	}
}

type readCounter struct {
	commands.EventStore
	mu    sync.Mutex
	reads int
}

func (r *readCounter) ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	r.mu.Lock()
	r.reads++
	r.mu.Unlock()
	return r.EventStore.ReadStreamPage(ctx, stream, from, limit)
}

func (r *readCounter) count() int { r.mu.Lock(); defer r.mu.Unlock(); return r.reads }
func (r *readCounter) reset()     { r.mu.Lock(); defer r.mu.Unlock(); r.reads = 0 }
