package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// TestEveryEventCarriesItsCommandsMetadata: each stored event names its own
// ID, the command that caused it, the request it belongs to, who acted
// (and whether their token verified their email), from where and when (the
// injected clock), and the schema.
func TestEveryEventCarriesItsCommandsMetadata(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	var pid string
	steps := []struct {
		name string
		meta commands.Meta
		run  func(m commands.Meta) (commands.Result, error)
	}{
		{"create, keyed, from the dashboard", commands.Meta{Actor: owner, CorrelationID: "req-1", ClientIP: "203.0.113.7",
			UserAgent: "dashboard/1.0", IdempotencyKey: "k-create", RequestHash: "h-create"},
			func(m commands.Meta) (commands.Result, error) {
				res, err := f.h.CreateProperty.Handle(ctx, m, commands.CreateProperty{Name: "Acme"})
				pid = res.PropertyID
				return res, err
			}},
		{"invite two, keyed, over IPv6", commands.Meta{Actor: owner, CorrelationID: "req-2", ClientIP: "2001:db8::1",
			UserAgent: "curl/8.5", IdempotencyKey: "k-invite", RequestHash: "h-invite"},
			func(m commands.Meta) (commands.Result, error) {
				return f.h.Invite.Handle(ctx, m, commands.Invite{PropertyID: pid,
					Rows: []commands.InviteRow{{Email: ada.Email, Role: "admin"}, {Email: bob.Email, Role: "agent"}}})
			}},
		{"accept, unkeyed, without request ID or client", commands.Meta{Actor: ada},
			func(m commands.Meta) (commands.Result, error) {
				return f.h.AcceptToken.Handle(ctx, m, commands.AcceptToken{Token: f.lastMailTo(ada.Email).Token})
			}},
		{"revoke, unkeyed, with a request ID", commands.Meta{Actor: ada, CorrelationID: "req-4", ClientIP: "198.51.100.2"},
			func(m commands.Meta) (commands.Result, error) {
				return f.h.Revoke.Handle(ctx, m, commands.Revoke{PropertyID: pid, InvitationIDs: []string{f.lastMailTo(bob.Email).InvitationID}})
			}},
		{"invite, by an admin whose token's email is unverified", commands.Meta{Actor: domain.Actor{AccountID: ada.AccountID, Email: ada.Email}},
			func(m commands.Meta) (commands.Result, error) {
				return f.h.Invite.Handle(ctx, m, commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: cy.Email, Role: "agent"}}})
			}},
	}
	seen := map[string]bool{}
	for i, s := range steps {
		f.clock.Advance(time.Duration(i) * time.Minute)
		before := len(f.stream(pid))
		if _, err := s.run(s.meta); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		recs := f.stream(pid)[before:]
		if len(recs) == 0 {
			t.Fatalf("%s: stored nothing", s.name)
		}
		cmdID := metadataOf(t, recs[0]).CommandID
		scope := pid
		if recs[0].Type == domain.TypePropertyCreated {
			scope = "" // a creation has no property to scope its key to yet
		}
		if want := commands.CommandID(s.meta, scope).String(); s.meta.IdempotencyKey != "" && cmdID != want {
			t.Errorf("%s: command ID %s, want %s derived from actor, property and key", s.name, cmdID, want)
		}
		correlation := s.meta.CorrelationID
		if correlation == "" {
			correlation = cmdID
		}
		for _, rec := range recs {
			got := metadataOf(t, rec)
			want := domain.Metadata{EventID: rec.ID, CommandID: cmdID, CorrelationID: correlation, CausationID: cmdID,
				ActorID: s.meta.Actor.AccountID, ActorEmail: s.meta.Actor.Email, OccurredAt: f.clock.Now(),
				ClientIP: s.meta.ClientIP, UserAgent: s.meta.UserAgent, Schema: domain.SchemaV1, RequestHash: s.meta.RequestHash,
				ActorEmailVerified: &s.meta.Actor.EmailVerified}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: %s metadata (-want +got):\n%s", s.name, rec.Type, diff)
			}
			if got.OccurredAt.Location() != time.UTC {
				t.Errorf("%s: occurred_at %v is not UTC", s.name, got.OccurredAt)
			}
			if !eventstore.IsUUID(rec.ID) || uuid.MustParse(cmdID).String() != cmdID {
				t.Errorf("%s: event ID %q or command ID %q is not a canonical UUID", s.name, rec.ID, cmdID)
			}
			if seen[rec.ID] {
				t.Errorf("%s: event ID %s used twice", s.name, rec.ID)
			}
			seen[rec.ID] = true
		}
	}
}

