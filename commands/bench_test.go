package commands_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// BenchmarkInviteCommand measures one invitation end to end: load, decide,
// append, mail. A fresh property every 100 invitations keeps the stream short.
func BenchmarkInviteCommand(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, nil)
	var pid string
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%100 == 0 {
			b.StopTimer()
			pid = f.create()
			b.StartTimer()
		}
		_, err := f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: pid,
			Rows: []commands.InviteRow{{Email: fmt.Sprintf("user%d@example.com", i), Role: "agent"}}})
		if err != nil {
			b.Fatalf("invite %d: %v", i, err)
		}
	}
}

// BenchmarkLoadLongStream measures one command against a property whose
// stream holds 10,000 events: "cached" with the executor's aggregate cache
// (the state is kept, the append's expected revision checks it), "replayed"
// without it (every command reads and folds the whole stream).
func BenchmarkLoadLongStream(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []commands.Option
	}{
		{"cached", nil},
		{"replayed", []commands.Option{commands.WithCache(0, 0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const n = 10_000
			ctx := context.Background()
			f := newFixture(b, nil)
			h := commands.New(commands.Config{Store: f.mem, InviteTTL: ttl, Tokens: f.tokens, Now: f.clock.Now, Options: bc.opts})
			pid := seedLongStream(b, f, n)
			enabled := (n-3)%2 == 0 // bob's access after the seeded toggles
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				enabled = !enabled
				_, err := h.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: pid, AccountID: bob.AccountID, Enabled: enabled})
				if err != nil {
					b.Fatalf("command %d: %v", i, err)
				}
			}
		})
	}
}

// seedLongStream writes a property of n events straight to the store: the
// owner and bob join, then bob's access is disabled and enabled in turn.
func seedLongStream(b *testing.B, f *fixture, n int) string {
	b.Helper()
	pid := uuid.NewString()
	events := []domain.Event{
		domain.PropertyCreated{Schema: domain.SchemaV1, PropertyID: pid, Name: "Long", OwnerID: owner.AccountID},
		domain.MemberJoined{Schema: domain.SchemaV1, AccountID: owner.AccountID, Email: owner.Email, Role: domain.RoleAdmin},
		domain.MemberJoined{Schema: domain.SchemaV1, AccountID: bob.AccountID, Email: bob.Email, Role: domain.RoleAgent},
	}
	for i := len(events); i < n; i++ {
		if i%2 == 1 {
			events = append(events, domain.MemberAccessDisabled{Schema: domain.SchemaV1, AccountID: bob.AccountID})
		} else {
			events = append(events, domain.MemberAccessEnabled{Schema: domain.SchemaV1, AccountID: bob.AccountID})
		}
	}
	expected := eventstore.NoStream()
	for start := 0; start < n; start += 1000 {
		batch := make([]eventstore.EventData, 0, 1000)
		for _, e := range events[start:min(start+1000, n)] {
			typ, data, err := domain.EncodeEvent(e)
			if err != nil {
				b.Fatal(err)
			}
			id := uuid.NewString()
			meta, err := json.Marshal(domain.Metadata{EventID: id, CommandID: id, CorrelationID: id, CausationID: id,
				ActorID: owner.AccountID, ActorEmail: owner.Email, OccurredAt: t0, Schema: domain.SchemaV1})
			if err != nil {
				b.Fatal(err)
			}
			batch = append(batch, eventstore.EventData{ID: id, Type: typ, Data: data, Metadata: meta})
		}
		res, err := f.mem.Append(context.Background(), domain.StreamName(pid), expected, batch)
		if err != nil {
			b.Fatalf("seed: %v", err)
		}
		expected = eventstore.Exact(res.Revision)
	}
	return pid
}
