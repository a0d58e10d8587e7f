package domain_test

import (
	"testing"

	"github.com/rosterhq/roster/domain"
)

func left(a domain.Actor) domain.MemberLeft {
	return domain.MemberLeft{Schema: domain.SchemaV1, AccountID: a.AccountID}
}

// Invariant 9: a member may leave by themselves; the owner may not.
func TestInvariant9_MembersLeaveByThemselves(t *testing.T) {
	run(t, []spec{
		{name: "agent leaves", given: team(), when: leave(agent), then: []domain.Event{left(agent)}},
		{name: "admin leaves", given: team(), when: leave(admin), then: []domain.Event{left(admin)}},
		{name: "disabled agent leaves", given: team(), when: leave(offAgent), then: []domain.Event{left(offAgent)}},
		{name: "disabled admin leaves", given: team(), when: leave(offAdmin), then: []domain.Event{left(offAdmin)}},
		{name: "owner cannot leave", given: team(), when: leave(owner),
			fails: failure{kind: domain.KindConflict, code: domain.CodeOwnerCannotLeave, says: "transfer ownership"}},
		{name: "owner alone cannot leave either", given: created(), when: leave(owner),
			fails: failure{kind: domain.KindConflict, code: domain.CodeOwnerCannotLeave}},
		{name: "outsider cannot leave and is told the property does not exist", given: team(), when: leave(outsider),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound, says: "property " + pid + " does not exist"}},
		{name: "invitee who has not accepted cannot leave", given: team(), when: leave(pat),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
		{name: "member who already left cannot leave again", given: events(team(), left(agent)), when: leave(agent),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
		{name: "nobody leaves a property that does not exist", when: leave(agent),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
	})
}

func TestInvariant9_LeavingRemovesTheMember(t *testing.T) {
	p := given(team()...)
	got, err := p.Leave(offAgent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		p.Apply(e, tNow)
	}
	if _, ok := p.Members[offAgent.AccountID]; ok {
		t.Errorf("member %s is still there after leaving", offAgent.AccountID)
	}
}

// Invariant 10 lives in the commands layer (idempotency keys); here: a
// decision that would change nothing returns no events and no error.
func TestInvariant10_NoOpDecisionsReturnNoEvents(t *testing.T) {
	run(t, []spec{
		{name: "changing an agent to agent is a no-op", given: team(), when: changeRole(owner, agent, "agent")},
		{name: "changing an admin to admin, in any case, is a no-op", given: team(), when: changeRole(owner, admin, " ADMIN")},
		{name: "changing the owner to admin is a no-op", given: team(), when: changeRole(admin, owner, "admin")},
		{name: "changing the last admin to admin is a no-op", given: created(), when: changeRole(owner, owner, "admin")},
		{name: "disabling a disabled member is a no-op", given: team(), when: disable(owner, offAgent)},
		{name: "disabling a disabled admin is a no-op", given: team(), when: disable(admin, offAdmin)},
		{name: "enabling an enabled member is a no-op", given: team(), when: enable(owner, agent)},
		{name: "enabling the owner is a no-op", given: team(), when: enable(admin, owner)},
	})
}

// The member commands refuse unknown members and roles.
func TestMemberCommandsNeedAMember(t *testing.T) {
	run(t, []spec{
		{name: "change role of a non-member is not found", given: team(), when: changeRole(owner, outsider, "agent"),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeMemberNotFound, says: outsider.AccountID}},
		{name: "disable a non-member is not found", given: team(), when: disable(owner, outsider),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeMemberNotFound}},
		{name: "enable a non-member is not found", given: team(), when: enable(owner, outsider),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeMemberNotFound}},
		{name: "remove a non-member is not found", given: team(), when: remove(owner, outsider),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeMemberNotFound}},
		{name: "remove a member who left is not found", given: events(team(), left(ted)), when: remove(owner, ted),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeMemberNotFound}},
		{name: "change to an unknown role is invalid", given: team(), when: changeRole(owner, ted, "owner"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRole, says: "owner"}},
		{name: "change to an empty role is invalid", given: team(), when: changeRole(owner, ted, ""),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRole}},
		{name: "an agent is promoted to admin", given: team(), when: changeRole(admin, ted, "admin"),
			then: []domain.Event{roleChanged(ted, domain.RoleAgent, domain.RoleAdmin)}},
		{name: "a disabled agent is enabled", given: team(), when: enable(admin, offAgent),
			then: []domain.Event{domain.MemberAccessEnabled{Schema: domain.SchemaV1, AccountID: offAgent.AccountID}}},
		{name: "a disabled member can be removed", given: team(), when: remove(owner, offAgent),
			then: []domain.Event{domain.MemberRemoved{Schema: domain.SchemaV1, AccountID: offAgent.AccountID}}},
	})
}