// TestCommandIDIsTheActorsKeyOrFresh: with a key the command ID is a pure
// function of actor, property and key; without one every command is a new one.
func TestCommandIDIsTheActorsKeyOrFresh(t *testing.T) {
	tests := []struct {
		name      string
		a, b      commands.Meta
		scopeB    string
		wantEqual bool
	}{
		{"same actor, same key", keyed(owner, "k", "h1"), keyed(owner, "k", "h2"), "p", true},
		{"same actor, other key", keyed(owner, "k", "h"), keyed(owner, "k2", "h"), "p", false},
		{"other actor, same key", keyed(owner, "k", "h"), keyed(ada, "k", "h"), "p", false},
		{"same key on another property", keyed(owner, "k", "h"), keyed(owner, "k", "h"), "q", false},
		{"key and actor do not run together", keyed(domain.Actor{AccountID: "a"}, "bc", ""),
			keyed(domain.Actor{AccountID: "ab"}, "c", ""), "p", false},
		{"no key", as(owner), as(owner), "p", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := commands.CommandID(tt.a, "p"), commands.CommandID(tt.b, tt.scopeB)
			if (a == b) != tt.wantEqual {
				t.Errorf("CommandID = %s and %s; equal %v, want %v", a, b, a == b, tt.wantEqual)
			}
		})
	}
}

// TestKeyedCommandsDeriveTheirIDs: a keyed command chooses the same property
// and invitation IDs wherever it runs; an unkeyed one chooses fresh ones.
// Event IDs are fresh on every attempt either way, so a racing repeat loses
// on the revision and finds the first request's events instead of being
// absorbed by the store unnoticed.
func TestKeyedCommandsDeriveTheirIDs(t *testing.T) {
	run := func(m commands.Meta) (pid string, invitations, events []string) {
		ctx := context.Background()
		f := newFixture(t, nil)
		created, err := f.h.CreateProperty.Handle(ctx, m, commands.CreateProperty{Name: "Acme"})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if m.IdempotencyKey != "" {
			m.IdempotencyKey += "-invite"
		}
		res, err := f.h.Invite.Handle(ctx, m, commands.Invite{PropertyID: created.PropertyID,
			Rows: []commands.InviteRow{{Email: ada.Email, Role: "agent"}}})
		if err != nil {
			t.Fatalf("invite: %v", err)
		}
		for _, rec := range f.stream(created.PropertyID) {
			events = append(events, rec.ID)
		}
		return created.PropertyID, invitationIDs(res), events
	}
	for _, tt := range []struct {
		name     string
		meta     commands.Meta
		wantSame bool
	}{
		{"keyed", keyed(owner, "k", "h"), true},
		{"unkeyed", as(owner), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p1, i1, e1 := run(tt.meta)
			p2, i2, e2 := run(tt.meta)
			same := []bool{p1 == p2, cmp.Equal(i1, i2), cmp.Equal(e1, e2)}
			want := []bool{tt.wantSame, tt.wantSame, false}
			if diff := cmp.Diff(want, same); diff != "" {
				t.Errorf("same property, invitation, event IDs in two runs (-want +got):\n%s", diff)
			}
		})
	}
}
