package projections_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// roleSteps: Acme's owner defines lead and coach, renames lead, changes
// coach's permissions, deletes coach, and Ann joins as a lead.
func roleSteps() []pt.Step {
	by := func(e domain.Event) pt.Step {
		return pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail, Event: e}
	}
	return append(pt.Script()[:2:2],
		/* 2 */ by(domain.RoleCreated{Schema: 1, RoleID: "role-lead", Name: "Lead",
			Permissions: []domain.Permission{domain.PermRespondToChats, domain.PermManageMembers}}),
		/* 3 */ by(domain.RoleCreated{Schema: 1, RoleID: "role-coach", Name: "Coach", Permissions: []domain.Permission{domain.PermEditShortcuts}}),
		/* 4 */ by(domain.RoleRenamed{Schema: 1, RoleID: "role-lead", From: "Lead", To: "Team lead"}),
		/* 5 */ by(domain.RolePermissionsChanged{Schema: 1, RoleID: "role-coach",
			From: []domain.Permission{domain.PermEditShortcuts}, To: []domain.Permission{domain.PermViewMembers, domain.PermAccessReporting}}),
		/* 6 */ by(domain.RoleDeleted{Schema: 1, RoleID: "role-coach", Name: "Coach"}),
		/* 7 */ by(domain.MemberJoined{Schema: 1, AccountID: pt.Ann, Email: pt.AnnEmail, Role: "role-lead"}),
	)
}

// The access projection keeps custom roles in rm_roles beside the
// memberships naming them; the audit has a row for each role event.
func TestCustomRoleProjections(t *testing.T) {
	t.Parallel()
	pool := project(t, roleSteps())
	type roleRow struct {
		PropertyID, RoleID, Name, Permissions string
	}
	got := rows[roleRow](t, pool, `SELECT property_id, role_id, name, permissions FROM rm_roles ORDER BY role_id`)
	if diff := cmp.Diff([]roleRow{{pt.Acme, "role-lead", "Team lead", "respond_to_chats,manage_members"}}, got); diff != "" {
		t.Errorf("rm_roles (-want +got):\n%s", diff)
	}
	type accessRow struct{ AccountID, Role string }
	access := rows[accessRow](t, pool, `SELECT account_id, role FROM rm_access WHERE account_id = '`+pt.Ann+`'`)
	if diff := cmp.Diff([]accessRow{{pt.Ann, "role-lead"}}, access); diff != "" {
		t.Errorf("rm_access (-want +got):\n%s", diff)
	}

	type revisionRow struct{ Revision int64 }
	if got := rows[revisionRow](t, pool, `SELECT revision FROM rm_properties WHERE property_id = '`+pt.Acme+`'`); !cmp.Equal(got, []revisionRow{{7}}) {
		t.Errorf("rm_properties revision = %v, want 7: every role event moves it", got)
	}

	audit := auditRows(t, pool)[2:7]
	row := func(i int, typ, id, field, from, to string) auditRow {
		return auditRow{pt.Acme, int64(i), typ, pt.At(i), pt.Owner, pt.OwnerEmail, projections.SubjectRole, id, "", field, from, to}
	}
	want := []auditRow{
		row(2, domain.TypeRoleCreated, "role-lead", "role", "", "Lead (respond_to_chats, manage_members)"),
		row(3, domain.TypeRoleCreated, "role-coach", "role", "", "Coach (edit_shortcuts)"),
		row(4, domain.TypeRoleRenamed, "role-lead", "name", "Lead", "Team lead"),
		row(5, domain.TypeRolePermissionsChanged, "role-coach", "permissions", "edit_shortcuts", "view_members, access_reporting"),
		row(6, domain.TypeRoleDeleted, "role-coach", "role", "Coach", ""),
	}
	if diff := cmp.Diff(want, audit, equalTimes); diff != "" {
		t.Errorf("rm_audit (-want +got):\n%s", diff)
	}
}

// Role events give the same rows however the feed is cut into batches,
// live or in a rebuild: a role created, changed and deleted within one
// batch, and members joining with it before and after its change.
func TestRoleEventsInBatchesOfEverySize(t *testing.T) {
	t.Parallel()
	steps := roleSteps()
	by := func(e domain.Event) pt.Step {
		return pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail, Event: e}
	}
	steps = append(steps,
		by(domain.RoleCreated{Schema: 1, RoleID: "role-brief", Name: "Brief", Permissions: []domain.Permission{domain.PermViewMembers}}),
		by(domain.RolePermissionsChanged{Schema: 1, RoleID: "role-lead", From: []domain.Permission{domain.PermRespondToChats, domain.PermManageMembers},
			To: []domain.Permission{domain.PermEditShortcuts}}),
		by(domain.RoleRenamed{Schema: 1, RoleID: "role-brief", From: "Brief", To: "Briefer"}),
		by(domain.RoleDeleted{Schema: 1, RoleID: "role-brief", Name: "Briefer"}),
		by(domain.MemberJoined{Schema: 1, AccountID: pt.Cat, Email: pt.CatEmail, Role: "role-lead"}),
		by(domain.RoleCreated{Schema: 1, RoleID: "role-coach", Name: "Coach again", Permissions: []domain.Permission{domain.PermRespondToTickets}}),
	)
	recs := pt.Records(t, steps)
	alone := tableRows(t, applyInBatches(t, recs, 1))
	if len(alone["rm_roles"]) != 2 {
		t.Fatalf("rm_roles has %d rows one event at a time, want 2: %v", len(alone["rm_roles"]), alone["rm_roles"])
	}
	for name, rows := range map[string]map[string][]string{
		"batches of 3": tableRows(t, applyInBatches(t, recs, 3)),
		"one batch":    tableRows(t, applyInBatches(t, recs, len(recs))),
		"a rebuild":    rebuilt(t, recs, 2),
	} {
		if diff := cmp.Diff(alone, rows); diff != "" {
			t.Errorf("rows (-one at a time +%s):\n%s", name, diff)
		}
	}
}
