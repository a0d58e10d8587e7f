package projections_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// A property's invitation policy: the properties projection keeps the
// latest (0 while none is set) and moves the revision; the audit names the
// property and both lifetimes.
func TestInvitationPolicyProjections(t *testing.T) {
	t.Parallel()
	policy := func(def, max int64) pt.Step {
		return pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail,
			Event: domain.InvitationPolicyChanged{Schema: 1, DefaultLifetimeSeconds: def, MaximumLifetimeSeconds: max}}
	}
	steps := append(pt.Script()[:2:2], policy(3*86400, 14*86400), policy(3600, 90000))
	pool := project(t, steps)

	type policyRow struct {
		Revision, Default, Maximum int64
	}
	got := rows[policyRow](t, pool, `SELECT revision, invite_default_lifetime_s, invite_maximum_lifetime_s
		FROM rm_properties WHERE property_id = '`+pt.Acme+`'`)
	if diff := cmp.Diff([]policyRow{{3, 3600, 90000}}, got); diff != "" {
		t.Errorf("rm_properties policy (-want +got):\n%s", diff)
	}
	unset := project(t, pt.Script()[:2])
	if got := rows[policyRow](t, unset, `SELECT revision, invite_default_lifetime_s, invite_maximum_lifetime_s FROM rm_properties`); !cmp.Equal(got, []policyRow{{1, 0, 0}}) {
		t.Errorf("a property without a policy has %v, want zero lifetimes", got)
	}

	audit := auditRows(t, pool)[2:]
	want := []auditRow{
		{pt.Acme, 2, domain.TypeInvitationPolicyChanged, pt.At(2), pt.Owner, pt.OwnerEmail,
			projections.SubjectProperty, pt.Acme, "", "invitation_policy", "", "default 3 days; maximum 14 days"},
		{pt.Acme, 3, domain.TypeInvitationPolicyChanged, pt.At(3), pt.Owner, pt.OwnerEmail,
			projections.SubjectProperty, pt.Acme, "", "invitation_policy", "", "default 1 hour; maximum 25 hours"},
	}
	if diff := cmp.Diff(want, audit, equalTimes); diff != "" {
		t.Errorf("rm_audit (-want +got):\n%s", diff)
	}
}
