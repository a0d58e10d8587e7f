package domain_test

import (
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
)

func resent(id, nonce string) domain.InvitationResent {
	return domain.InvitationResent{Schema: domain.SchemaV1, InvitationID: id, ExpiresAt: tNow.Add(ttl), TokenNonce: nonce}
}

// Invariant 7: resend issues a new token nonce and a new expiry.
func TestInvariant7_ResendIssuesNewTokenAndExpiry(t *testing.T) {
	revoked := domain.InvitationRevoked{Schema: domain.SchemaV1, InvitationID: "inv-pat"}
	run(t, []spec{
		{
			name:  "owner resends a pending invitation with a new nonce and expiry",
			given: events(created(), invited("inv-pat", pat.Email, domain.RoleAgent, later)),
			when:  resend(owner, "inv-pat", "nonce-2"),
			then:  []domain.Event{resent("inv-pat", "nonce-2")},
		},
		{
			name:  "resend of an expired invitation works",
			given: events(created(), invited("inv-pat", pat.Email, domain.RoleAgent, gone)),
			when:  resend(owner, "inv-pat", "nonce-2"),
			then:  []domain.Event{resent("inv-pat", "nonce-2")},
		},
		{
			name:  "resend of an accepted invitation is refused",
			given: events(created(), invited("inv-pat", pat.Email, domain.RoleAgent, later), acceptedBy(pat, "inv-pat"), joined(pat, domain.RoleAgent)),
			when:  resend(owner, "inv-pat", "nonce-2"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeInvitationNotPending, says: "accepted"},
		},
		{
			name:  "resend of a revoked invitation is refused",
			given: events(created(), invited("inv-pat", pat.Email, domain.RoleAgent, later), revoked),
			when:  resend(owner, "inv-pat", "nonce-2"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeInvitationNotPending, says: "revoked"},
		},
		{
			name:  "resend of a declined invitation is refused",
			given: events(created(), invited("inv-pat", pat.Email, domain.RoleAgent, later), declinedEvent("inv-pat")),
			when:  resend(owner, "inv-pat", "nonce-2"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeInvitationNotPending, says: "declined"},
		},
		{
			name:  "resend of an unknown invitation is refused",
			given: created(),
			when:  resend(owner, "inv-404", "nonce-2"),
			fails: failure{kind: domain.KindNotFound, code: domain.CodeInvitationNotFound},
		},
	})
}

// Invariant 7: once the resend is applied, the state holds only the new nonce
// (the command layer derives the token from it, so the old token no longer
// matches) and the new expiry, so the invitation can be accepted again.
func TestInvariant7_ResendReplacesTheNonceInState(t *testing.T) {
	p := given(created()...)
	p.Apply(invited("inv-pat", pat.Email, domain.RoleAgent, gone), t0)
	got, err := p.Resend(owner, tNow, ttl, "inv-pat", "nonce-2")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		p.Apply(e, tNow)
	}
	inv := p.Invitations["inv-pat"]
	if inv.TokenNonce != "nonce-2" {
		t.Errorf("nonce = %q, want nonce-2 (the old nonce-inv-pat must stop working)", inv.TokenNonce)
	}
	if !inv.ExpiresAt.Equal(tNow.Add(ttl)) || !inv.UpdatedAt.Equal(tNow) {
		t.Errorf("expires %v updated %v, want %v and %v", inv.ExpiresAt, inv.UpdatedAt, tNow.Add(ttl), tNow)
	}
	if s := inv.StatusAt(tNow.Add(time.Hour)); s != domain.InvitePending {
		t.Errorf("status after resend = %s, want pending", s)
	}
	if _, err := p.Accept(pat, tNow.Add(time.Hour), "inv-pat"); err != nil {
		t.Errorf("accept after resend: %v", err)
	}
}

// Invariant 7 with invariant 3: resending an expired invitation must not
// bring back a second pending invitation, or an invitation to a member.
func TestInvariant7_ResendKeepsOnePendingInvitationPerEmail(t *testing.T) {
	expiredThenReinvited := events(created(),
		invited("inv-old", pat.Email, domain.RoleAgent, gone),
		invited("inv-new", pat.Email, domain.RoleAdmin, later))
	run(t, []spec{
		{
			name:  "resend of an expired invitation is refused while a newer one to the same email is pending",
			given: expiredThenReinvited,
			when:  resend(owner, "inv-old", "nonce-2"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyInvited, says: "inv-new"},
		},
		{
			name: "resend of an expired invitation is refused once its email belongs to a member",
			given: events(expiredThenReinvited, acceptedBy(pat, "inv-new"),
				domain.MemberJoined{Schema: domain.SchemaV1, AccountID: pat.AccountID, Email: pat.Email,
					Role: domain.RoleAdmin, InvitationID: "inv-new"}),
			when:  resend(owner, "inv-old", "nonce-2"),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember},
		},
		{
			name:  "resend of the pending invitation itself is not blocked by the expired one",
			given: expiredThenReinvited,
			when:  resend(owner, "inv-new", "nonce-2"),
			then:  []domain.Event{resent("inv-new", "nonce-2")},
		},
	})
}
