package domain_test

import (
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
)

// invitedPat is a property with a pending admin invitation inv-pat to Pat.
func invitedPat(expires time.Time) []domain.Event {
	return events(created(), invited("inv-pat", pat.Email, domain.RoleAdmin, expires))
}

func acceptedBy(a domain.Actor, id string) domain.InvitationAccepted {
	return domain.InvitationAccepted{Schema: domain.SchemaV1, InvitationID: id, AccountID: a.AccountID}
}

func declinedEvent(id string) domain.InvitationDeclined {
	return domain.InvitationDeclined{Schema: domain.SchemaV1, InvitationID: id}
}

// answers are the two ways an invitee answers, for tables that hold for both.
var answers = []struct {
	verb, done string
	when       func(a domain.Actor, id string) decision
}{
	{"accept", "accepted", accept},
	{"decline", "declined", decline},
}

// Invariant 5: only the invitee, with a verified email, accepts or declines.
func TestInvariant5_OnlyTheInviteeAnswers(t *testing.T) {
	patJoined := domain.MemberJoined{Schema: domain.SchemaV1, AccountID: pat.AccountID, Email: pat.Email,
		Role: domain.RoleAdmin, InvitationID: "inv-pat"}
	shouting := domain.Actor{AccountID: pat.AccountID, Email: "  PAT@Example.COM ", EmailVerified: true}
	specs := []spec{
		{
			name:  "invitee accepts and joins with the invitation's role and email",
			given: invitedPat(later),
			when:  accept(pat, "inv-pat"),
			then:  []domain.Event{acceptedBy(pat, "inv-pat"), patJoined},
		},
		{
			name:  "invitee's email in another case is accepted, the invitation's spelling is kept",
			given: invitedPat(later),
			when:  accept(shouting, "inv-pat"),
			then:  []domain.Event{acceptedBy(pat, "inv-pat"), patJoined},
		},
		{
			name:  "invitee declines",
			given: invitedPat(later),
			when:  decline(pat, "inv-pat"),
			then:  []domain.Event{declinedEvent("inv-pat")},
		},
		{
			name:  "invitee's email in another case may decline",
			given: invitedPat(later),
			when:  decline(shouting, "inv-pat"),
			then:  []domain.Event{declinedEvent("inv-pat")},
		},
		{
			name:  "an account that is already a member cannot accept",
			given: events(created(), invited("inv-2", "second@example.com", domain.RoleAgent, later)),
			when:  accept(domain.Actor{AccountID: owner.AccountID, Email: "second@example.com", EmailVerified: true}, "inv-2"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember},
		},
	}
	for _, a := range answers {
		specs = append(specs,
			spec{
				name:  "someone with another email cannot " + a.verb,
				given: invitedPat(later),
				when:  a.when(outsider, "inv-pat"),
				fails: failure{kind: domain.KindForbidden, code: domain.CodeNotInvitee},
			},
			spec{
				name:  "the inviting owner cannot " + a.verb + " for the invitee",
				given: invitedPat(later),
				when:  a.when(owner, "inv-pat"),
				fails: failure{kind: domain.KindForbidden, code: domain.CodeNotInvitee},
			},
			spec{
				name:  "unverified email cannot " + a.verb + " even when it matches",
				given: invitedPat(later),
				when:  a.when(domain.Actor{AccountID: pat.AccountID, Email: pat.Email}, "inv-pat"),
				fails: failure{kind: domain.KindForbidden, code: domain.CodeEmailUnverified},
			},
			spec{
				name:  "an invalid caller email cannot " + a.verb,
				given: invitedPat(later),
				when:  a.when(domain.Actor{AccountID: pat.AccountID, Email: "pat", EmailVerified: true}, "inv-pat"),
				fails: failure{kind: domain.KindForbidden, code: domain.CodeNotInvitee},
			},
			spec{
				name:  "an unknown invitation cannot be " + a.done,
				given: invitedPat(later),
				when:  a.when(pat, "inv-404"),
				fails: failure{kind: domain.KindNotFound, code: domain.CodeInvitationNotFound, says: "inv-404"},
			},
			spec{
				name:  "an invitation of a property that does not exist cannot be " + a.done,
				when:  a.when(pat, "inv-pat"),
				fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound},
			},
		)
	}
	run(t, specs)
}

// Invariant 6: an expired, revoked, declined or accepted invitation cannot be
// accepted or declined, and the error says which.
func TestInvariant6_OnlyPendingInvitationsAreAnswered(t *testing.T) {
	patJoined := domain.MemberJoined{Schema: domain.SchemaV1, AccountID: pat.AccountID, Email: pat.Email,
		Role: domain.RoleAdmin, InvitationID: "inv-pat"}
	states := []struct {
		name  string
		given []domain.Event
		kind  domain.Kind
		code  string
		says  string
	}{
		{"expired", invitedPat(gone), domain.KindConflict, domain.CodeInvitationExpired, "expired"},
		{"expiring exactly now", invitedPat(tNow), domain.KindConflict, domain.CodeInvitationExpired, "expired"},
		{"revoked", events(invitedPat(later), domain.InvitationRevoked{Schema: domain.SchemaV1, InvitationID: "inv-pat"}),
			domain.KindConflict, domain.CodeInvitationRevoked, "revoked"},
		{"declined", events(invitedPat(later), declinedEvent("inv-pat")),
			domain.KindConflict, domain.CodeInvitationDeclined, "declined"},
		{"already accepted", events(invitedPat(later), acceptedBy(pat, "inv-pat"), patJoined),
			domain.KindConflict, domain.CodeInvitationAccepted, "accepted"},
		{"accepted by an invitee who left since", events(invitedPat(later), acceptedBy(pat, "inv-pat"), patJoined,
			domain.MemberLeft{Schema: domain.SchemaV1, AccountID: pat.AccountID}),
			domain.KindConflict, domain.CodeInvitationAccepted, "accepted"},
		{"revoked after expiring", events(invitedPat(gone), domain.InvitationRevoked{Schema: domain.SchemaV1, InvitationID: "inv-pat"}),
			domain.KindConflict, domain.CodeInvitationRevoked, "revoked"},
	}
	var specs []spec
	for _, s := range states {
		for _, a := range answers {
			specs = append(specs, spec{
				name:  s.name + " invitation cannot be " + a.done,
				given: s.given,
				when:  a.when(pat, "inv-pat"),
				fails: failure{kind: s.kind, code: s.code, says: s.says},
			})
		}
	}
	specs = append(specs, spec{
		name:  "invitation one second before expiry can still be accepted",
		given: invitedPat(tNow.Add(time.Second)),
		when:  accept(pat, "inv-pat"),
		then:  []domain.Event{acceptedBy(pat, "inv-pat"), patJoined},
	})
	run(t, specs)
}
