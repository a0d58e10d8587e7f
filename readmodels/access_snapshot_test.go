package readmodels_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

func TestGrantedFollowsThePermissionTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, readSideSteps()...)
	both := []string{pt.Acme, pt.Beta}
	slices.Sort(both)
	tests := []struct {
		name    string
		account string
		perm    domain.Permission
		want    []string
	}{
		{"an agent permission is held on every property where the account is enabled", pt.Ann, domain.PermRespondToChats, both},
		{"an admin permission only where the account is an admin", pt.Ann, domain.PermManageMembers, []string{pt.Acme}},
		{"the owner's own permission only where the account owns", pt.Ann, domain.PermTransferOwnership, []string{pt.Acme}},
		{"a disabled member holds nothing", pt.Owner, domain.PermRespondToChats, []string{}},
		{"an agent holds no admin permission", pt.Eve, domain.PermManageInvitations, []string{}},
		{"an account that is nobody's member holds nothing", "acc-nobody", domain.PermViewMembers, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.rm.Granted(context.Background(), tt.account, tt.perm, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, page.PropertyIDs); diff != "" || page.NextCursor != "" {
				t.Errorf("Granted (-want +got), cursor %q:\n%s", page.NextCursor, diff)
			}
			if page.Position.IsZero() {
				t.Error("the page does not say the position it was read at")
			}
		})
	}
}

func TestGrantedPagesByKeyset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, readSideSteps()...)
	var got []string
	cursor := ""
	for range 3 {
		page, err := f.rm.Granted(context.Background(), pt.Ann, domain.PermViewMembers, cursor, 1)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.PropertyIDs...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	want := []string{pt.Acme, pt.Beta}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pages of one (-want +got):\n%s", diff)
	}
	for _, bad := range []struct {
		name, cursor string
		limit        int
		value        string
	}{
		{"a cursor this API did not give out", "bm90LWEtY3Vyc29y", 0, "bm90LWEtY3Vyc29y"},
		{"a limit over the most", "", readmodels.MaxGrantedLimit + 1, "1001"},
		{"a negative limit", "", -1, "-1"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			_, err := f.rm.Granted(context.Background(), pt.Ann, domain.PermViewMembers, bad.cursor, bad.limit)
			wantError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, bad.value)
		})
	}
}

func TestPropertyGrantsAreTheAccessReadModelWithItsPosition(t *testing.T) {
	t.Parallel()
	f := newFixture(t, readSideSteps()...)
	grants, pos, err := f.rm.PropertyGrants(context.Background(), pt.Beta)
	if err != nil {
		t.Fatal(err)
	}
	at, err := f.rm.Position(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pos.Less(at) {
		t.Errorf("grants read at %s, before the read models' %s", pos, at)
	}
	slices.SortFunc(grants, func(a, b readmodels.Grant) int { return strings.Compare(a.AccountID, b.AccountID) })
	want := []readmodels.Grant{
		{PropertyID: pt.Beta, OwnerID: pt.Other, AccountID: pt.Ann, Role: domain.RoleAgent, Status: domain.StatusEnabled},
		{PropertyID: pt.Beta, OwnerID: pt.Other, AccountID: pt.Eve, Role: domain.RoleAgent, Status: domain.StatusEnabled},
		{PropertyID: pt.Beta, OwnerID: pt.Other, AccountID: pt.Other, Role: domain.RoleAdmin, Status: domain.StatusEnabled},
	}
	slices.SortFunc(want, func(a, b readmodels.Grant) int { return strings.Compare(a.AccountID, b.AccountID) })
	if diff := cmp.Diff(want, grants); diff != "" {
		t.Errorf("PropertyGrants (-want +got):\n%s", diff)
	}
	var all int
	if _, err := f.rm.EachGrant(context.Background(), func(readmodels.Grant) error { all++; return nil }); err != nil {
		t.Fatal(err)
	}
	if all != 5 {
		t.Errorf("EachGrant gave %d grants, want Acme's 2 and Beta's 3", all)
	}
	none, _, err := f.rm.PropertyGrants(context.Background(), "p-none")
	if err != nil || len(none) != 0 {
		t.Errorf("PropertyGrants of an unknown property = %v, %v; want none", none, err)
	}
}
