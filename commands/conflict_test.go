package commands_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
)

// TestConcurrentWritersAllSucceedByRetrying: sixteen admins' requests race for
// one property's revision; the losers decide again on the fresh state, so
// every invitation lands, once.
func TestConcurrentWritersAllSucceedByRetrying(t *testing.T) {
	f := newFixture(t, nil)
	pid := f.create()
	const n = 16
	emails := make([]string, n)
	ids := make([][]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		emails[i] = fmt.Sprintf("agent%02d@example.com", i)
		wg.Go(func() {
			<-start
			res, err := f.h.Invite.Handle(context.Background(), as(owner),
				commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: emails[i], Role: "agent"}}})
			ids[i], errs[i] = invitationIDs(res), err
		})
	}
	close(start)
	wg.Wait()

	var storedEmails, storedIDs []string
	for _, rec := range f.stream(pid)[2:] {
		e, err := domain.DecodeEvent(rec.Type, rec.Data)
		inv, ok := e.(domain.MemberInvited)
		if err != nil || !ok {
			t.Fatalf("event %d is %s (%v), want MemberInvited", rec.Revision, rec.Type, err)
		}
		storedEmails, storedIDs = append(storedEmails, inv.Email), append(storedIDs, inv.InvitationID)
	}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("writer %d: %v", i, errs[i])
		} else if len(ids[i]) != 1 || !slices.Contains(storedIDs, ids[i][0]) {
			t.Errorf("writer %d was answered invitations %v, not among those stored", i, ids[i])
		}
	}
	slices.Sort(storedEmails)
	if diff := cmp.Diff(emails, storedEmails); diff != "" {
		t.Errorf("stored invitations (-want +got):\n%s", diff)
	}
	if got := len(f.mails()); got != n {
		t.Errorf("%d mails sent, want %d", got, n)
	}
}

// TestConflictsAreRetriedAgainstFreshState covers the retry loop: transient
// conflicts are absorbed, a persistent one is a 409 after a bounded number of
// attempts, and every retry decides on what the stream holds now.
func TestConflictsAreRetriedAgainstFreshState(t *testing.T) {
	tests := []struct {
		name        string
		conflicts   int // injected conflicts; -1: every append
		foreign     string
		wantCode    string
		wantAppends int
		wantInvited []string
	}{
		{name: "transient conflicts are retried until the append lands", conflicts: 3,
			wantAppends: 4, wantInvited: []string{ada.Email}},
		{name: "a persistent conflict is a 409 after bounded attempts", conflicts: -1,
			wantCode: domain.CodeConcurrentModification, wantAppends: commands.DefaultMaxRetries + 1},
		{name: "a racing write is kept and the command lands after it", foreign: bob.Email,
			wantAppends: 2, wantInvited: []string{bob.Email, ada.Email}},
		{name: "the retry decides again and sees the racing invitation", foreign: ada.Email,
			wantCode: domain.CodeAlreadyInvited, wantAppends: 1, wantInvited: []string{ada.Email}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cs *conflictStore
			f := newFixture(t, func(m *memory.Store) commands.EventStore { cs = &conflictStore{EventStore: m}; return cs })
			pid := f.create()
			var before func()
			if tt.foreign != "" {
				before = func() { f.foreignInvite(pid, tt.foreign) }
			}
			cs.arm(tt.conflicts, before)
			_, err := f.h.Invite.Handle(context.Background(), as(owner),
				commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: ada.Email, Role: "agent"}}})
			if tt.wantCode != "" {
				wantErr(t, err, domain.KindConflict, tt.wantCode)
			} else if err != nil {
				t.Fatalf("invite: %v", err)
			}
			if got := cs.count(); got != tt.wantAppends {
				t.Errorf("%d appends attempted, want %d", got, tt.wantAppends)
			}
			if diff := cmp.Diff(tt.wantInvited, f.invitedEmails(pid)); diff != "" {
				t.Errorf("stored invitations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIfMatchGuardsTheRevisionTheClientSaw: If-Match with the current
// revision goes through; a stale one, or a write that lands between load and
// append, is a 412 that stores nothing and is not retried.
func TestIfMatchGuardsTheRevisionTheClientSaw(t *testing.T) {
	tests := []struct {
		name        string
		stale       bool // If-Match names the revision before the current one
		conflicts   int
		foreign     bool
		wantErr     bool
		wantAppends int
		wantInvited []string
	}{
		{name: "the current revision is accepted", wantAppends: 1, wantInvited: []string{ada.Email}},
		{name: "a stale revision is refused before deciding", stale: true, wantErr: true},
		{name: "a write racing in before the append is refused, not retried", foreign: true,
			wantErr: true, wantAppends: 1, wantInvited: []string{bob.Email}},
		{name: "a conflict at append is refused, not retried", conflicts: -1, wantErr: true, wantAppends: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cs *conflictStore
			f := newFixture(t, func(m *memory.Store) commands.EventStore { cs = &conflictStore{EventStore: m}; return cs })
			pid := f.create()
			f.join(pid, cy, "agent")
			rev := f.stream(pid)[len(f.stream(pid))-1].Revision
			if tt.stale {
				rev--
			}
			var before func()
			if tt.foreign {
				before = func() { f.foreignInvite(pid, bob.Email) }
			}
			cs.arm(tt.conflicts, before)
			m := as(owner)
			m.IfMatch = &rev
			res, err := f.h.Invite.Handle(context.Background(), m,
				commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: ada.Email, Role: "agent"}}})
			if tt.wantErr {
				wantErr(t, err, domain.KindPrecondition, domain.CodeStaleRevision)
			} else if err != nil || res.Revision != rev+1 {
				t.Fatalf("invite = revision %d, %v; want revision %d", res.Revision, err, rev+1)
			}
			if got := cs.count(); got != tt.wantAppends {
				t.Errorf("%d appends attempted, want %d", got, tt.wantAppends)
			}
			if diff := cmp.Diff(append([]string{cy.Email}, tt.wantInvited...), f.invitedEmails(pid)); diff != "" {
				t.Errorf("stored invitations (-want +got):\n%s", diff)
			}
		})
	}
}

