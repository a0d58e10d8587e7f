package projections_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	pt "github.com/rosterhq/roster/projections/projectiontest"
)

type accessRow struct {
	PropertyID, AccountID, Role, Status string
	Owner                               bool
	UpdatedAt                           time.Time
}

func TestAccessProjection(t *testing.T) {
	t.Parallel()
	owner := accessRow{pt.Acme, pt.Owner, "admin", "enabled", true, pt.At(1)}
	ann := accessRow{pt.Acme, pt.Ann, "agent", "enabled", false, pt.At(5)}
	with := func(a accessRow, f func(*accessRow)) accessRow { f(&a); return a }
	annAdmin := with(ann, func(a *accessRow) { a.Role, a.UpdatedAt = "admin", pt.At(9) })
	tests := []struct {
		name  string
		steps int
		want  []accessRow
	}{
		{"the creator is the enabled owner, an admin", 2, []accessRow{owner}},
		{"a member who joins has the invited role", 6, []accessRow{ann, owner}},
		{"a role change sets the role", 8,
			[]accessRow{with(ann, func(a *accessRow) { a.Role, a.UpdatedAt = "admin", pt.At(7) }), owner}},
		{"disabling sets the status, keeping the role", 9,
			[]accessRow{with(ann, func(a *accessRow) { a.Role, a.Status, a.UpdatedAt = "admin", "disabled", pt.At(8) }), owner}},
		{"enabling restores the status", 10, []accessRow{annAdmin, owner}},
		{"a removed member has no access", 14, []accessRow{annAdmin, owner}},
		{"a transfer moves the owner flag", 15, []accessRow{
			with(annAdmin, func(a *accessRow) { a.Owner, a.UpdatedAt = true, pt.At(14) }),
			with(owner, func(a *accessRow) { a.Owner, a.UpdatedAt = false, pt.At(14) }),
		}},
		{"a member who left has no access; each property has its own", len(pt.Script()), []accessRow{
			with(annAdmin, func(a *accessRow) { a.Owner, a.UpdatedAt = true, pt.At(14) }),
			with(owner, func(a *accessRow) { a.Owner, a.UpdatedAt = false, pt.At(14) }),
			{pt.Beta, pt.Other, "admin", "enabled", true, pt.At(22)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := project(t, pt.Script()[:tt.steps])
			got := rows[accessRow](t, pool, `SELECT property_id, account_id, role, status, is_owner, updated_at
				FROM rm_access ORDER BY property_id, account_id`)
			if diff := cmp.Diff(tt.want, got, equalTimes); diff != "" {
				t.Errorf("rm_access (-want +got):\n%s", diff)
			}
		})
	}
}
