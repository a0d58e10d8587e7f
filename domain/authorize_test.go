package domain_test

import (
	"testing"

	"github.com/rosterhq/roster/domain"
)

// guardedCommand is one command that only enabled admins may send, with the
// events it returns when one does (on the team() history).
type guardedCommand struct {
	verb string
	when func(a domain.Actor) decision
	then func(a domain.Actor) []domain.Event
}

var guardedCommands = []guardedCommand{
	{
		verb: "invite",
		when: func(a domain.Actor) decision { return invite(a, row("inv-new", "new@example.com", "agent")) },
		then: func(a domain.Actor) []domain.Event {
			return []domain.Event{newInvite(a, "inv-new", "new@example.com", domain.RoleAgent)}
		},
	},
	{
		verb: "resend",
		when: func(a domain.Actor) decision { return resend(a, "inv-pat", "fresh") },
		then: func(domain.Actor) []domain.Event {
			return []domain.Event{domain.InvitationResent{Schema: domain.SchemaV1, InvitationID: "inv-pat",
				ExpiresAt: tNow.Add(ttl), TokenNonce: "fresh"}}
		},
	},
	{
		verb: "revoke",
		when: func(a domain.Actor) decision { return revoke(a, "inv-pat") },
		then: func(domain.Actor) []domain.Event {
			return []domain.Event{domain.InvitationRevoked{Schema: domain.SchemaV1, InvitationID: "inv-pat"}}
		},
	},
	{
		verb: "change the role of",
		when: func(a domain.Actor) decision { return changeRole(a, ted, "admin") },
		then: func(domain.Actor) []domain.Event {
			return []domain.Event{domain.MemberRoleChanged{Schema: domain.SchemaV1, AccountID: ted.AccountID,
				From: domain.RoleAgent, To: domain.RoleAdmin}}
		},
	},
	{
		verb: "disable",
		when: func(a domain.Actor) decision { return disable(a, ted) },
		then: func(domain.Actor) []domain.Event {
			return []domain.Event{domain.MemberAccessDisabled{Schema: domain.SchemaV1, AccountID: ted.AccountID}}
		},
	},
	{
		verb: "enable",
		when: func(a domain.Actor) decision { return enable(a, offAgent) },
		then: func(domain.Actor) []domain.Event {
			return []domain.Event{domain.MemberAccessEnabled{Schema: domain.SchemaV1, AccountID: offAgent.AccountID}}
		},
	},
	{
		verb: "remove",
		when: func(a domain.Actor) decision { return remove(a, ted) },
		then: func(domain.Actor) []domain.Event {
			return []domain.Event{domain.MemberRemoved{Schema: domain.SchemaV1, AccountID: ted.AccountID}}
		},
	},
}

// Invariant 1: only enabled admins, the owner included, may invite, resend,
// revoke, change roles, disable, enable or remove; outsiders get 404.
func TestInvariant1_OnlyEnabledAdminsManage(t *testing.T) {
	allowed := []struct {
		who   string
		actor domain.Actor
	}{
		{"owner", owner},
		{"admin", admin},
	}
	// Members without the right are told so; an outsider is told what a
	// property that does not exist tells, word for word, as reads do.
	refused := []struct {
		who   string
		actor domain.Actor
		fails failure
	}{
		{"agent", agent, failure{kind: domain.KindForbidden, code: domain.CodeForbidden}},
		{"disabled admin", offAdmin, failure{kind: domain.KindForbidden, code: domain.CodeAccessDisabled}},
		{"disabled agent", offAgent, failure{kind: domain.KindForbidden, code: domain.CodeAccessDisabled}},
		{"outsider", outsider, failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound,
			says: "property " + pid + " does not exist"}},
		{"invitee who has not accepted", pat, failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
	}
	var specs []spec
	for _, c := range guardedCommands {
		for _, a := range allowed {
			specs = append(specs, spec{
				name:  a.who + " can " + c.verb,
				given: team(),
				when:  c.when(a.actor),
				then:  c.then(a.actor),
			})
		}
		for _, r := range refused {
			specs = append(specs, spec{
				name:  r.who + " cannot " + c.verb,
				given: team(),
				when:  c.when(r.actor),
				fails: r.fails,
			})
		}
	}
	run(t, specs)
}

// Invariant 1, continued: a member who regains access regains their rights,
// and a property that does not exist is a 404 for every guarded command.
func TestInvariant1_AccessFollowsState(t *testing.T) {
	reenabled := domain.MemberAccessEnabled{Schema: domain.SchemaV1, AccountID: offAdmin.AccountID}
	demoted := domain.MemberRoleChanged{Schema: domain.SchemaV1, AccountID: admin.AccountID,
		From: domain.RoleAdmin, To: domain.RoleAgent}
	removed := domain.MemberRemoved{Schema: domain.SchemaV1, AccountID: admin.AccountID}
	var specs []spec
	for _, c := range guardedCommands {
		specs = append(specs,
			spec{
				name:  "re-enabled admin can " + c.verb + " again",
				given: events(team(), reenabled),
				when:  c.when(offAdmin),
				then:  c.then(offAdmin),
			},
			spec{
				name:  "demoted admin cannot " + c.verb,
				given: events(team(), demoted),
				when:  c.when(admin),
				fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "agent"},
			},
			spec{
				name:  "removed admin is an outsider to " + c.verb,
				given: events(team(), removed),
				when:  c.when(admin),
				fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound},
			},
			spec{
				name:  "nobody can " + c.verb + " on a property that does not exist",
				when:  c.when(owner),
				fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound},
			},
		)
	}
	run(t, specs)
}
