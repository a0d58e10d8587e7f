package readmodels_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

func TestMyProperties(t *testing.T) {
	t.Parallel()
	f := newFixture(t, readSideSteps()...)
	tests := []struct {
		name string
		acc  string
		want []readmodels.MyProperty
	}{
		{"an account lists each property it belongs to, by name", pt.Ann, []readmodels.MyProperty{
			{PropertyID: pt.Acme, Name: "Acme", Role: domain.RoleAdmin, Status: domain.StatusEnabled, Owner: true, JoinedAt: pt.At(5), UpdatedAt: pt.At(14)},
			{PropertyID: pt.Beta, Name: "Beta", Role: domain.RoleAgent, Status: domain.StatusEnabled, JoinedAt: pt.At(28), UpdatedAt: pt.At(28)},
		}},
		{"a disabled membership is listed with its status", pt.Owner, []readmodels.MyProperty{
			{PropertyID: pt.Acme, Name: "Acme", Role: domain.RoleAdmin, Status: domain.StatusDisabled, JoinedAt: pt.At(1), UpdatedAt: pt.At(27)},
		}},
		{"a removed member lists nothing", pt.Cat, []readmodels.MyProperty{}},
		{"an unknown account lists nothing", "acc-none", []readmodels.MyProperty{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.rm.MyProperties(context.Background(), tt.acc, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(readmodels.MyPropertyPage{Properties: tt.want}, got); diff != "" {
				t.Errorf("MyProperties (-want +got):\n%s", diff)
			}
		})
	}
}
