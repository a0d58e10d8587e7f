package commands_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// role has owner define a custom role and returns its ID.
func (f *fixture) role(pid, name string, perms ...string) string {
	f.tb.Helper()
	res, err := f.h.CreateRole.Handle(context.Background(), as(owner), commands.CreateRole{PropertyID: pid, Name: name, Permissions: perms})
	if err != nil {
		f.tb.Fatalf("create role %s: %v", name, err)
	}
	return string(res.RoleID)
}

// A custom role through the handlers: created with a fresh ID, given to an
// invitee by name, renamed without its holder noticing, kept while held,
// deleted once nobody holds it.
func TestCustomRoleStory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	id := f.role(pid, "Lead", "respond_to_chats", "manage_invitations")
	if !domain.IsCustomRole(domain.Role(id)) {
		t.Fatalf("role id %q is not a custom role id", id)
	}
	f.join(pid, ada, "lead")
	if _, err := f.h.Invite.Handle(ctx, as(ada), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: cy.Email, Role: "agent"}}}); err != nil {
		t.Fatalf("a lead with manage_invitations invites: %v", err)
	}
	name := "Team lead"
	if _, err := f.h.EditRole.Handle(ctx, as(owner), commands.EditRole{PropertyID: pid, RoleID: id, Name: &name}); err != nil {
		t.Fatal(err)
	}
	perms := []string{"respond_to_chats"}
	if _, err := f.h.EditRole.Handle(ctx, as(owner), commands.EditRole{PropertyID: pid, RoleID: id, Permissions: &perms}); err != nil {
		t.Fatal(err)
	}
	_, err := f.h.Invite.Handle(ctx, as(ada), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: dan.Email, Role: "agent"}}})
	wantErr(t, err, domain.KindForbidden, domain.CodeForbidden)
	_, err = f.h.DeleteRole.Handle(ctx, as(owner), commands.DeleteRole{PropertyID: pid, RoleID: id})
	wantErr(t, err, domain.KindConflict, domain.CodeRoleInUse)
	if _, err := f.h.ChangeRole.Handle(ctx, as(owner), commands.ChangeRole{PropertyID: pid, AccountID: ada.AccountID, Role: "agent"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.h.DeleteRole.Handle(ctx, as(owner), commands.DeleteRole{PropertyID: pid, RoleID: id}); err != nil {
		t.Fatalf("delete a role nobody holds: %v", err)
	}
	want := []string{domain.TypePropertyCreated, domain.TypeMemberJoined, domain.TypeRoleCreated,
		domain.TypeMemberInvited, domain.TypeInvitationAccepted, domain.TypeMemberJoined, domain.TypeMemberInvited,
		domain.TypeRoleRenamed, domain.TypeRolePermissionsChanged, domain.TypeMemberRoleChanged, domain.TypeRoleDeleted}
	if diff := cmp.Diff(want, f.types(pid)); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
}
