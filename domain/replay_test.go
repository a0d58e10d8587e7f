package domain_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rosterhq/roster/domain"
)

// applied is one event with the time it was applied at.
type applied struct {
	event domain.Event
	at    time.Time
}

// decideAndApply runs decision i at tNow+i minutes and applies the events it
// returns, as the command layer does; it returns every event in order.
func decideAndApply(t *testing.T, p *domain.Property, decisions ...decision) []applied {
	t.Helper()
	var all []applied
	for i, d := range decisions {
		got, err := d(p)
		if err != nil {
			t.Fatalf("decision %d: %v", i, err)
		}
		at := tNow.Add(time.Duration(i) * time.Minute)
		for _, e := range got {
			p.Apply(e, at)
			all = append(all, applied{e, at})
		}
	}
	return all
}

// Applying the events the decisions returned yields the state they describe,
// and replaying the same events into a fresh property yields it again.
func TestApplyReplaysDecisions(t *testing.T) {
	at := func(i int) time.Time { return tNow.Add(time.Duration(i) * time.Minute) }
	p := domain.NewProperty(pid)
	history := decideAndApply(t, p,
		create(owner, "Shop"), // 0
		invite(owner, row("inv-a", "Admin@Example.com", "admin"), row("inv-g", "agent@example.com", "agent"),
			row("inv-r", "rex@example.com", "agent")), // 1
		accept(admin, "inv-a"),                                // 2
		accept(agent, "inv-g"),                                // 3
		revoke(admin, "inv-r"),                                // 4
		changeRole(owner, agent, "admin"),                     // 5
		disable(admin, agent),                                 // 6
		transfer(owner, admin),                                // 7
		changeRole(admin, owner, "agent"),                     // 8
		invite(admin, row("inv-x", "x@example.com", "agent")), // 9
		resend(admin, "inv-x", "nonce-x2"),                    // 10
	)

	wantMembers := map[string]*domain.Member{
		owner.AccountID: {AccountID: owner.AccountID, Email: owner.Email, Role: domain.RoleAgent,
			Status: domain.StatusEnabled, JoinedAt: at(0), UpdatedAt: at(8)},
		admin.AccountID: {AccountID: admin.AccountID, Email: admin.Email, Role: domain.RoleAdmin,
			Status: domain.StatusEnabled, JoinedAt: at(2), UpdatedAt: at(2)},
		agent.AccountID: {AccountID: agent.AccountID, Email: agent.Email, Role: domain.RoleAdmin,
			Status: domain.StatusDisabled, JoinedAt: at(3), UpdatedAt: at(6)},
	}
	inv := func(id, email string, r domain.Role, s domain.InvitationStatus, by domain.Actor, created, updated int, expires time.Time, nonce string) *domain.Invitation {
		return &domain.Invitation{ID: id, Email: email, Role: r, Status: s, InvitedBy: by.AccountID,
			CreatedAt: at(created), ExpiresAt: expires, TokenNonce: nonce, UpdatedAt: at(updated)}
	}
	wantInvitations := map[string]*domain.Invitation{
		"inv-a": inv("inv-a", admin.Email, domain.RoleAdmin, domain.InviteAccepted, owner, 1, 2, tNow.Add(ttl), "nonce-inv-a"),
		"inv-g": inv("inv-g", agent.Email, domain.RoleAgent, domain.InviteAccepted, owner, 1, 3, tNow.Add(ttl), "nonce-inv-g"),
		"inv-r": inv("inv-r", "rex@example.com", domain.RoleAgent, domain.InviteRevoked, owner, 1, 4, tNow.Add(ttl), "nonce-inv-r"),
		"inv-x": inv("inv-x", "x@example.com", domain.RoleAgent, domain.InvitePending, admin, 9, 10, tNow.Add(ttl), "nonce-x2"),
	}
	if p.OwnerID != admin.AccountID || p.Name != "Shop" || p.Version != uint64(len(history)) || p.Version != 16 {
		t.Errorf("owner %s name %q version %d (history %d), want %s Shop 16",
			p.OwnerID, p.Name, p.Version, len(history), admin.AccountID)
	}
	if diff := cmp.Diff(wantMembers, p.Members); diff != "" {
		t.Errorf("members mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantInvitations, p.Invitations); diff != "" {
		t.Errorf("invitations mismatch (-want +got):\n%s", diff)
	}
	var order []string
	for _, i := range p.InvitationsInOrder() {
		order = append(order, i.ID)
	}
	if diff := cmp.Diff([]string{"inv-a", "inv-g", "inv-r", "inv-x"}, order); diff != "" {
		t.Errorf("invitation order mismatch (-want +got):\n%s", diff)
	}

	// Replaying the history at the same times rebuilds the same state.
	replayed := domain.NewProperty(pid)
	for _, a := range history {
		replayed.Apply(a.event, a.at)
	}
	if diff := cmp.Diff(p, replayed, cmpopts.IgnoreUnexported(domain.Property{})); diff != "" {
		t.Errorf("replay differs (-decided +replayed):\n%s", diff)
	}
}

// Apply never validates: an event about someone unknown still counts as a
// version and changes nothing else, so old streams always replay.
func TestApplyNeverValidates(t *testing.T) {
	p := given(created()...)
	for _, e := range []domain.Event{
		domain.MemberRoleChanged{Schema: domain.SchemaV1, AccountID: "ghost", From: domain.RoleAgent, To: domain.RoleAdmin},
		domain.MemberAccessDisabled{Schema: domain.SchemaV1, AccountID: "ghost"},
		domain.MemberAccessEnabled{Schema: domain.SchemaV1, AccountID: "ghost"},
		domain.MemberRemoved{Schema: domain.SchemaV1, AccountID: "ghost"},
		domain.InvitationResent{Schema: domain.SchemaV1, InvitationID: "inv-ghost", ExpiresAt: later},
		domain.InvitationAccepted{Schema: domain.SchemaV1, InvitationID: "inv-ghost", AccountID: "ghost"},
		domain.InvitationRevoked{Schema: domain.SchemaV1, InvitationID: "inv-ghost"},
		domain.InvitationDeclined{Schema: domain.SchemaV1, InvitationID: "inv-ghost"},
	} {
		p.Apply(e, tNow)
	}
	if p.Version != 10 || len(p.Members) != 1 || len(p.Invitations) != 0 {
		t.Errorf("version %d, %d members, %d invitations; want 10, 1, 0", p.Version, len(p.Members), len(p.Invitations))
	}
}

// An invitation's expiry is derived: expired at exactly expires_at.
func TestInvitationStatusAt(t *testing.T) {
	expires := tNow
	tests := []struct {
		name   string
		stored domain.InvitationStatus
		at     time.Time
		want   domain.InvitationStatus
	}{
		{"pending before expiry is pending", domain.InvitePending, expires.Add(-time.Nanosecond), domain.InvitePending},
		{"pending at exactly expires_at is expired", domain.InvitePending, expires, domain.InviteExpired},
		{"pending after expiry is expired", domain.InvitePending, expires.Add(time.Hour), domain.InviteExpired},
		{"expiry is compared as an instant, whatever the zone", domain.InvitePending,
			expires.In(time.FixedZone("CET", 3600)), domain.InviteExpired},
		{"accepted stays accepted after expiry", domain.InviteAccepted, expires.Add(time.Hour), domain.InviteAccepted},
		{"revoked stays revoked after expiry", domain.InviteRevoked, expires.Add(time.Hour), domain.InviteRevoked},
		{"declined stays declined after expiry", domain.InviteDeclined, expires.Add(time.Hour), domain.InviteDeclined},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &domain.Invitation{ID: "inv-1", Status: tt.stored, ExpiresAt: expires}
			if got := inv.StatusAt(tt.at); got != tt.want {
				t.Errorf("StatusAt = %s, want %s", got, tt.want)
			}
		})
	}
}
