package readmodels_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

func TestInvitationPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, pt.Script()...)
	if got, err := f.rm.InvitationPolicy(ctx, pt.Acme); err != nil || got != (readmodels.InvitationPolicy{}) {
		t.Errorf("a property that set no policy has %+v, %v; want zeros", got, err)
	}
	f.add(t, pt.Step{PropertyID: pt.Acme, ActorID: pt.Ann, ActorEmail: pt.AnnEmail,
		Event: domain.InvitationPolicyChanged{Schema: 1, DefaultLifetimeSeconds: 7200, MaximumLifetimeSeconds: 86400}})
	want := readmodels.InvitationPolicy{DefaultLifetimeSeconds: 7200, MaximumLifetimeSeconds: 86400}
	if got, err := f.rm.InvitationPolicy(ctx, pt.Acme); err != nil || got != want {
		t.Errorf("policy = %+v, %v; want %+v", got, err, want)
	}
	if got, err := f.rm.InvitationPolicy(ctx, pt.Beta); err != nil || got != (readmodels.InvitationPolicy{}) {
		t.Errorf("another property's policy = %+v, %v; want zeros", got, err)
	}
	_, err := f.rm.InvitationPolicy(ctx, "no-such-property")
	wantError(t, err, domain.KindNotFound, domain.CodePropertyNotFound, "no-such-property")
}
