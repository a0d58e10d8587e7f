package commands_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// TestBadInputOnAnyWritePathStoresNothing: every refusal names its kind and
// code, and leaves the store exactly as it was (and sends no mail). The
// property has the owner, bob as an agent, and a pending invitation to ada.
func TestBadInputOnAnyWritePathStoresNothing(t *testing.T) {
	ctx := context.Background()
	unknown := uuid.NewString()
	tooMany := make([]commands.InviteRow, domain.MaxInvitesPerRequest+1)
	for i := range tooMany {
		tooMany[i] = commands.InviteRow{Email: fmt.Sprintf("u%d@example.com", i), Role: "agent"}
	}
	tooManyImports := make([]commands.ImportRow, domain.MaxImportRows+1)
	for i := range tooManyImports {
		tooManyImports[i] = commands.ImportRow{AccountID: fmt.Sprintf("acc-%d", i), Email: fmt.Sprintf("u%d@example.com", i), Role: "agent"}
	}
	type env struct {
		f        *fixture
		pid, iid string
	}
	tests := []struct {
		name     string
		run      func(e env) error
		wantKind domain.Kind
		wantCode string
		problems []domain.Problem
	}{
		{"invite to a property ID that is not a UUID", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: "acme", Rows: []commands.InviteRow{{Email: cy.Email, Role: "agent"}}}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"invite to an unknown property", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: unknown, Rows: []commands.InviteRow{{Email: cy.Email, Role: "agent"}}}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"invite with a bad email and a bad role reports both rows", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: e.pid, Rows: []commands.InviteRow{
				{Email: "not-an-email", Role: "agent"}, {Email: cy.Email, Role: "owner"}, {Email: dan.Email, Role: "admin"}}}))
		}, domain.KindInvalid, domain.CodeInvalidInvitations, []domain.Problem{
			{Index: 0, Field: "email", Value: "not-an-email", Code: domain.CodeInvalidEmail},
			{Index: 1, Field: "role", Value: "owner", Code: domain.CodeInvalidRole}}},
		{"invite is all or nothing when one row is already invited", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: e.pid, Rows: []commands.InviteRow{
				{Email: cy.Email, Role: "agent"}, {Email: "ADA@example.com", Role: "agent"}}}))
		}, domain.KindConflict, domain.CodeAlreadyInvited, []domain.Problem{
			{Index: 1, Field: "email", Value: "ADA@example.com", Code: domain.CodeAlreadyInvited}}},
		{"invite with no rows", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: e.pid}))
		}, domain.KindInvalid, domain.CodeNoInvitations, nil},
		{"invite with too many rows", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: e.pid, Rows: tooMany}))
		}, domain.KindInvalid, domain.CodeTooManyInvitations, nil},
		{"invite by an agent", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(bob), commands.Invite{PropertyID: e.pid, Rows: []commands.InviteRow{{Email: cy.Email, Role: "agent"}}}))
		}, domain.KindForbidden, domain.CodeForbidden, nil},
		{"import with a bad account, email and role reports every row", func(e env) error {
			return ignore(e.f.h.ImportMembers.Handle(ctx, as(owner), commands.ImportMembers{PropertyID: e.pid, Rows: []commands.ImportRow{
				{AccountID: "", Email: cy.Email, Role: "agent"}, {AccountID: dan.AccountID, Email: "nope", Role: "boss"}}}))
		}, domain.KindInvalid, domain.CodeInvalidImport, []domain.Problem{
			{Index: 0, Field: "account_id", Value: "", Code: domain.CodeInvalidAccountID},
			{Index: 1, Field: "email", Value: "nope", Code: domain.CodeInvalidEmail},
			{Index: 1, Field: "role", Value: "boss", Code: domain.CodeInvalidRole}}},
		{"import is all or nothing when one row is a member already", func(e env) error {
			return ignore(e.f.h.ImportMembers.Handle(ctx, as(owner), commands.ImportMembers{PropertyID: e.pid, Rows: []commands.ImportRow{
				{AccountID: cy.AccountID, Email: cy.Email, Role: "agent"}, {AccountID: bob.AccountID, Email: bob.Email, Role: "agent"}}}))
		}, domain.KindConflict, domain.CodeAlreadyMember, []domain.Problem{
			{Index: 1, Field: "account_id", Value: bob.AccountID, Code: domain.CodeAlreadyMember}}},
		{"import of a pending invitee", func(e env) error {
			return ignore(e.f.h.ImportMembers.Handle(ctx, as(owner), commands.ImportMembers{PropertyID: e.pid, Rows: []commands.ImportRow{
				{AccountID: ada.AccountID, Email: ada.Email, Role: "agent"}}}))
		}, domain.KindConflict, domain.CodeAlreadyInvited, []domain.Problem{
			{Index: 0, Field: "email", Value: ada.Email, Code: domain.CodeAlreadyInvited}}},
		{"import with no rows", func(e env) error {
			return ignore(e.f.h.ImportMembers.Handle(ctx, as(owner), commands.ImportMembers{PropertyID: e.pid}))
		}, domain.KindInvalid, domain.CodeNoImportRows, nil},
		{"import with too many rows", func(e env) error {
			return ignore(e.f.h.ImportMembers.Handle(ctx, as(owner), commands.ImportMembers{PropertyID: e.pid, Rows: tooManyImports}))
		}, domain.KindInvalid, domain.CodeTooManyImportRows, nil},
		{"import by an agent", func(e env) error {
			return ignore(e.f.h.ImportMembers.Handle(ctx, as(bob), commands.ImportMembers{PropertyID: e.pid, Rows: []commands.ImportRow{{AccountID: cy.AccountID, Email: cy.Email, Role: "agent"}}}))
		}, domain.KindForbidden, domain.CodeForbidden, nil},
		{"import by an outsider, who is told the property does not exist", func(e env) error {
			return ignore(e.f.h.ImportMembers.Handle(ctx, as(outsider), commands.ImportMembers{PropertyID: e.pid, Rows: []commands.ImportRow{{AccountID: cy.AccountID, Email: cy.Email, Role: "agent"}}}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"import into an unknown property", func(e env) error {
			return ignore(e.f.h.ImportMembers.Handle(ctx, as(owner), commands.ImportMembers{PropertyID: unknown, Rows: []commands.ImportRow{{AccountID: cy.AccountID, Email: cy.Email, Role: "agent"}}}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"resend an unknown invitation", func(e env) error {
			return ignore(e.f.h.Resend.Handle(ctx, as(owner), commands.Resend{PropertyID: e.pid, InvitationID: unknown}))
		}, domain.KindNotFound, domain.CodeInvitationNotFound, nil},
		{"resend on a property ID that is not a UUID", func(e env) error {
			return ignore(e.f.h.Resend.Handle(ctx, as(owner), commands.Resend{PropertyID: "", InvitationID: e.iid}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"revoke an unknown invitation", func(e env) error {
			return ignore(e.f.h.Revoke.Handle(ctx, as(owner), commands.Revoke{PropertyID: e.pid, InvitationIDs: []string{unknown}}))
		}, domain.KindNotFound, domain.CodeInvitationNotFound, nil},
		{"revoke a pending and an unknown invitation revokes neither", func(e env) error {
			return ignore(e.f.h.Revoke.Handle(ctx, as(owner), commands.Revoke{PropertyID: e.pid, InvitationIDs: []string{e.iid, unknown}}))
		}, domain.KindNotFound, domain.CodeInvitationNotFound, nil},
		{"revoke nothing", func(e env) error {
			return ignore(e.f.h.Revoke.Handle(ctx, as(owner), commands.Revoke{PropertyID: e.pid}))
		}, domain.KindInvalid, domain.CodeNoInvitations, nil},
		{"answer an unknown invitation as an outsider, who is told the property does not exist", func(e env) error {
			return ignore(e.f.h.Answer.Handle(ctx, as(ada), commands.Answer{PropertyID: e.pid, InvitationID: unknown, Accept: true}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"answer an unknown invitation as a member", func(e env) error {
			return ignore(e.f.h.Answer.Handle(ctx, as(bob), commands.Answer{PropertyID: e.pid, InvitationID: unknown, Accept: true}))
		}, domain.KindNotFound, domain.CodeInvitationNotFound, nil},
		{"answer on an unknown property", func(e env) error {
			return ignore(e.f.h.Answer.Handle(ctx, as(ada), commands.Answer{PropertyID: unknown, InvitationID: e.iid}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"change to a role that does not exist", func(e env) error {
			return ignore(e.f.h.ChangeRole.Handle(ctx, as(owner), commands.ChangeRole{PropertyID: e.pid, AccountID: bob.AccountID, Role: "owner"}))
		}, domain.KindInvalid, domain.CodeInvalidRole, nil},
		{"change the role of a non-member", func(e env) error {
			return ignore(e.f.h.ChangeRole.Handle(ctx, as(owner), commands.ChangeRole{PropertyID: e.pid, AccountID: cy.AccountID, Role: "admin"}))
		}, domain.KindNotFound, domain.CodeMemberNotFound, nil},
		{"disable a non-member", func(e env) error {
			return ignore(e.f.h.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: e.pid, AccountID: cy.AccountID}))
		}, domain.KindNotFound, domain.CodeMemberNotFound, nil},
		{"enable on a property ID that is not a UUID", func(e env) error {
			return ignore(e.f.h.SetAccess.Handle(ctx, as(owner), commands.SetAccess{PropertyID: "../x", AccountID: bob.AccountID, Enabled: true}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"remove the last admin", func(e env) error {
			return ignore(e.f.h.Remove.Handle(ctx, as(owner), commands.Remove{PropertyID: e.pid, AccountID: owner.AccountID}))
		}, domain.KindConflict, domain.CodeLastAdmin, nil},
		{"remove by an agent", func(e env) error {
			return ignore(e.f.h.Remove.Handle(ctx, as(bob), commands.Remove{PropertyID: e.pid, AccountID: bob.AccountID}))
		}, domain.KindForbidden, domain.CodeForbidden, nil},
		{"leave by an outsider, who is told the property does not exist", func(e env) error {
			return ignore(e.f.h.Remove.Handle(ctx, as(outsider), commands.Remove{PropertyID: e.pid, Leave: true}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"invite by an outsider, who is told the property does not exist", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(outsider), commands.Invite{PropertyID: e.pid, Rows: []commands.InviteRow{{Email: cy.Email, Role: "agent"}}}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"leave by the owner", func(e env) error {
			return ignore(e.f.h.Remove.Handle(ctx, as(owner), commands.Remove{PropertyID: e.pid, Leave: true}))
		}, domain.KindConflict, domain.CodeOwnerCannotLeave, nil},
		{"transfer ownership to an agent", func(e env) error {
			return ignore(e.f.h.TransferOwnership.Handle(ctx, as(owner), commands.TransferOwnership{PropertyID: e.pid, AccountID: bob.AccountID}))
		}, domain.KindConflict, domain.CodeNewOwnerNotAdmin, nil},
		{"transfer ownership of an unknown property", func(e env) error {
			return ignore(e.f.h.TransferOwnership.Handle(ctx, as(owner), commands.TransferOwnership{PropertyID: unknown, AccountID: bob.AccountID}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"invite with lifetimes out of bounds reports every row", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: e.pid, Rows: []commands.InviteRow{
				{Email: cy.Email, Role: "agent", Lifetime: domain.LifetimeOf(time.Minute)},
				{Email: dan.Email, Role: "agent", Lifetime: domain.MaxLifetime + 1}}}))
		}, domain.KindInvalid, domain.CodeInvalidInvitations, []domain.Problem{
			{Index: 0, Field: "lifetime", Value: "60", Code: domain.CodeInvalidLifetime},
			{Index: 1, Field: "lifetime", Value: "2592001", Code: domain.CodeInvalidLifetime}}},
		{"set an invitation policy whose default is above its maximum", func(e env) error {
			return ignore(e.f.h.InvitationPolicy.Handle(ctx, as(owner), commands.SetInvitationPolicy{PropertyID: e.pid,
				Policy: domain.InvitationPolicy{Default: domain.LifetimeOf(48 * time.Hour), Maximum: domain.LifetimeOf(24 * time.Hour)}}))
		}, domain.KindInvalid, domain.CodeDefaultAboveMaximum, []domain.Problem{
			{Index: -1, Field: "default_lifetime", Value: "172800", Code: domain.CodeDefaultAboveMaximum}}},
		{"set an invitation policy with both lifetimes out of bounds", func(e env) error {
			return ignore(e.f.h.InvitationPolicy.Handle(ctx, as(owner), commands.SetInvitationPolicy{PropertyID: e.pid,
				Policy: domain.InvitationPolicy{Maximum: domain.MaxLifetime * 2}}))
		}, domain.KindInvalid, domain.CodeInvalidPolicy, []domain.Problem{
			{Index: -1, Field: "default_lifetime", Value: "0", Code: domain.CodeInvalidLifetime},
			{Index: -1, Field: "maximum_lifetime", Value: "5184000", Code: domain.CodeInvalidLifetime}}},
		{"set an invitation policy as an agent", func(e env) error {
			return ignore(e.f.h.InvitationPolicy.Handle(ctx, as(bob), commands.SetInvitationPolicy{PropertyID: e.pid,
				Policy: domain.InvitationPolicy{Default: domain.LifetimeOf(time.Hour), Maximum: domain.LifetimeOf(time.Hour)}}))
		}, domain.KindForbidden, domain.CodeForbidden, nil},
		{"set the invitation policy of an unknown property", func(e env) error {
			return ignore(e.f.h.InvitationPolicy.Handle(ctx, as(owner), commands.SetInvitationPolicy{PropertyID: unknown,
				Policy: domain.InvitationPolicy{Default: domain.LifetimeOf(time.Hour), Maximum: domain.LifetimeOf(time.Hour)}}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"create a role with an unknown permission", func(e env) error {
			return ignoreRole(e.f.h.CreateRole.Handle(ctx, as(owner), commands.CreateRole{PropertyID: e.pid, Name: "Lead",
				Permissions: []string{"respond_to_chats", "fly"}}))
		}, domain.KindInvalid, domain.CodeInvalidPermission, nil},
		{"create a role called admin", func(e env) error {
			return ignoreRole(e.f.h.CreateRole.Handle(ctx, as(owner), commands.CreateRole{PropertyID: e.pid, Name: "ADMIN",
				Permissions: []string{"respond_to_chats"}}))
		}, domain.KindInvalid, domain.CodeInvalidRoleName, nil},
		{"create a role as an agent", func(e env) error {
			return ignoreRole(e.f.h.CreateRole.Handle(ctx, as(bob), commands.CreateRole{PropertyID: e.pid, Name: "Lead",
				Permissions: []string{"respond_to_chats"}}))
		}, domain.KindForbidden, domain.CodeForbidden, nil},
		{"create a role in an unknown property", func(e env) error {
			return ignoreRole(e.f.h.CreateRole.Handle(ctx, as(owner), commands.CreateRole{PropertyID: unknown, Name: "Lead",
				Permissions: []string{"respond_to_chats"}}))
		}, domain.KindNotFound, domain.CodePropertyNotFound, nil},
		{"edit a built-in role", func(e env) error {
			name := "Boss"
			return ignore(e.f.h.EditRole.Handle(ctx, as(owner), commands.EditRole{PropertyID: e.pid, RoleID: "admin", Name: &name}))
		}, domain.KindConflict, domain.CodeBuiltinRole, nil},
		{"edit an unknown role", func(e env) error {
			name := "Boss"
			return ignore(e.f.h.EditRole.Handle(ctx, as(owner), commands.EditRole{PropertyID: e.pid, RoleID: "role-nope", Name: &name}))
		}, domain.KindNotFound, domain.CodeRoleNotFound, nil},
		{"edit a role with nothing to change", func(e env) error {
			return ignore(e.f.h.EditRole.Handle(ctx, as(owner), commands.EditRole{PropertyID: e.pid, RoleID: "role-nope"}))
		}, domain.KindInvalid, domain.CodeInvalidRequest, nil},
		{"delete the agent role", func(e env) error {
			return ignore(e.f.h.DeleteRole.Handle(ctx, as(owner), commands.DeleteRole{PropertyID: e.pid, RoleID: "agent"}))
		}, domain.KindConflict, domain.CodeBuiltinRole, nil},
		{"invite with a role the property does not have", func(e env) error {
			return ignore(e.f.h.Invite.Handle(ctx, as(owner), commands.Invite{PropertyID: e.pid, Rows: []commands.InviteRow{{Email: cy.Email, Role: "role-nope"}}}))
		}, domain.KindInvalid, domain.CodeInvalidRole, []domain.Problem{{Field: "role", Value: "role-nope", Code: domain.CodeInvalidRole}}},
		{"create a property with a blank name", func(e env) error {
			return ignore(e.f.h.CreateProperty.Handle(ctx, as(owner), commands.CreateProperty{Name: " \t "}))
		}, domain.KindInvalid, domain.CodeInvalidName, nil},
		{"create a property for an actor without a valid email", func(e env) error {
			return ignore(e.f.h.CreateProperty.Handle(ctx, as(domain.Actor{AccountID: "acc-x", Email: "x"}), commands.CreateProperty{Name: "X"}))
		}, domain.KindInvalid, domain.CodeInvalidEmail, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			pid := f.create()
			f.join(pid, bob, "agent")
			e := env{f: f, pid: pid, iid: f.invite(pid, ada.Email, "agent").InvitationID}
			stored, mails := f.feedLen(), len(f.mails())
			err := tt.run(e)
			wantErr(t, err, tt.wantKind, tt.wantCode)
			var de *domain.Error
			errors.As(err, &de)
			if diff := cmp.Diff(tt.problems, de.Problems, cmpopts.IgnoreFields(domain.Problem{}, "Message")); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if got := f.feedLen(); got != stored {
				t.Errorf("refused command stored %d events", got-stored)
			}
			if got := len(f.mails()); got != mails {
				t.Errorf("refused command sent %d mails", got-mails)
			}
		})
	}
}

// ignore drops a result the test does not need.
func ignore(_ commands.Result, err error) error { return err }

// ignoreRole drops a CreateRole result the test does not need.
func ignoreRole(_ commands.CreateRoleResult, err error) error { return err }
