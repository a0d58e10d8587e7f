package readmodels_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

func TestMemberHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t, readSideSteps()...)
	types := func(es []readmodels.AuditEntry) []string {
		out := []string{}
		for _, e := range es {
			out = append(out, e.Type)
		}
		return out
	}
	tests := []struct {
		name     string
		pid, acc string
		want     []string
	}{
		{"a member's history starts at the invitation it accepted", pt.Acme, pt.Ann, []string{
			domain.TypeMemberInvited, domain.TypeInvitationAccepted, domain.TypeMemberJoined, domain.TypeMemberRoleChanged,
			domain.TypeMemberAccessDisabled, domain.TypeMemberAccessEnabled, domain.TypeOwnershipTransferred}},
		{"the creator's history starts at the creation and has the transfer away", pt.Acme, pt.Owner, []string{
			domain.TypePropertyCreated, domain.TypeMemberJoined, domain.TypeOwnershipTransferred, domain.TypeMemberAccessDisabled}},
		{"a removed member's history ends with the removal", pt.Acme, pt.Cat, []string{
			domain.TypeMemberInvited, domain.TypeInvitationAccepted, domain.TypeMemberJoined, domain.TypeMemberRemoved}},
		{"a member who left has it last", pt.Acme, pt.Fay, []string{
			domain.TypeMemberInvited, domain.TypeInvitationAccepted, domain.TypeMemberJoined, domain.TypeMemberLeft}},
		{"each property keeps its own history of an account", pt.Beta, pt.Ann, []string{domain.TypeMemberJoined}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.rm.MemberHistory(context.Background(), tt.pid, tt.acc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, types(got)); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
		})
	}
	for _, tt := range []struct{ name, pid, acc string }{
		{"an account never a member has no history", pt.Acme, pt.Other},
		{"an unknown property has no history", "p-none", pt.Ann},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.rm.MemberHistory(context.Background(), tt.pid, tt.acc)
			wantError(t, err, domain.KindNotFound, domain.CodeMemberNotFound, tt.acc)
		})
	}
}
