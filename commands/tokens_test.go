package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/invitetoken"
)

// TestTokensNotMintedForTheInvitationAreRefused: a forged, foreign-keyed,
// superseded or malformed token never accepts; the handler answers
// CodeInvalidToken and stores nothing.
func TestTokensNotMintedForTheInvitationAreRefused(t *testing.T) {
	f := newFixture(t, nil)
	pid := f.create()
	mail := f.invite(pid, ada.Email, "agent")
	iid, good := mail.InvitationID, mail.Token
	mac := good[strings.LastIndexByte(good, '.')+1:]
	nonce := f.nonceOf(pid, iid)
	other := f.invite(pid, bob.Email, "agent").InvitationID
	tests := []struct {
		name     string
		token    string
		wellForm bool // Parse accepts it; only the MAC check refuses it
	}{
		{"forged MAC", pid + "." + iid + "." + strings.Repeat("A", len(mac)), true},
		{"MAC of another nonce", f.tokens.Mint(pid, iid, uuid.NewString()), true},
		{"minted under another key", invitetoken.New([]byte("another-key-of-thirty-two-bytes!!")).Mint(pid, iid, nonce), true},
		{"MAC moved to another invitation", pid + "." + other + "." + mac, true},
		{"truncated MAC", good[:len(good)-2], true},
		{"unknown invitation of the property", pid + "." + uuid.NewString() + "." + mac, true},
		{"unknown property", uuid.NewString() + "." + iid + "." + mac, true},
		{"empty", "", false},
		{"two parts", pid + "." + iid, false},
		{"four parts", good + ".x", false},
		{"empty MAC", pid + "." + iid + ".", false},
		{"property ID not a UUID", "acme." + iid + "." + mac, false},
		{"invitation ID not a UUID", pid + ".inv-1." + mac, false},
		{"dots only", "..", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotPID, gotIID, err := f.tokens.Parse(tt.token)
			switch {
			case !tt.wellForm:
				wantErr(t, err, domain.KindNotFound, domain.CodeInvalidToken)
			case err != nil:
				t.Fatalf("Parse: %v, want the form accepted", err)
			case f.tokens.Valid(tt.token, gotPID, gotIID, nonce):
				t.Errorf("Valid = true against the invitation's nonce")
			}
			before := f.feedLen()
			_, err = f.h.AcceptToken.Handle(context.Background(), as(ada), commands.AcceptToken{Token: tt.token})
			wantErr(t, err, domain.KindNotFound, domain.CodeInvalidToken)
			if got := f.feedLen(); got != before {
				t.Errorf("refused token stored %d events", got-before)
			}
		})
	}
}

// TestResendRetiresTheOldToken is invariant 7 in docs/ARCHITECTURE.md: the new mail's token
// accepts, the previous one no longer does.
func TestResendRetiresTheOldToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	first := f.invite(pid, ada.Email, "agent")
	if _, err := f.h.Resend.Handle(ctx, as(owner), commands.Resend{PropertyID: pid, InvitationID: first.InvitationID}); err != nil {
		t.Fatalf("resend: %v", err)
	}
	second := f.lastMailTo(ada.Email)
	if second.Token == first.Token || second.InvitationID != first.InvitationID {
		t.Fatalf("resent mail = {%s %s}, want a new token for invitation %s", second.InvitationID, second.Token, first.InvitationID)
	}
	_, err := f.h.AcceptToken.Handle(ctx, as(ada), commands.AcceptToken{Token: first.Token})
	wantErr(t, err, domain.KindNotFound, domain.CodeInvalidToken)
	if _, err := f.h.AcceptToken.Handle(ctx, as(ada), commands.AcceptToken{Token: second.Token}); err != nil {
		t.Fatalf("accept with the new token: %v", err)
	}
}

// TestAValidTokenAcceptsOnlyForItsVerifiedInviteeWhilePending: holding the
// link is not enough (invariants 5 and 6 in docs/ARCHITECTURE.md); each refusal stores nothing.
func TestAValidTokenAcceptsOnlyForItsVerifiedInviteeWhilePending(t *testing.T) {
	unverified := ada
	unverified.EmailVerified = false
	tests := []struct {
		name     string
		actor    domain.Actor
		before   func(f *fixture, pid, iid, token string)
		wantKind domain.Kind
		wantCode string
	}{
		{name: "someone else's invitation", actor: bob, wantKind: domain.KindForbidden, wantCode: domain.CodeNotInvitee},
		{name: "the invitee's email is unverified", actor: unverified, wantKind: domain.KindForbidden, wantCode: domain.CodeEmailUnverified},
		{name: "expired", actor: ada, wantKind: domain.KindConflict, wantCode: domain.CodeInvitationExpired,
			before: func(f *fixture, _, _, _ string) { f.clock.Advance(ttl) }},
		{name: "revoked", actor: ada, wantKind: domain.KindConflict, wantCode: domain.CodeInvitationRevoked,
			before: func(f *fixture, pid, iid, _ string) {
				if _, err := f.h.Revoke.Handle(context.Background(), as(owner), commands.Revoke{PropertyID: pid, InvitationIDs: []string{iid}}); err != nil {
					f.tb.Fatalf("revoke: %v", err)
				}
			}},
		{name: "already accepted", actor: ada, wantKind: domain.KindConflict, wantCode: domain.CodeInvitationAccepted,
			before: func(f *fixture, _, _, token string) {
				if _, err := f.h.AcceptToken.Handle(context.Background(), as(ada), commands.AcceptToken{Token: token}); err != nil {
					f.tb.Fatalf("first accept: %v", err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			pid := f.create()
			mail := f.invite(pid, ada.Email, "agent")
			if tt.before != nil {
				tt.before(f, pid, mail.InvitationID, mail.Token)
			}
			before := f.feedLen()
			_, err := f.h.AcceptToken.Handle(context.Background(), as(tt.actor), commands.AcceptToken{Token: mail.Token})
			wantErr(t, err, tt.wantKind, tt.wantCode)
			if got := f.feedLen(); got != before {
				t.Errorf("refused accept stored %d events", got-before)
			}
		})
	}
}

// nonceOf returns the invitation's current nonce as the stream holds it.
func (f *fixture) nonceOf(pid, iid string) string {
	f.tb.Helper()
	nonce := ""
	for _, rec := range f.stream(pid) {
		e, err := domain.DecodeEvent(rec.Type, rec.Data)
		if err != nil {
			f.tb.Fatalf("decode: %v", err)
		}
		switch e := e.(type) {
		case domain.MemberInvited:
			if e.InvitationID == iid {
				nonce = e.TokenNonce
			}
		case domain.InvitationResent:
			if e.InvitationID == iid {
				nonce = e.TokenNonce
			}
		}
	}
	if nonce == "" {
		f.tb.Fatalf("no nonce for invitation %s", iid)
	}
	return nonce
}
