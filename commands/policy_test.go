package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// The property's invitation policy, end to end through the handlers: the
// default applies when an inviter chooses no lifetime, a chosen lifetime is
// kept within the maximum, and a resend renews what was chosen.
func TestInvitationPolicyGovernsInvitesAndResends(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	expiry := func(res commands.Result) time.Time {
		t.Helper()
		for _, e := range res.Events {
			switch e := e.(type) {
			case domain.MemberInvited:
				return e.ExpiresAt
			case domain.InvitationResent:
				return e.ExpiresAt
			}
		}
		t.Fatalf("no invitation among %v", res.Events)
		return time.Time{}
	}
	invite := func(email string, l domain.Lifetime) commands.Result {
		t.Helper()
		res, err := f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: pid,
			Rows: []commands.InviteRow{{Email: email, Role: "agent", Lifetime: l}}})
		if err != nil {
			t.Fatalf("invite %s: %v", email, err)
		}
		return res
	}
	if got := expiry(invite(ada.Email, 0)); !got.Equal(t0.Add(ttl)) {
		t.Errorf("without a policy an invitation expires at %v, want the service's %v", got, t0.Add(ttl))
	}
	if _, err := f.h.InvitationPolicy.Handle(ctx, as(owner), commands.SetInvitationPolicy{PropertyID: pid,
		Policy: domain.InvitationPolicy{Default: domain.LifetimeOf(24 * time.Hour), Maximum: domain.LifetimeOf(5 * 24 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if got := expiry(invite(bob.Email, 0)); !got.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("a defaulted invitation expires at %v, want the property's default %v", got, t0.Add(24*time.Hour))
	}
	chosen := invite(cy.Email, domain.LifetimeOf(3*time.Hour))
	if got := expiry(chosen); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("a chosen lifetime expires at %v, want %v", got, t0.Add(3*time.Hour))
	}
	stored := f.feedLen()
	_, err := f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: pid,
		Rows: []commands.InviteRow{{Email: dan.Email, Role: "agent", Lifetime: domain.LifetimeOf(6 * 24 * time.Hour)}}})
	wantErr(t, err, domain.KindInvalid, domain.CodeLifetimeAboveMaximum)
	if got := f.feedLen(); got != stored {
		t.Errorf("a lifetime above the maximum stored %d events", got-stored)
	}
	f.clock.Advance(time.Hour)
	res, err := f.h.Resend.Handle(ctx, as(owner), commands.Resend{PropertyID: pid, InvitationID: invitationIDs(chosen)[0]})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := expiry(res), t0.Add(4*time.Hour); !got.Equal(want) {
		t.Errorf("a resend renews a chosen lifetime to %v, want %v", got, want)
	}
}
