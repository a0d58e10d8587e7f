package readmodels_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// The access review names who invited by a verified email only: anyone can
// put any address in an unverified claim. The account is always named.
func TestReviewNamesAnInviterByAVerifiedEmailOnly(t *testing.T) {
	t.Parallel()
	store := memory.New()
	pt.NewHistory(t, store).Add(pt.Script()[:2]...)
	yes, no := true, false
	for i, verified := range []*bool{&yes, &no} {
		meta, err := json.Marshal(domain.Metadata{EventID: pt.NewID(), CommandID: pt.NewID(), CausationID: pt.NewID(),
			ActorID: pt.Owner, ActorEmail: "ceo@example.com", ActorEmailVerified: verified, OccurredAt: pt.At(2 + i), Schema: 1})
		if err != nil {
			t.Fatal(err)
		}
		typ, data, err := domain.EncodeEvent(domain.MemberInvited{Schema: 1, InvitationID: []string{"inv-a", "inv-b"}[i],
			Email: []string{"a@example.com", "b@example.com"}[i], Role: domain.RoleAgent, InvitedBy: pt.Owner,
			ExpiresAt: pt.At(2).Add(pt.InviteTTL), TokenNonce: "n"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Append(context.Background(), domain.StreamName(pt.Acme), eventstore.Any(),
			[]eventstore.EventData{{ID: pt.NewID(), Type: typ, Data: data, Metadata: meta}}); err != nil {
			t.Fatal(err)
		}
	}
	review, err := newHistory(store).Review(context.Background(), pt.Acme, pt.At(5))
	if err != nil {
		t.Fatal(err)
	}
	var got []readmodels.ReviewActor
	for _, inv := range review.PendingInvitations {
		got = append(got, inv.InvitedBy)
	}
	want := []readmodels.ReviewActor{{AccountID: pt.Owner, Email: "ceo@example.com"}, {AccountID: pt.Owner}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inviters of the verified and the unverified invitation (-want +got):\n%s", diff)
	}
}

// The audit shows an actor's email only when the token verified it, and an
// unverified one finds nothing through the actor filter; the account ID is
// always shown and found. Rows of events from before verification was
// recorded show their email as they did.
func TestAuditShowsAnActorsEmailOnlyWhenVerified(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()[:2]...)
	yes, no := true, false
	var last eventstore.Position
	for i, verified := range []*bool{&yes, &no, nil} {
		meta, err := json.Marshal(domain.Metadata{EventID: pt.NewID(), CommandID: pt.NewID(), CausationID: pt.NewID(),
			ActorID: "acc-" + string(rune('a'+i)), ActorEmail: string(rune('a'+i)) + "@example.com", ActorEmailVerified: verified,
			OccurredAt: pt.At(2 + i), Schema: 1})
		if err != nil {
			t.Fatal(err)
		}
		typ, data, err := domain.EncodeEvent(domain.InvitationRevoked{Schema: 1, InvitationID: "inv-" + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.store.Append(context.Background(), domain.StreamName(pt.Acme), eventstore.Any(),
			[]eventstore.EventData{{ID: pt.NewID(), Type: typ, Data: data, Metadata: meta}})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	if reached, err := f.rm.WaitFor(context.Background(), last, time.Minute); err != nil || !reached {
		t.Fatalf("WaitFor = %v, %v", reached, err)
	}
	actors := func(filter string) []readmodels.AuditActor {
		page, err := f.rm.Audit(context.Background(), pt.Acme, readmodels.AuditFilter{Actor: filter, Types: []string{domain.TypeInvitationRevoked}})
		if err != nil {
			t.Fatal(err)
		}
		out := []readmodels.AuditActor{}
		for _, e := range page.Entries {
			out = append(out, readmodels.AuditActor{AccountID: e.Actor.AccountID, Email: e.Actor.Email})
		}
		return out
	}
	a, b, c := readmodels.AuditActor{AccountID: "acc-a", Email: "a@example.com"}, readmodels.AuditActor{AccountID: "acc-b"},
		readmodels.AuditActor{AccountID: "acc-c", Email: "c@example.com"}
	tests := []struct {
		name, filter string
		want         []readmodels.AuditActor
	}{
		{"every row names its account, and its email only when verified or from before", "", []readmodels.AuditActor{a, b, c}},
		{"a verified email finds its rows", "A@example.com", []readmodels.AuditActor{a}},
		{"an unverified email finds nothing", "b@example.com", []readmodels.AuditActor{}},
		{"the unverified actor's account finds its rows", "acc-b", []readmodels.AuditActor{b}},
		{"an email from before verification was recorded finds its rows", "c@example.com", []readmodels.AuditActor{c}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, actors(tt.filter)); diff != "" {
				t.Errorf("actors (-want +got):\n%s", diff)
			}
		})
	}
}
