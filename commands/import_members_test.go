package commands_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

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