// foreignInvite has owner invite email through handlers of their own, as
// another server instance would, straight to the memory store.
func (f *fixture) foreignInvite(pid, email string) {
	f.tb.Helper()
	other := commands.New(commands.Config{Store: f.mem, InviteTTL: ttl, Tokens: f.tokens, Now: f.clock.Now})
	if _, err := other.Invite.Handle(context.Background(), as(owner),
		commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: email, Role: "agent"}}}); err != nil {
		f.tb.Errorf("foreign invite of %s: %v", email, err)
	}
}

// invitedEmails lists the emails of the stream's MemberInvited events, in order.
func (f *fixture) invitedEmails(pid string) []string {
	f.tb.Helper()
	var emails []string
	for _, rec := range f.stream(pid) {
		if rec.Type != domain.TypeMemberInvited {
			continue
		}
		e, err := domain.DecodeEvent(rec.Type, rec.Data)
		if err != nil {
			f.tb.Fatalf("decode: %v", err)
		}
		emails = append(emails, e.(domain.MemberInvited).Email)
	}
	return emails
}

// conflictStore counts appends once armed; it fails the first conflicts of
// them with a conflict (all when -1), and runs before once, ahead of the
// first append, to let another writer in.
type conflictStore struct {
	commands.EventStore
	mu        sync.Mutex
	appends   int
	conflicts int
	before    func()
}

func (s *conflictStore) arm(conflicts int, before func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appends, s.conflicts, s.before = 0, conflicts, before
}

func (s *conflictStore) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.appends }

func (s *conflictStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	s.mu.Lock()
	s.appends++
	before := s.before
	s.before = nil
	inject := s.conflicts != 0
	if s.conflicts > 0 {
		s.conflicts--
	}
	s.mu.Unlock()
	if before != nil {
		before()
	}
	if inject {
		return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: -1}
	}
	return s.EventStore.Append(ctx, stream, expected, events)
}
