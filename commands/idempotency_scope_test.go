package commands_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
)

// TestCreatePropertyTwiceWithOneKeyCreatesOneProperty: the property ID comes
// from the key, so the repeat finds the property the first request made.
func TestCreatePropertyTwiceWithOneKeyCreatesOneProperty(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	m := keyed(owner, "create-1", "hash")
	first, err1 := f.h.CreateProperty.Handle(ctx, m, commands.CreateProperty{Name: "Acme"})
	second, err2 := f.h.CreateProperty.Handle(ctx, m, commands.CreateProperty{Name: "Acme"})
	if err1 != nil || err2 != nil {
		t.Fatalf("create twice: %v, %v", err1, err2)
	}
	if second.PropertyID != first.PropertyID || !second.Repeated {
		t.Errorf("second = {%s repeated %v}, want {%s repeated true}", second.PropertyID, second.Repeated, first.PropertyID)
	}
	if diff := cmp.Diff([]string{domain.TypePropertyCreated, domain.TypeMemberJoined}, f.types(first.PropertyID)); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
	if got := f.feedLen(); got != 2 {
		t.Errorf("store holds %d events, want 2", got)
	}
}

// TestSameKeyByAnotherActorIsAnotherCommand: keys are the client's, scoped to
// the account that sends them.
func TestSameKeyByAnotherActorIsAnotherCommand(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	f.join(pid, ada, "admin")
	r1, err1 := f.h.Invite.Handle(ctx, keyed(owner, "k", "h"), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: bob.Email, Role: "agent"}}})
	r2, err2 := f.h.Invite.Handle(ctx, keyed(ada, "k", "h"), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: cy.Email, Role: "agent"}}})
	if err1 != nil || err2 != nil {
		t.Fatalf("invites: %v, %v", err1, err2)
	}
	if r2.Repeated || cmp.Equal(invitationIDs(r1), invitationIDs(r2)) {
		t.Errorf("ada's invite = repeated %v, ids %v; want a new command next to owner's %v", r2.Repeated, invitationIDs(r2), invitationIDs(r1))
	}
	c1, err1 := f.h.CreateProperty.Handle(ctx, keyed(owner, "c", "h"), commands.CreateProperty{Name: "One"})
	c2, err2 := f.h.CreateProperty.Handle(ctx, keyed(ada, "c", "h"), commands.CreateProperty{Name: "One"})
	if err1 != nil || err2 != nil || c1.PropertyID == c2.PropertyID || c2.Repeated {
		t.Errorf("creates by two actors with one key = %s, %s (repeated %v), errors %v, %v; want two properties",
			c1.PropertyID, c2.PropertyID, c2.Repeated, err1, err2)
	}
}

// TestSameKeyOnAnotherPropertyIsNotAServerFault: a client that reuses a key
// on a second property gets either a new command or CodeIdempotencyKeyReused,
// never an internal error (a 500) from colliding event IDs.
func TestSameKeyOnAnotherPropertyIsNotAServerFault(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	p1, p2 := f.create(), f.create()
	if _, err := f.h.Invite.Handle(ctx, keyed(owner, "k", "POST p1"), commands.Invite{PropertyID: p1,
		Rows: []commands.InviteRow{{Email: ada.Email, Role: "agent"}}}); err != nil {
		t.Fatalf("invite on p1: %v", err)
	}
	_, err := f.h.Invite.Handle(ctx, keyed(owner, "k", "POST p2"), commands.Invite{PropertyID: p2,
		Rows: []commands.InviteRow{{Email: bob.Email, Role: "agent"}}})
	if err != nil && domain.CodeOf(err) != domain.CodeIdempotencyKeyReused {
		t.Errorf("invite on p2 with p1's key: %v (kind %s), want success or %s", err, domain.KindOf(err), domain.CodeIdempotencyKeyReused)
	}
}

// TestConcurrentRepeatsStoreOneSetOfEvents: eight copies of one keyed invite
// at once all succeed with the same invitations, stored once.
func TestConcurrentRepeatsStoreOneSetOfEvents(t *testing.T) {
	f := newFixture(t, nil)
	pid := f.create()
	results := sendConcurrently(f, pid, 8)
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("goroutine %d: %v", i, r.err)
		}
		if diff := cmp.Diff(invitationIDs(results[0].res), invitationIDs(r.res)); diff != "" || len(invitationIDs(r.res)) != 2 {
			t.Errorf("goroutine %d invitation IDs (-first +got):\n%s", i, diff)
		}
	}
	want := []string{domain.TypePropertyCreated, domain.TypeMemberJoined, domain.TypeMemberInvited, domain.TypeMemberInvited}
	if diff := cmp.Diff(want, f.types(pid)); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
}

// TestConcurrentRepeatsMailOnceAndOneIsNotRepeated forces the race: every
// copy loads the stream before any appends. Only one request had the effect,
// so only one may mail the invitees and answer Repeated=false.
func TestConcurrentRepeatsMailOnceAndOneIsNotRepeated(t *testing.T) {
	var gate *barrierStore
	f := newFixture(t, func(m *memory.Store) commands.EventStore { gate = &barrierStore{EventStore: m}; return gate })
	pid := f.create()
	gate.arm(8)
	results := sendConcurrently(f, pid, 8)
	fresh := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("goroutine %d: %v", i, r.err)
		}
		if !r.res.Repeated {
			fresh++
		}
	}
	if got := len(f.types(pid)); got != 4 {
		t.Errorf("stream holds %d events, want 4", got)
	}
	if got := len(f.mails()); got != 2 {
		t.Errorf("%d mails sent for 2 invitees, want 2 (one per invitee)", got)
	}
	if fresh != 1 {
		t.Errorf("%d of 8 results say Repeated=false, want 1", fresh)
	}
}

type outcome struct {
	res commands.Result
	err error
}

// sendConcurrently sends one keyed invite of two emails from n goroutines at
// once, each through handlers of its own, as n server instances would: one
// instance runs a property's commands one at a time.
func sendConcurrently(f *fixture, pid string, n int) []outcome {
	cmd := commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: ada.Email, Role: "admin"}, {Email: bob.Email, Role: "agent"}}}
	out := make([]outcome, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range out {
		h := f.instance()
		wg.Go(func() {
			<-start
			res, err := h.Invite.Handle(context.Background(), keyed(owner, "same-key", "same-hash"), cmd)
			out[i] = outcome{res, err}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// barrierStore holds the first n stream reads after arm until all n have
// read, so n commands decide on the same state before any of them appends.
type barrierStore struct {
	commands.EventStore
	mu      sync.Mutex
	left    int
	release chan struct{}
}

func (s *barrierStore) arm(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.left, s.release = n, make(chan struct{})
}

func (s *barrierStore) ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	recs, err := s.EventStore.ReadStreamPage(ctx, stream, from, limit)
	s.mu.Lock()
	if s.left == 0 {
		s.mu.Unlock()
		return recs, err
	}
	s.left--
	if s.left == 0 {
		close(s.release)
	}
	release := s.release
	s.mu.Unlock()
	select {
	case <-release:
	case <-time.After(5 * time.Second): // never hang the suite if a fix reads differently
	}
	return recs, err
}
