package readmodels_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

var leadPerms = []domain.Permission{domain.PermRespondToChats, domain.PermViewMembers, domain.PermManageMembers}

// roleScript: Acme's owner defines a lead role, Ann joins as a lead, then
// the role loses manage_members for edit_shortcuts.
func roleScript() []pt.Step {
	by := func(e domain.Event) pt.Step {
		return pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail, Event: e}
	}
	return append(pt.Script()[:2:2],
		/* 2 */ by(domain.RoleCreated{Schema: 1, RoleID: "role-lead", Name: "Lead", Permissions: leadPerms}),
		/* 3 */ by(domain.MemberJoined{Schema: 1, AccountID: pt.Ann, Email: pt.AnnEmail, Role: "role-lead"}),
		/* 4 */ by(domain.RolePermissionsChanged{Schema: 1, RoleID: "role-lead", From: leadPerms,
			To: []domain.Permission{domain.PermRespondToChats, domain.PermEditShortcuts}}),
	)
}

// The roles list, access and grants see a custom role's permissions as
// they stand.
func TestCustomRolesReadModels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	steps := roleScript()
	f := newFixture(t, steps[:4]...)

	roles, err := f.rm.Roles(ctx, pt.Acme)
	if err != nil {
		t.Fatal(err)
	}
	want := []readmodels.Role{
		{ID: domain.RoleAdmin, Name: "admin", Builtin: true, Permissions: domain.Permissions(domain.RoleAdmin, false, domain.StatusEnabled)},
		{ID: domain.RoleAgent, Name: "agent", Builtin: true, Permissions: domain.Permissions(domain.RoleAgent, false, domain.StatusEnabled)},
		{ID: "role-lead", Name: "Lead", Permissions: leadPerms, CreatedAt: pt.At(2), UpdatedAt: pt.At(2)},
	}
	if diff := cmp.Diff(want, roles); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
	a, err := f.rm.Access(ctx, pt.Acme, pt.Ann)
	if err != nil || !cmp.Equal(a.Permissions, leadPerms) {
		t.Errorf("a lead's access = %v, %v; want %v", a.Permissions, err, leadPerms)
	}
	page, err := f.rm.Granted(ctx, pt.Ann, domain.PermManageMembers, "", 0)
	if err != nil || !cmp.Equal(page.PropertyIDs, []string{pt.Acme}) {
		t.Errorf("granted manage_members = %v, %v; want Acme", page.PropertyIDs, err)
	}
	grants, _, err := f.rm.PropertyGrants(ctx, pt.Acme)
	if err != nil || len(grants) == 0 || !cmp.Equal(grants[0].Roles, domain.Roles{"role-lead": leadPerms}) {
		t.Errorf("grants = %+v, %v; want the lead role beside them", grants, err)
	}

	f.add(t, steps[4])
	changed := []domain.Permission{domain.PermRespondToChats, domain.PermEditShortcuts}
	if a, err := f.rm.Access(ctx, pt.Acme, pt.Ann); err != nil || !cmp.Equal(a.Permissions, changed) {
		t.Errorf("after the change a lead's access = %v, %v; want %v", a.Permissions, err, changed)
	}
	for perm, want := range map[domain.Permission][]string{domain.PermManageMembers: nil, domain.PermEditShortcuts: {pt.Acme}} {
		page, err := f.rm.Granted(ctx, pt.Ann, perm, "", 0)
		if err != nil || !cmp.Equal(page.PropertyIDs, want, cmpopts.EquateEmpty()) {
			t.Errorf("after the change granted %s = %v, %v; want %v", perm, page.PropertyIDs, err, want)
		}
	}
	members, err := f.rm.Members(ctx, pt.Acme, readmodels.MemberFilter{Role: "role-lead"})
	if err != nil || len(members.Members) != 1 || members.Members[0].AccountID != pt.Ann {
		t.Errorf("members with role-lead = %+v, %v; want Ann", members.Members, err)
	}
	_, err = f.rm.Members(ctx, pt.Acme, readmodels.MemberFilter{Role: "lead"})
	wantError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, "lead")
}

// As-of answers and the access review use the role's definition at the
// moment asked about, snapshots or not.
func TestCustomRolesAsOf(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memory.New()
	pt.NewHistory(t, store).Add(roleScript()...)
	h := newHistory(store)
	before, err := h.Access(ctx, pt.Acme, pt.Ann, pt.At(3))
	if err != nil || !cmp.Equal(before.Permissions, leadPerms) {
		t.Errorf("access at step 3 = %v, %v; want %v", before.Permissions, err, leadPerms)
	}
	after, err := h.Access(ctx, pt.Acme, pt.Ann, pt.At(4))
	if want := []domain.Permission{domain.PermRespondToChats, domain.PermEditShortcuts}; err != nil || !cmp.Equal(after.Permissions, want) {
		t.Errorf("access at step 4 = %v, %v; want %v", after.Permissions, err, want)
	}
	r, err := h.Review(ctx, pt.Acme, pt.At(3))
	if err != nil {
		t.Fatal(err)
	}
	want := []readmodels.Role{{ID: "role-lead", Name: "Lead", Permissions: leadPerms, CreatedAt: pt.At(2), UpdatedAt: pt.At(2)}}
	if diff := cmp.Diff(want, r.Roles); diff != "" {
		t.Errorf("review roles (-want +got):\n%s", diff)
	}
}

// A fold that starts from a history snapshot knows the custom roles the
// snapshot's moment had, as the full fold does.
func TestCustomRolesSurviveSnapshots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memory.New()
	steps := roleScript()
	for i := range 6 { // pass a few snapshot intervals after the role's change
		steps = append(steps, pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail,
			Event: domain.RoleRenamed{Schema: 1, RoleID: "role-lead", From: "Lead", To: "Lead " + string(rune('A'+i))}})
	}
	pt.NewHistory(t, store).Add(steps...)
	pool := pgtest.NewPool(t)
	snap := newSnapshotHistory(store, pool, 2)
	full := newHistory(store)
	at := pt.At(len(steps) - 1)
	for pass := range 2 { // the first writes snapshots, the second starts from one
		for _, h := range []*readmodels.History{full, snap} {
			a, err := h.Access(ctx, pt.Acme, pt.Ann, at)
			if want := []domain.Permission{domain.PermRespondToChats, domain.PermEditShortcuts}; err != nil || !cmp.Equal(a.Permissions, want) {
				t.Errorf("pass %d: access = %v, %v; want %v", pass, a.Permissions, err, want)
			}
			r, err := h.Review(ctx, pt.Acme, at)
			if err != nil || len(r.Roles) != 1 || r.Roles[0].Name != "Lead F" {
				t.Errorf("pass %d: review roles = %+v, %v; want Lead F", pass, r.Roles, err)
			}
		}
		if pass == 0 && countSnapshots(t, pool, pt.Acme) == 0 {
			t.Fatal("no snapshot was written: the comparison proves nothing")
		}
	}
}
