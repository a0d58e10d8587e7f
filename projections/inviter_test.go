package projections_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// TestOnlyAVerifiedEmailIsShownAsWhoActed: anyone can put any address in an
// unverified claim, so the invitee's bell shows an inviter's email only when
// the token verified it (the account ID is always in invited_by), and the
// audit records whether it was verified beside the email, which it keeps for
// erasure to find while its readers show it only when verified. An event
// from before verification was recorded reads as it always did. A verified
// claim the domain would refuse, such as one with a Kelvin sign, is kept as
// it is, never lower-cased into someone else's address.
func TestOnlyAVerifiedEmailIsShownAsWhoActed(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	store := memory.New()
	pt.NewHistory(t, store).Add(pt.Script()[:2]...)
	tests := []struct {
		name, claim string
		verified    *bool
		kept, shown string
	}{
		{"a verified email is shown", "owner@example.com", &yes, "owner@example.com", "owner@example.com"},
		{"an unverified email is kept for erasure, not shown", "CEO@example.com", &no, "ceo@example.com", ""},
		{"an event from before verification was recorded shows its email", "owner@example.com", nil, "owner@example.com", "owner@example.com"},
		{"a verified claim with a Kelvin sign is kept as it is", "\u212Aate@example.com", &yes, "\u212Aate@example.com", "\u212Aate@example.com"},
	}
	var last eventstore.Position
	for i, tt := range tests {
		meta, err := json.Marshal(domain.Metadata{EventID: pt.NewID(), CommandID: pt.NewID(), CausationID: pt.NewID(),
			ActorID: pt.Owner, ActorEmail: tt.claim, ActorEmailVerified: tt.verified, OccurredAt: pt.At(2 + i), Schema: domain.SchemaV1})
		if err != nil {
			t.Fatal(err)
		}
		typ, data, err := domain.EncodeEvent(domain.MemberInvited{Schema: 1, InvitationID: pt.NewID(), Email: "guest" + string(rune('a'+i)) + "@example.com",
			Role: domain.RoleAgent, InvitedBy: pt.Owner, ExpiresAt: pt.At(2 + i).Add(pt.InviteTTL), TokenNonce: "n"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := store.Append(context.Background(), domain.StreamName(pt.Acme), eventstore.Any(),
			[]eventstore.EventData{{ID: pt.NewID(), Type: typ, Data: data, Metadata: meta}})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Position
	}
	pool := projectStore(t, store, last, projections.Audit(), projections.MyInvitations())
	type actor struct {
		ActorID, Email string
		Verified       *bool
	}
	type inviter struct{ ActorID, Email string }
	audit := rows[actor](t, pool, `SELECT actor_id, actor_email, actor_email_verified FROM rm_audit WHERE revision >= 2 ORDER BY revision`)
	bell := rows[inviter](t, pool, `SELECT invited_by, invited_by_email FROM rm_my_invitations ORDER BY email`)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(audit) != len(tests) || len(bell) != len(tests) {
				t.Fatalf("%d audit rows and %d invitations, want %d of each", len(audit), len(bell), len(tests))
			}
			if diff := cmp.Diff(actor{pt.Owner, tt.kept, tt.verified}, audit[i]); diff != "" {
				t.Errorf("audit actor (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(inviter{pt.Owner, tt.shown}, bell[i]); diff != "" {
				t.Errorf("invitation's inviter (-want +got):\n%s", diff)
			}
		})
	}
}
