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
				name:  "an unknown invitation cannot be " + a.done + " and a member is told which",
				given: invitedPat(later),
				when:  a.when(owner, "inv-404"),
				fails: failure{kind: domain.KindNotFound, code: domain.CodeInvitationNotFound, says: "inv-404"},
			},
			spec{
				name:  "an outsider guessing an invitation ID to " + a.verb + " is told the property does not exist",
				given: invitedPat(later),
				when:  a.when(pat, "inv-404"),
				fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound, says: "property " + pid + " does not exist"},
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

// Invariant 5 against look-alikes: the caller's verified email and the
// invitation's are compared in their normal forms, so an address that only
// looks like the invitee's answers nothing, while the invitee's own address
// in other ASCII case still does. (A Unicode domain reaches the domain as its
// A-label, mapped at the edge: infra/emailaddr's tests cover those.)
func TestInvariant5_LookAlikesAreNotTheInvitee(t *testing.T) {
	kate := domain.Actor{AccountID: "acc-kate", Email: "kate@example.com", EmailVerified: true}
	invitedKate := events(created(), invited("inv-kate", kate.Email, domain.RoleAgent, later))
	kateJoined := domain.MemberJoined{Schema: domain.SchemaV1, AccountID: "acc-other", Email: kate.Email,
		Role: domain.RoleAgent, InvitationID: "inv-kate"}
	verified := func(email string) domain.Actor {
		return domain.Actor{AccountID: "acc-other", Email: email, EmailVerified: true}
	}
	var specs []spec
	for _, a := range answers {
		for _, lookalike := range []struct{ name, email string }{
			{"the Kelvin sign", "\u212Aate@example.com"},
			{"a fullwidth k", "\uFF4Bate@example.com"},
			{"a Cyrillic a", "k\u0430te@example.com"},
			{"a Cyrillic e in the domain", "kate@\u0435xample.com"},
			{"a trailing dot", "kate@example.com."},
			{"a NUL", "kate@example.com\x00"},
			{"a zero-width space", "ka\u200bte@example.com"},
		} {
			specs = append(specs, spec{
				name:  "a verified email with " + lookalike.name + " cannot " + a.verb + " kate's invitation",
				given: invitedKate,
				when:  a.when(verified(lookalike.email), "inv-kate"),
				fails: failure{kind: domain.KindForbidden, code: domain.CodeNotInvitee},
			})
		}
	}
	specs = append(specs,
		spec{
			name:  "kate's address in capitals is kate's inbox and accepts",
			given: invitedKate,
			when:  accept(verified("KATE@EXAMPLE.COM"), "inv-kate"),
			then:  []domain.Event{domain.InvitationAccepted{Schema: domain.SchemaV1, InvitationID: "inv-kate", AccountID: "acc-other"}, kateJoined},
		},
		spec{
			name:  "kate's invitation cannot be sent again to a spelling with the Kelvin sign",
			given: invitedKate,
			when:  invite(owner, row("inv-2", "\u212Aate@example.com", "agent")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidEmail, says: "U+212A"},
		},
	)
	run(t, specs)
}
