package domain_test

import (
	"testing"

	"github.com/rosterhq/roster/domain"
)

func roleChanged(a domain.Actor, from, to domain.Role) domain.MemberRoleChanged {
	return domain.MemberRoleChanged{Schema: domain.SchemaV1, AccountID: a.AccountID, From: from, To: to}
}

func transferred(from, to domain.Actor) domain.OwnershipTransferred {
	return domain.OwnershipTransferred{Schema: domain.SchemaV1, From: from.AccountID, To: to.AccountID}
}

// Invariant 8: the property keeps at least one enabled admin, and the owner
// cannot be demoted, disabled or removed by anyone.
func TestInvariant8_AdminsAndOwnerAreProtected(t *testing.T) {
	// alone: the owner is the only enabled admin, whoever else is around.
	alone := events(created(),
		joined(agent, domain.RoleAgent),
		joined(offAdmin, domain.RoleAdmin), disabled(offAdmin))
	// legacy: a history written before the owner was protected, where the
	// owner is disabled and admin is the last enabled admin, so the guard
	// under test is the admin count, not the owner check.
	legacy := events(team(), disabled(owner))
	specs := []spec{
		{name: "last enabled admin cannot be demoted", given: alone, when: changeRole(owner, owner, "agent"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin, says: "at least one enabled admin"}},
		{name: "last enabled admin cannot be disabled", given: alone, when: disable(owner, owner),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "last enabled admin cannot be removed", given: alone, when: remove(owner, owner),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "last enabled admin who is not the owner cannot be demoted", given: legacy, when: changeRole(admin, admin, "agent"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "last enabled admin who is not the owner cannot be disabled", given: legacy, when: disable(admin, admin),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "last enabled admin who is not the owner cannot be removed", given: legacy, when: remove(admin, admin),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "last enabled admin who is not the owner cannot leave", given: legacy, when: leave(admin),
			fails: failure{kind: domain.KindConflict, code: domain.CodeLastAdmin}},
		{name: "an admin may demote another admin while the owner remains", given: team(), when: changeRole(owner, admin, "agent"),
			then: []domain.Event{roleChanged(admin, domain.RoleAdmin, domain.RoleAgent)}},
		{name: "an admin may demote themselves while the owner remains", given: team(), when: changeRole(admin, admin, "agent"),
			then: []domain.Event{roleChanged(admin, domain.RoleAdmin, domain.RoleAgent)}},
		{name: "an admin may disable another admin", given: team(), when: disable(owner, admin),
			then: []domain.Event{disabled(admin)}},
		{name: "an admin may remove another admin", given: team(), when: remove(admin, offAdmin),
			then: []domain.Event{domain.MemberRemoved{Schema: domain.SchemaV1, AccountID: offAdmin.AccountID}}},
		{name: "a disabled admin may be demoted", given: alone, when: changeRole(owner, offAdmin, "agent"),
			then: []domain.Event{roleChanged(offAdmin, domain.RoleAdmin, domain.RoleAgent)}},
	}
	for _, who := range []struct {
		name  string
		actor domain.Actor
	}{{"another admin", admin}, {"the owner themselves", owner}} {
		specs = append(specs,
			spec{name: "owner cannot be demoted by " + who.name, given: team(), when: changeRole(who.actor, owner, "agent"),
				fails: failure{kind: domain.KindConflict, code: domain.CodeOwnerProtected, says: "transfer ownership"}},
			spec{name: "owner cannot be disabled by " + who.name, given: team(), when: disable(who.actor, owner),
				fails: failure{kind: domain.KindConflict, code: domain.CodeOwnerProtected}},
			spec{name: "owner cannot be removed by " + who.name, given: team(), when: remove(who.actor, owner),
				fails: failure{kind: domain.KindConflict, code: domain.CodeOwnerProtected}},
		)
	}
	run(t, specs)
}

// Invariant 8: ownership moves only by transfer, from the owner, to an
// enabled admin.
func TestInvariant8_OwnershipTransfer(t *testing.T) {
	run(t, []spec{
		{name: "owner transfers ownership to an enabled admin", given: team(), when: transfer(owner, admin),
			then: []domain.Event{transferred(owner, admin)}},
		{name: "ownership cannot go to an agent", given: team(), when: transfer(owner, agent),
			fails: failure{kind: domain.KindConflict, code: domain.CodeNewOwnerNotAdmin, says: agent.Email}},
		{name: "ownership cannot go to a disabled admin", given: team(), when: transfer(owner, offAdmin),
			fails: failure{kind: domain.KindConflict, code: domain.CodeNewOwnerNotAdmin, says: "disabled"}},
		{name: "ownership cannot go to a disabled agent", given: team(), when: transfer(owner, offAgent),
			fails: failure{kind: domain.KindConflict, code: domain.CodeNewOwnerNotAdmin}},
		{name: "ownership cannot go to an outsider", given: team(), when: transfer(owner, outsider),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeMemberNotFound}},
		{name: "ownership cannot go to the owner", given: team(), when: transfer(owner, owner),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyOwner}},
		{name: "an admin who is not the owner cannot transfer", given: team(), when: transfer(admin, admin),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "transfer_ownership"}},
		{name: "an agent cannot transfer", given: team(), when: transfer(agent, admin),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden}},
		{name: "a disabled admin cannot transfer", given: team(), when: transfer(offAdmin, admin),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeAccessDisabled}},
		{name: "an outsider cannot transfer and is told the property does not exist", given: team(), when: transfer(outsider, admin),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
		{name: "nobody can transfer a property that does not exist", when: transfer(owner, admin),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
	})
}

// Invariant 8: after a transfer the former owner stays an admin, loses the
// owner's protection and right, and the new owner may demote them.
func TestInvariant8_AfterTransfer(t *testing.T) {
	after := events(team(), transferred(owner, admin))
	p := given(after...)
	if p.OwnerID != admin.AccountID {
		t.Errorf("owner = %s, want %s", p.OwnerID, admin.AccountID)
	}
	if m := p.Members[owner.AccountID]; m == nil || m.Role != domain.RoleAdmin || m.Status != domain.StatusEnabled {
		t.Errorf("former owner = %+v, want an enabled admin", m)
	}
	run(t, []spec{
		{name: "new owner can demote the former owner", given: after, when: changeRole(admin, owner, "agent"),
			then: []domain.Event{roleChanged(owner, domain.RoleAdmin, domain.RoleAgent)}},
		{name: "new owner can remove the former owner", given: after, when: remove(admin, owner),
			then: []domain.Event{domain.MemberRemoved{Schema: domain.SchemaV1, AccountID: owner.AccountID}}},
		{name: "former owner cannot transfer again", given: after, when: transfer(owner, owner),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden}},
		{name: "former owner cannot demote the new owner", given: after, when: changeRole(owner, admin, "agent"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeOwnerProtected}},
		{name: "former owner may now leave", given: after, when: leave(owner),
			then: []domain.Event{domain.MemberLeft{Schema: domain.SchemaV1, AccountID: owner.AccountID}}},
		{name: "new owner cannot leave", given: after, when: leave(admin),
			fails: failure{kind: domain.KindConflict, code: domain.CodeOwnerCannotLeave}},
	})
}
