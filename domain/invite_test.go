package domain_test

import (
	"testing"

	"github.com/rosterhq/roster/domain"
)

// Invariant 3: at most one pending invitation per email per property, and
// no invitation to an email that already belongs to a member.
func TestInvariant3_OnePendingInvitationPerEmail(t *testing.T) {
	revoked := domain.InvitationRevoked{Schema: domain.SchemaV1, InvitationID: "inv-old"}
	declined := domain.InvitationDeclined{Schema: domain.SchemaV1, InvitationID: "inv-old"}
	run(t, []spec{
		{
			name:  "admin invites a new email as agent",
			given: created(),
			when:  invite(owner, row("inv-1", "new@example.com", "agent")),
			then:  []domain.Event{newInvite(owner, "inv-1", "new@example.com", domain.RoleAgent)},
		},
		{
			name:  "admin invites a new email as admin, role in any case",
			given: created(),
			when:  invite(owner, row("inv-1", "new@example.com", " Admin ")),
			then:  []domain.Event{newInvite(owner, "inv-1", "new@example.com", domain.RoleAdmin)},
		},
		{
			name:  "second invitation to a pending email is refused",
			given: events(created(), invited("inv-old", "pat@example.com", domain.RoleAgent, later)),
			when:  invite(owner, row("inv-1", "pat@example.com", "agent")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyInvited, says: "inv-old"},
		},
		{
			name:  "pending invitation blocks the same email in another case",
			given: events(created(), invited("inv-old", "pat@example.com", domain.RoleAgent, later)),
			when:  invite(owner, row("inv-1", "PAT@Example.com", "admin")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyInvited},
		},
		{
			name:  "expired invitation does not block a new invite",
			given: events(created(), invited("inv-old", "pat@example.com", domain.RoleAgent, gone)),
			when:  invite(owner, row("inv-1", "pat@example.com", "agent")),
			then:  []domain.Event{newInvite(owner, "inv-1", "pat@example.com", domain.RoleAgent)},
		},
		{
			name:  "invitation expiring exactly now does not block a new invite",
			given: events(created(), invited("inv-old", "pat@example.com", domain.RoleAgent, tNow)),
			when:  invite(owner, row("inv-1", "pat@example.com", "agent")),
			then:  []domain.Event{newInvite(owner, "inv-1", "pat@example.com", domain.RoleAgent)},
		},
		{
			name:  "revoked invitation does not block a new invite",
			given: events(created(), invited("inv-old", "pat@example.com", domain.RoleAgent, later), revoked),
			when:  invite(owner, row("inv-1", "pat@example.com", "agent")),
			then:  []domain.Event{newInvite(owner, "inv-1", "pat@example.com", domain.RoleAgent)},
		},
		{
			name:  "declined invitation does not block a new invite",
			given: events(created(), invited("inv-old", "pat@example.com", domain.RoleAgent, later), declined),
			when:  invite(owner, row("inv-1", "pat@example.com", "agent")),
			then:  []domain.Event{newInvite(owner, "inv-1", "pat@example.com", domain.RoleAgent)},
		},
		{
			name:  "inviting an enabled member's email is refused",
			given: team(),
			when:  invite(owner, row("inv-1", ted.Email, "agent")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember, says: "enabled member"},
		},
		{
			name:  "inviting a disabled member's email is refused",
			given: team(),
			when:  invite(owner, row("inv-1", offAgent.Email, "admin")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember, says: "disabled member"},
		},
		{
			name:  "inviting the owner's email in another case is refused",
			given: team(),
			when:  invite(admin, row("inv-1", "OWNER@example.com", "agent")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember},
		},
		{
			name:  "a member who left can be invited again",
			given: events(team(), domain.MemberLeft{Schema: domain.SchemaV1, AccountID: ted.AccountID}),
			when:  invite(owner, row("inv-1", ted.Email, "agent")),
			then:  []domain.Event{newInvite(owner, "inv-1", ted.Email, domain.RoleAgent)},
		},
		{
			name:  "an unknown role is refused",
			given: created(),
			when:  invite(owner, row("inv-1", "new@example.com", "owner")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRole, says: "owner"},
		},
	})
}

// Invariant 3 holds per property: another property's invitation blocks nothing.
func TestInvariant3_OtherPropertiesDoNotBlock(t *testing.T) {
	other := given(created()...)
	if _, err := other.Invite(owner, tNow, ttl, []domain.InviteRequest{row("inv-1", "pat@example.com", "agent")}); err != nil {
		t.Fatal(err)
	}
	second := domain.NewProperty("prop-2")
	for _, e := range []domain.Event{
		domain.PropertyCreated{Schema: domain.SchemaV1, PropertyID: "prop-2", Name: "Blog", OwnerID: owner.AccountID},
		joined(owner, domain.RoleAdmin),
	} {
		second.Apply(e, t0)
	}
	got, err := second.Invite(owner, tNow, ttl, []domain.InviteRequest{row("inv-2", "pat@example.com", "agent")})
	check(t, got, err, []domain.Event{newInvite(owner, "inv-2", "pat@example.com", domain.RoleAgent)}, failure{})
}

// Revoking is all or nothing over a selection of pending invitations.
func TestRevokeSelection(t *testing.T) {
	two := events(created(),
		invited("inv-1", "one@example.com", domain.RoleAgent, later),
		invited("inv-2", "two@example.com", domain.RoleAgent, later))
	revokedEvent := func(id string) domain.Event {
		return domain.InvitationRevoked{Schema: domain.SchemaV1, InvitationID: id}
	}
	many := make([]string, domain.MaxRevokesPerRequest+1)
	for i := range many {
		many[i] = "inv-1"
	}
	run(t, []spec{
		{
			name:  "several pending invitations are revoked at once",
			given: two,
			when:  revoke(owner, "inv-1", "inv-2"),
			then:  []domain.Event{revokedEvent("inv-1"), revokedEvent("inv-2")},
		},
		{
			name:  "a repeated id is revoked once",
			given: two,
			when:  revoke(owner, "inv-2", "inv-2"),
			then:  []domain.Event{revokedEvent("inv-2")},
		},
		{
			name:  "an unknown id refuses the whole selection",
			given: two,
			when:  revoke(owner, "inv-1", "inv-404"),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeInvitationNotFound, says: "inv-404"},
		},
		{
			name:  "an already revoked invitation refuses the whole selection",
			given: events(two, revokedEvent("inv-2")),
			when:  revoke(owner, "inv-1", "inv-2"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeInvitationNotPending, says: "revoked"},
		},
		{
			name:  "an empty selection is refused",
			given: two,
			when:  revoke(owner),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeNoInvitations},
		},
		{
			name:  "a selection over the limit is refused",
			given: two,
			when:  revoke(owner, many...),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeTooManyInvitations},
		},
	})
}
