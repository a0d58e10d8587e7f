package accessindex

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// staleSource is a read model stuck at position 1: Acme with Ann an agent,
// and Beta with Bob an agent.
type staleSource struct{}

var staleGrants = map[string][]readmodels.Grant{
	"acme": {{PropertyID: "acme", OwnerID: "olga", AccountID: "ann", Role: domain.RoleAgent, Status: domain.StatusEnabled}},
	"beta": {{PropertyID: "beta", OwnerID: "olga", AccountID: "bob", Role: domain.RoleAgent, Status: domain.StatusEnabled}},
}

func (staleSource) EachGrant(_ context.Context, fn func(readmodels.Grant) error) (eventstore.Position, error) {
	for _, pid := range []string{"acme", "beta"} {
		for _, g := range staleGrants[pid] {
			if err := fn(g); err != nil {
				return eventstore.Start, err
			}
		}
	}
	return eventstore.Position{Commit: 1}, nil
}

func (staleSource) PropertyGrants(_ context.Context, pid string) ([]readmodels.Grant, eventstore.Position, error) {
	return staleGrants[pid], eventstore.Position{Commit: 1}, nil
}

func recorded(t *testing.T, commit uint64, pid string, ev domain.Event) eventstore.RecordedEvent {
	t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.RecordedEvent{ID: pid + "-" + ev.EventType(), StreamID: domain.StreamPrefix + pid, Type: ev.EventType(),
		Data: data, Position: eventstore.Position{Commit: commit}}
}

// TestAPropertyReadFromALaggingReadModelIsBroughtUpToTheIndex: the index
// holds only Acme (its bound leaves Beta out), applies changes to Beta it
// does not hold, and is then asked about Beta while the read model still
// shows Beta as it was: the changes the index remembers bring Beta up to
// the index's position, and when it no longer remembers them the check
// says it cannot be answered now.
func TestAPropertyReadFromALaggingReadModelIsBroughtUpToTheIndex(t *testing.T) {
	tests := []struct {
		name   string
		recent int
		want   Answer
		code   string
	}{
		{"the recent changes reach back to the read model's position", 8,
			Answer{Member: true, Role: domain.RoleAdmin, Status: domain.StatusDisabled, Position: eventstore.Position{Commit: 4}}, ""},
		{"the recent changes do not reach back that far", 1, Answer{}, domain.CodePositionNotReached},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := New(staleSource{}, nil, Config{MaxEntries: 2, Recent: tt.recent})
			if err := x.loadAll(context.Background()); err != nil {
				t.Fatal(err)
			}
			if x.complete || x.props["beta"] != nil {
				t.Fatalf("the bound of 2 entries kept %d properties, complete %v", len(x.props), x.complete)
			}
			x.applyBatch([]eventstore.RecordedEvent{
				recorded(t, 2, "beta", domain.MemberRoleChanged{Schema: 1, AccountID: "bob", From: domain.RoleAgent, To: domain.RoleAdmin}),
				recorded(t, 3, "beta", domain.MemberAccessDisabled{Schema: 1, AccountID: "bob"}),
				recorded(t, 4, "acme", domain.MemberLeft{Schema: 1, AccountID: "ann"}),
			})
			at := eventstore.Position{Commit: 4}
			got, err := x.Check(context.Background(), []Item{
				{PropertyID: "beta", AccountID: "bob", Permission: domain.PermRespondToChats},
				{PropertyID: "acme", AccountID: "ann", Permission: domain.PermRespondToChats},
			}, &at)
			if tt.code != "" {
				if domain.CodeOf(err) != tt.code {
					t.Fatalf("Check: %v, want %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got[0] != tt.want {
				t.Errorf("Bob on Beta: %+v, want %+v", got[0], tt.want)
			}
			if got[1].Member || got[1].Allowed {
				t.Errorf("Ann, who left Acme: %+v", got[1])
			}
		})
	}
}
