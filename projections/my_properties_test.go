package projections_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	pt "github.com/rosterhq/roster/projections/projectiontest"
)

type myPropertyRow struct {
	AccountID, PropertyID, Name, Role, Status string
	Owner                                     bool
	JoinedAt, UpdatedAt                       time.Time
}

func TestMyPropertiesProjection(t *testing.T) {
	t.Parallel()
	owner := myPropertyRow{pt.Owner, pt.Acme, "Acme", "admin", "enabled", true, pt.At(1), pt.At(1)}
	ann := myPropertyRow{pt.Ann, pt.Acme, "Acme", "agent", "enabled", false, pt.At(5), pt.At(5)}
	with := func(m myPropertyRow, f func(*myPropertyRow)) myPropertyRow { f(&m); return m }
	annAdmin := with(ann, func(m *myPropertyRow) { m.Role, m.UpdatedAt = "admin", pt.At(9) })
	tests := []struct {
		name  string
		steps int
		want  []myPropertyRow
	}{
		{"the creator has the property as its enabled owner, with the name", 2, []myPropertyRow{owner}},
		{"an invitee has the property once it joins, with the invited role", 6, []myPropertyRow{ann, owner}},
		{"a role change sets the role", 8,
			[]myPropertyRow{with(ann, func(m *myPropertyRow) { m.Role, m.UpdatedAt = "admin", pt.At(7) }), owner}},
		{"disabling keeps the property, disabled", 9,
			[]myPropertyRow{with(ann, func(m *myPropertyRow) { m.Role, m.Status, m.UpdatedAt = "admin", "disabled", pt.At(8) }), owner}},
		{"enabling restores the status", 10, []myPropertyRow{annAdmin, owner}},
		{"a joined member has the property until removed", 13, []myPropertyRow{
			annAdmin, {pt.Cat, pt.Acme, "Acme", "agent", "enabled", false, pt.At(12), pt.At(12)}, owner}},
		{"a removed member no longer has it", 14, []myPropertyRow{annAdmin, owner}},
		{"a transfer moves the owner flag", 15, []myPropertyRow{
			with(annAdmin, func(m *myPropertyRow) { m.Owner, m.UpdatedAt = true, pt.At(14) }),
			with(owner, func(m *myPropertyRow) { m.Owner, m.UpdatedAt = false, pt.At(14) }),
		}},
		{"a member who leaves no longer has it; an account lists each property apart", len(pt.Script()), []myPropertyRow{
			with(annAdmin, func(m *myPropertyRow) { m.Owner, m.UpdatedAt = true, pt.At(14) }),
			{pt.Other, pt.Beta, "Beta", "admin", "enabled", true, pt.At(22), pt.At(22)},
			with(owner, func(m *myPropertyRow) { m.Owner, m.UpdatedAt = false, pt.At(14) }),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := project(t, pt.Script()[:tt.steps])
			got := rows[myPropertyRow](t, pool, `SELECT account_id, property_id, property_name, role, status, is_owner,
				joined_at, updated_at FROM rm_my_properties ORDER BY account_id, property_id`)
			if diff := cmp.Diff(tt.want, got, equalTimes); diff != "" {
				t.Errorf("rm_my_properties (-want +got):\n%s", diff)
			}
		})
	}
}
