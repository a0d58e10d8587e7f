package commands_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// TestLifecycleLoadsDecidesAndAppendsInOrder runs a property's whole story
// through the handlers, one command after the other: each command appends
// exactly its events after the ones before, and its result names where they
// landed. Replaying the stream then gives the state the story describes.
func TestLifecycleLoadsDecidesAndAppendsInOrder(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	var pid string
	inv := map[string]string{} // invitee email -> invitation ID, from the mails

	steps := []struct {
		name string
		run  func() (commands.Result, error)
		want []string
	}{
		{"owner creates the property", func() (commands.Result, error) {
			res, err := f.h.CreateProperty.Handle(ctx, as(owner), commands.CreateProperty{Name: "  Acme Support "})
			pid = res.PropertyID
			return res, err
		}, []string{domain.TypePropertyCreated, domain.TypeMemberJoined}},
		{"owner invites ada and bob in one command", func() (commands.Result, error) {
			return f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{
				{Email: "ada@example.com", Role: "admin"}, {Email: "Bob@Example.com", Role: "agent"}}})
		}, []string{domain.TypeMemberInvited, domain.TypeMemberInvited}},
		{"ada accepts with the emailed token", func() (commands.Result, error) {
			return f.h.AcceptToken.Handle(ctx, as(ada), commands.AcceptToken{Token: f.lastMailTo("ada@example.com").Token})
		}, []string{domain.TypeInvitationAccepted, domain.TypeMemberJoined}},
		{"bob accepts from the dashboard", func() (commands.Result, error) {
			return f.h.Answer.Handle(ctx, as(bob), commands.Answer{PropertyID: pid, InvitationID: inv[bob.Email], Accept: true})
		}, []string{domain.TypeInvitationAccepted, domain.TypeMemberJoined}},
		{"admin ada invites cy and dan", func() (commands.Result, error) {
			return f.h.Invite.Handle(ctx, as(ada), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{
				{Email: "cy@example.com", Role: "agent"}, {Email: "dan@example.com", Role: "agent"}}})
		}, []string{domain.TypeMemberInvited, domain.TypeMemberInvited}},
		{"cy declines", func() (commands.Result, error) {
			return f.h.Answer.Handle(ctx, as(cy), commands.Answer{PropertyID: pid, InvitationID: inv[cy.Email]})
		}, []string{domain.TypeInvitationDeclined}},
		{"owner revokes dan's invitation", func() (commands.Result, error) {
			return f.h.Revoke.Handle(ctx, as(owner), commands.Revoke{PropertyID: pid, InvitationIDs: []string{inv[dan.Email]}})
		}, []string{domain.TypeInvitationRevoked}},
		{"ada makes bob an admin", func() (commands.Result, error) {
			return f.h.ChangeRole.Handle(ctx, as(ada), commands.ChangeRole{PropertyID: pid, AccountID: bob.AccountID, Role: "Admin"})
		}, []string{domain.TypeMemberRoleChanged}},
		{"owner disables bob", func() (commands.Result, error) {
			return f.h.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: pid, AccountID: bob.AccountID})
		}, []string{domain.TypeMemberAccessDisabled}},
		{"owner enables bob again", func() (commands.Result, error) {
			return f.h.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: pid, AccountID: bob.AccountID, Enabled: true})
		}, []string{domain.TypeMemberAccessEnabled}},
		{"ada removes bob", func() (commands.Result, error) {
			return f.h.Remove.Handle(ctx, as(ada), commands.Remove{PropertyID: pid, AccountID: bob.AccountID})
		}, []string{domain.TypeMemberRemoved}},
		{"owner transfers ownership to ada", func() (commands.Result, error) {
			return f.h.TransferOwnership.Handle(ctx, as(owner), commands.TransferOwnership{PropertyID: pid, AccountID: ada.AccountID})
		}, []string{domain.TypeOwnershipTransferred}},
		{"the former owner leaves", func() (commands.Result, error) {
			return f.h.Remove.Handle(ctx, as(owner), commands.Remove{PropertyID: pid, Leave: true})
		}, []string{domain.TypeMemberLeft}},
	}

	var wantStream []string
	for _, s := range steps {
		res, err := s.run()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for _, m := range f.mails() {
			inv[m.Email] = m.InvitationID
		}
		var got []string
		for _, e := range res.Events {
			got = append(got, e.EventType())
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Fatalf("%s: result events (-want +got):\n%s", s.name, diff)
		}
		wantStream = append(wantStream, s.want...)
		stored := f.stream(pid)
		last := stored[len(stored)-1]
		if res.PropertyID != pid || res.Repeated || res.Revision != last.Revision || res.Position != last.Position {
			t.Fatalf("%s: result = {%s rev %d pos %s repeated %v}, want {%s rev %d pos %s}", s.name,
				res.PropertyID, res.Revision, res.Position, res.Repeated, pid, last.Revision, last.Position)
		}
	}
	if diff := cmp.Diff(wantStream, f.types(pid)); diff != "" {
		t.Fatalf("stored stream types (-want +got):\n%s", diff)
	}

	p := domain.NewProperty(pid)
	for _, rec := range f.stream(pid) {
		e, err := domain.DecodeEvent(rec.Type, rec.Data)
		if err != nil {
			t.Fatalf("decode %s: %v", rec.Type, err)
		}
		p.Apply(e, metadataOf(t, rec).OccurredAt)
	}
	type member struct {
		Role   domain.Role
		Status domain.MemberStatus
	}
	members := map[string]member{}
	for id, m := range p.Members {
		members[id] = member{m.Role, m.Status}
	}
	if diff := cmp.Diff(map[string]member{ada.AccountID: {domain.RoleAdmin, domain.StatusEnabled}}, members); diff != "" {
		t.Errorf("members after replay (-want +got):\n%s", diff)
	}
	statuses := map[string]domain.InvitationStatus{}
	for _, i := range p.InvitationsInOrder() {
		statuses[i.Email] = i.Status
	}
	wantStatuses := map[string]domain.InvitationStatus{"ada@example.com": domain.InviteAccepted,
		"bob@example.com": domain.InviteAccepted, "cy@example.com": domain.InviteDeclined, "dan@example.com": domain.InviteRevoked}
	if diff := cmp.Diff(wantStatuses, statuses); diff != "" {
		t.Errorf("invitations after replay (-want +got):\n%s", diff)
	}
	if p.Name != "Acme Support" || p.OwnerID != ada.AccountID {
		t.Errorf("property = {name %q owner %s}, want {\"Acme Support\" %s}", p.Name, p.OwnerID, ada.AccountID)
	}
}

// TestNoOpCommandAppendsNothingAndReportsTheCurrentRevision: disabling a
// disabled member is harmless; the result points at the stream as it is.
func TestNoOpCommandAppendsNothingAndReportsTheCurrentRevision(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	f.join(pid, bob, "agent")
	off := commands.SetAccess{PropertyID: pid, AccountID: bob.AccountID}
	if _, err := f.h.SetAccess.Handle(ctx, as(owner), off); err != nil {
		t.Fatalf("disable: %v", err)
	}
	before := f.stream(pid)
	res, err := f.h.SetAccess.Handle(ctx, as(owner), off)
	if err != nil {
		t.Fatalf("disable again: %v", err)
	}
	last := before[len(before)-1]
	want := commands.Result{PropertyID: pid, Revision: last.Revision, Position: last.Position}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if got := len(f.stream(pid)); got != len(before) {
		t.Errorf("stream has %d events, want %d", got, len(before))
	}
}
