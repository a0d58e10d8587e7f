package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// TestMayReadAnswersFromTheStream: the answer comes from the stream as it is
// now, including what another instance has just written, and asking appends
// nothing.
func TestMayReadAnswersFromTheStream(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	f.join(pid, bob, "agent")
	if _, err := f.h.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: pid, AccountID: bob.AccountID, Enabled: false}); err != nil {
		t.Fatal(err)
	}
	// other caches the property before ada joins through f.h.
	other := f.instance()
	if err := other.MayRead.Handle(ctx, as(ada), pid); domain.KindOf(err) != domain.KindNotFound {
		t.Fatalf("ada before joining: %v, want not found", err)
	}
	f.join(pid, ada, "agent")
	before := len(f.stream(pid))
	tests := []struct {
		name  string
		actor domain.Actor
		pid   string
		ok    bool
	}{
		{"the owner", owner, pid, true},
		{"a member who joined through another instance", ada, pid, true},
		{"a disabled member", bob, pid, false},
		{"an outsider", outsider, pid, false},
		{"anyone, on a property that does not exist", owner, "0b7c5a8e-2f4d-4c1e-9a6b-3d2f1e0c9b8a", false},
		{"anyone, on an ID that is no property ID", owner, "not-a-uuid", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := other.MayRead.Handle(ctx, as(tt.actor), tt.pid)
			if tt.ok && err != nil {
				t.Fatalf("MayRead = %v, want nil", err)
			}
			if !tt.ok {
				wantErr(t, err, domain.KindNotFound, domain.CodePropertyNotFound)
			}
		})
	}
	if after := len(f.stream(pid)); after != before {
		t.Errorf("asking appended %d events", after-before)
	}
}

// TestInspectRefusesADeciderThatWrites: a question that returns events is a
// programming error, and nothing is appended.
func TestInspectRefusesADeciderThatWrites(t *testing.T) {
	f := newFixture(t, nil)
	pid := f.create()
	f.join(pid, bob, "agent")
	before := len(f.stream(pid))
	x := commands.NewExecutor(f.store, f.clock.Now)
	err := x.Inspect(context.Background(), as(owner), pid, func(p *domain.Property, _ time.Time, _ commands.IDs) ([]domain.Event, error) {
		return p.DisableAccess(owner, bob.AccountID)
	})
	if err == nil {
		t.Fatal("Inspect accepted a decider that returned events")
	}
	if after := len(f.stream(pid)); after != before {
		t.Errorf("Inspect appended %d events", after-before)
	}
}
