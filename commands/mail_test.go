package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// TestInvitationMailCarriesWhatTheInviteeNeeds: each invitee gets one mail
// naming the property, the inviter, the role and the expiry, with a link
// token the server accepts for exactly that invitation.
func TestInvitationMailCarriesWhatTheInviteeNeeds(t *testing.T) {
	f := newFixture(t, nil)
	pid := f.create()
	f.join(pid, ada, "admin")
	f.clock.Advance(time.Hour)
	sentBefore := len(f.mail.sent())
	res, err := f.h.Invite.Handle(context.Background(), as(ada), commands.Invite{PropertyID: pid,
		Rows: []commands.InviteRow{{Email: " Cy@Example.COM ", Role: "Agent"}, {Email: dan.Email, Role: "admin"}}})
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	ids := invitationIDs(res)
	expires := t0.Add(time.Hour + ttl)
	want := []commands.InvitationMail{
		{PropertyID: pid, PropertyName: "Acme Support", InvitationID: ids[0], Email: cy.Email, Role: domain.RoleAgent,
			InvitedBy: ada.Email, ExpiresAt: expires},
		{PropertyID: pid, PropertyName: "Acme Support", InvitationID: ids[1], Email: dan.Email, Role: domain.RoleAdmin,
			InvitedBy: ada.Email, ExpiresAt: expires},
	}
	got := f.mail.sent()[sentBefore:]
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(commands.InvitationMail{}, "Token")); diff != "" {
		t.Fatalf("mails (-want +got):\n%s", diff)
	}
	for _, m := range got {
		tokenPID, tokenIID, err := f.tokens.Parse(m.Token)
		if err != nil || tokenPID != pid || tokenIID != m.InvitationID {
			t.Errorf("token to %s parses as %s, %s, %v; want %s, %s", m.Email, tokenPID, tokenIID, err, pid, m.InvitationID)
		}
		if !f.tokens.Valid(m.Token, pid, m.InvitationID, f.nonceOf(pid, m.InvitationID)) {
			t.Errorf("token to %s is not valid for the stored nonce", m.Email)
		}
		for _, rec := range f.stream(pid) {
			if strings.Contains(string(rec.Data)+string(rec.Metadata), m.Token) {
				t.Errorf("the token to %s is stored in event %d (%s)", m.Email, rec.Revision, rec.Type)
			}
		}
	}
}

// TestResendMailsTheNewLinkAndExpiry: the resent mail carries the new expiry
// and a token valid for the new nonce.
func TestResendMailsTheNewLinkAndExpiry(t *testing.T) {
	f := newFixture(t, nil)
	pid := f.create()
	first := f.invite(pid, ada.Email, "admin")
	f.clock.Advance(24 * time.Hour)
	if _, err := f.h.Resend.Handle(context.Background(), as(owner), commands.Resend{PropertyID: pid, InvitationID: first.InvitationID}); err != nil {
		t.Fatalf("resend: %v", err)
	}
	got := f.lastMailTo(ada.Email)
	want := first
	want.ExpiresAt = t0.Add(24*time.Hour + ttl)
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(commands.InvitationMail{}, "Token")); diff != "" {
		t.Errorf("resent mail (-want +got):\n%s", diff)
	}
	if !f.tokens.Valid(got.Token, pid, first.InvitationID, f.nonceOf(pid, first.InvitationID)) {
		t.Errorf("resent token is not valid for the new nonce")
	}
	if n := len(f.mail.sent()); n != 2 {
		t.Errorf("%d mails sent, want 2 (invite and resend)", n)
	}
}

// TestAFailingMailerDoesNotFailTheCommand: the invitation is stored and the
// admin can resend; the failure is logged with what is needed to do so.
func TestAFailingMailerDoesNotFailTheCommand(t *testing.T) {
	tests := []struct {
		name string
		run  func(f *fixture, pid string) (commands.Result, error)
	}{
		{"invite", func(f *fixture, pid string) (commands.Result, error) {
			return f.h.Invite.Handle(context.Background(), as(owner), commands.Invite{PropertyID: pid,
				Rows: []commands.InviteRow{{Email: cy.Email, Role: "agent"}}})
		}},
		{"resend", func(f *fixture, pid string) (commands.Result, error) {
			return f.h.Resend.Handle(context.Background(), as(owner), commands.Resend{PropertyID: pid,
				InvitationID: f.lastMailTo(ada.Email).InvitationID})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			pid := f.create()
			f.invite(pid, ada.Email, "agent")
			f.mail.err = errors.New("smtp: connection refused")
			before := len(f.stream(pid))
			res, err := tt.run(f, pid)
			if err != nil {
				t.Fatalf("%s with a failing mailer: %v", tt.name, err)
			}
			if got := len(f.stream(pid)); got != before+1 || len(res.Events) != 1 {
				t.Errorf("stream grew by %d with %d result events, want 1", got-before, len(res.Events))
			}
			iid := f.mail.sent()[len(f.mail.sent())-1].InvitationID
			log := f.log.String()
			for _, want := range []string{`"level":"error"`, "smtp: connection refused", iid, pid} {
				if !strings.Contains(log, want) {
					t.Errorf("log %q does not contain %q", log, want)
				}
			}
		})
	}
}

// TestOnlyInviteAndResendSendMail: answering, revoking and managing members
// mail nobody, and handlers without a Mailer send nothing and do not fail.
func TestOnlyInviteAndResendSendMail(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	f.join(pid, ada, "admin")
	cyInv := f.invite(pid, cy.Email, "agent").InvitationID
	sent := len(f.mail.sent())
	steps := []error{
		ignore(f.h.Revoke.Handle(ctx, as(owner), commands.Revoke{PropertyID: pid, InvitationIDs: []string{cyInv}})),
		ignore(f.h.ChangeRole.Handle(ctx, as(owner), commands.ChangeRole{PropertyID: pid, AccountID: ada.AccountID, Role: "agent"})),
		ignore(f.h.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: pid, AccountID: ada.AccountID})),
		ignore(f.h.Remove.Handle(ctx, as(owner), commands.Remove{PropertyID: pid, AccountID: ada.AccountID})),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if got := len(f.mail.sent()); got != sent {
		t.Errorf("%d mails sent by commands that are not invite or resend", got-sent)
	}

	silent := commands.New(commands.Config{Store: f.mem, Tokens: f.tokens, Now: f.clock.Now})
	res, err := silent.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: dan.Email, Role: "agent"}}})
	if err != nil || len(res.Events) != 1 {
		t.Fatalf("invite without a mailer = %d events, %v", len(res.Events), err)
	}
	if inv := res.Events[0].(domain.MemberInvited); !inv.ExpiresAt.Equal(f.clock.Now().Add(domain.DefaultInviteTTL)) {
		t.Errorf("expiry without a configured TTL = %v, want the default %v later", inv.ExpiresAt, domain.DefaultInviteTTL)
	}
}
