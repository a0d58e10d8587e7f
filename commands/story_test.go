package commands_test

import (
	"context"
	"encoding/json"
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

// An import appends one MemberJoined per row, with the owner as its actor
// and no invitation, sends no mail, and makes members who act at once.
func TestImportMembersMakesMembersWithoutInvitations(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	mails := len(f.mails())
	res, err := f.h.ImportMembers.Handle(ctx, as(owner), commands.ImportMembers{PropertyID: pid, Rows: []commands.ImportRow{
		{AccountID: ada.AccountID, Email: "Ada@Example.com", Role: "admin"}, {AccountID: cy.AccountID, Email: cy.Email, Role: "agent"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Event{
		domain.MemberJoined{Schema: domain.SchemaV1, AccountID: ada.AccountID, Email: ada.Email, Role: domain.RoleAdmin},
		domain.MemberJoined{Schema: domain.SchemaV1, AccountID: cy.AccountID, Email: cy.Email, Role: domain.RoleAgent},
	}
	if diff := cmp.Diff(want, res.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if got := f.types(pid); len(got) != 4 || got[2] != domain.TypeMemberJoined || got[3] != domain.TypeMemberJoined {
		t.Errorf("stream types %v, want the creation then two MemberJoined", got)
	}
	for _, rec := range f.stream(pid)[2:] {
		var meta domain.Metadata
		if err := json.Unmarshal(rec.Metadata, &meta); err != nil || meta.ActorID != owner.AccountID {
			t.Errorf("metadata %s (%v), want the owner as the actor", rec.Metadata, err)
		}
	}
	if got := len(f.mails()); got != mails {
		t.Errorf("the import sent %d mails, want none", got-mails)
	}
	// The imported admin invites at once, from any instance.
	if _, err := f.instance().Invite.Handle(ctx, as(ada), commands.Invite{PropertyID: pid,
		Rows: []commands.InviteRow{{Email: dan.Email, Role: "agent"}}}); err != nil {
		t.Errorf("the imported admin invites: %v", err)
	}
	// The imported agent may not import, nor may the imported admin.
	for _, a := range []domain.Actor{cy, ada} {
		_, err := f.h.ImportMembers.Handle(ctx, as(a), commands.ImportMembers{PropertyID: pid,
			Rows: []commands.ImportRow{{AccountID: "acc-z", Email: "z@example.com", Role: "agent"}}})
		wantErr(t, err, domain.KindForbidden, map[string]string{cy.AccountID: domain.CodeForbidden, ada.AccountID: domain.CodeImportNotOwner}[a.AccountID])
	}
}
