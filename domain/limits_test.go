package domain_test

import (
	"fmt"
	"testing"

	"github.com/rosterhq/roster/domain"
)

// bigTeam is a property with the owner and n-1 more members, every tenth an
// admin, the rest agents.
func bigTeam(n int) []domain.Event {
	out := created()
	for i := 1; i < n; i++ {
		role := domain.RoleAgent
		if i%10 == 0 {
			role = domain.RoleAdmin
		}
		out = append(out, joined(member(i), role))
	}
	return out
}

func member(i int) domain.Actor {
	return domain.Actor{AccountID: fmt.Sprintf("acc-%04d", i), Email: fmt.Sprintf("m%04d@example.com", i), EmailVerified: true}
}

// Invariant 11: a property may have any number of members.
func TestInvariant11_PropertyWithAThousandMembers(t *testing.T) {
	big := bigTeam(1000)
	if p := given(big...); len(p.Members) != 1000 {
		t.Fatalf("%d members, want 1000", len(p.Members))
	}
	fifty := make([]domain.Event, 50)
	for i, r := range rows(50) {
		fifty[i] = newInvite(member(10), r.InvitationID, r.Email, domain.RoleAgent)
	}
	run(t, []spec{
		{name: "the 1001st member is invited", given: big, when: invite(owner, row("inv-1", "new@example.com", "agent")),
			then: []domain.Event{newInvite(owner, "inv-1", "new@example.com", domain.RoleAgent)}},
		{name: "fifty more are invited at once by an admin", given: big, when: invite(member(10), rows(50)...), then: fifty},
		{name: "a member's email is still recognised", given: big, when: invite(owner, row("inv-1", member(999).Email, "agent")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember}},
		{name: "the 1001st member joins", given: events(big, invited("inv-1", pat.Email, domain.RoleAgent, later)),
			when: accept(pat, "inv-1"),
			then: []domain.Event{
				domain.InvitationAccepted{Schema: domain.SchemaV1, InvitationID: "inv-1", AccountID: pat.AccountID},
				domain.MemberJoined{Schema: domain.SchemaV1, AccountID: pat.AccountID, Email: pat.Email,
					Role: domain.RoleAgent, InvitationID: "inv-1"},
			}},
		{name: "one of a thousand changes role", given: big, when: changeRole(owner, member(501), "admin"),
			then: []domain.Event{roleChanged(member(501), domain.RoleAgent, domain.RoleAdmin)}},
		{name: "one of a thousand is removed", given: big, when: remove(member(20), member(999)),
			then: []domain.Event{domain.MemberRemoved{Schema: domain.SchemaV1, AccountID: member(999).AccountID}}},
		{name: "one of a thousand leaves", given: big, when: leave(member(1)),
			then: []domain.Event{left(member(1))}},
		{name: "ownership goes to one of a thousand", given: big, when: transfer(owner, member(990)),
			then: []domain.Event{transferred(owner, member(990))}},
	})
}

// Invariant 11: an account may be a member of any number of properties.
func TestInvariant11_AccountInTwoHundredProperties(t *testing.T) {
	const n = 200
	props := make([]*domain.Property, n)
	for i := range props {
		id := fmt.Sprintf("prop-%03d", i)
		props[i] = domain.NewProperty(id)
		host := domain.Actor{AccountID: "host-" + id, Email: "host@" + id + ".example.com", EmailVerified: true}
		decisions := []decision{
			create(host, "Site "+id),
			invite(host, row("inv-"+id, "  PAT@example.com", "agent")),
			accept(pat, "inv-"+id),
		}
		if i%2 == 1 {
			// Half the properties go further: pat is promoted and becomes owner.
			decisions = append(decisions, changeRole(host, pat, "admin"), transfer(host, pat))
		}
		for _, d := range decisions {
			got, err := d(props[i])
			if err != nil {
				t.Fatalf("property %s: %v", id, err)
			}
			for _, e := range got {
				props[i].Apply(e, tNow)
			}
		}
	}
	owned := 0
	for _, p := range props {
		m := p.Members[pat.AccountID]
		if m == nil || m.Status != domain.StatusEnabled {
			t.Fatalf("pat is not an enabled member of %s", p.ID)
		}
		if p.OwnerID == pat.AccountID {
			owned++
		}
	}
	if owned != n/2 {
		t.Errorf("pat owns %d properties, want %d", owned, n/2)
	}
	// And pat can still act there, here by leaving one where they are an agent.
	if _, err := props[n-2].Leave(pat); err != nil {
		t.Errorf("leave property %s: %v", props[n-2].ID, err)
	}
}
