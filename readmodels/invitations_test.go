package readmodels_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// Acme's invitations in the script, as stored. Dee's was resent at step 16.
var (
	invAnn = readmodels.Invitation{ID: pt.InvAnn, Email: pt.AnnEmail, Role: domain.RoleAgent, Status: domain.InviteAccepted,
		InvitedBy: pt.Owner, CreatedAt: pt.At(2), ExpiresAt: pt.At(2).Add(pt.InviteTTL), UpdatedAt: pt.At(4)}
	invBob = readmodels.Invitation{ID: pt.InvBob, Email: pt.BobEmail, Role: domain.RoleAdmin, Status: domain.InviteRevoked,
		InvitedBy: pt.Owner, CreatedAt: pt.At(3), ExpiresAt: pt.At(3).Add(pt.InviteTTL), UpdatedAt: pt.At(6)}
	invCat = readmodels.Invitation{ID: pt.InvCat, Email: pt.CatEmail, Role: domain.RoleAgent, Status: domain.InviteAccepted,
		InvitedBy: pt.Owner, CreatedAt: pt.At(10), ExpiresAt: pt.At(10).Add(pt.InviteTTL), UpdatedAt: pt.At(11)}
	invDee = readmodels.Invitation{ID: pt.InvDee, Email: pt.DeeEmail, Role: domain.RoleAgent, Status: domain.InvitePending,
		InvitedBy: pt.Ann, CreatedAt: pt.At(15), ExpiresAt: pt.At(16).Add(2 * pt.InviteTTL), UpdatedAt: pt.At(16)}
	invFay = readmodels.Invitation{ID: pt.InvFay, Email: pt.FayEmail, Role: domain.RoleAgent, Status: domain.InviteAccepted,
		InvitedBy: pt.Ann, CreatedAt: pt.At(17), ExpiresAt: pt.At(17).Add(pt.InviteTTL), UpdatedAt: pt.At(18)}
	invEve = readmodels.Invitation{ID: pt.InvEveBeta, Email: pt.EveEmail, Role: domain.RoleAgent, Status: domain.InviteDeclined,
		InvitedBy: pt.Other, CreatedAt: pt.At(24), ExpiresAt: pt.At(24).Add(pt.InviteTTL), UpdatedAt: pt.At(25)}
)

func expired(inv readmodels.Invitation) readmodels.Invitation {
	inv.Status = domain.InviteExpired
	return inv
}

func TestInvitations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	soon, deeExpiry := pt.At(26), invDee.ExpiresAt
	tests := []struct {
		name   string
		pid    string
		status string
		now    time.Time
		want   []readmodels.Invitation
	}{
		{"no status means pending", pt.Acme, "", soon, []readmodels.Invitation{invDee}},
		{"pending keeps invitations not yet expired", pt.Acme, "pending", deeExpiry.Add(-time.Microsecond), []readmodels.Invitation{invDee}},
		{"accepted keeps accepted ones, newest first", pt.Acme, "accepted", soon, []readmodels.Invitation{invFay, invCat, invAnn}},
		{"revoked keeps revoked ones", pt.Acme, "revoked", soon, []readmodels.Invitation{invBob}},
		{"declined keeps declined ones", pt.Beta, "declined", soon, []readmodels.Invitation{invEve}},
		{"nothing is expired before its expiry", pt.Acme, "expired", soon, []readmodels.Invitation{}},
		{"a pending invitation is expired from its expiry on", pt.Acme, "expired", deeExpiry, []readmodels.Invitation{expired(invDee)}},
		{"an expired invitation is no longer pending", pt.Acme, "pending", deeExpiry, []readmodels.Invitation{}},
		{"all keeps every invitation, with expiry derived, newest first", pt.Acme, "all", deeExpiry,
			[]readmodels.Invitation{invFay, expired(invDee), invCat, invBob, invAnn}},
		{"the status is read without regard to case", pt.Acme, " Revoked ", soon, []readmodels.Invitation{invBob}},
		{"an unknown property has none", "p-none", "all", soon, []readmodels.Invitation{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.rm.Invitations(context.Background(), tt.pid, tt.status, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Invitations (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an unknown status is refused", func(t *testing.T) {
		_, err := f.rm.Invitations(context.Background(), pt.Acme, "open", soon)
		wantError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, "open")
	})
}

func TestInvitationsForEmail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	annBeta := readmodels.MyInvitation{ID: pt.InvAnnBeta, PropertyID: pt.Beta, PropertyName: "Beta", Role: domain.RoleAgent,
		InvitedBy: pt.Other, InvitedByEmail: pt.OtherEmail, CreatedAt: pt.At(23), ExpiresAt: pt.At(23).Add(pt.InviteTTL)}
	dee := readmodels.MyInvitation{ID: pt.InvDee, PropertyID: pt.Acme, PropertyName: "Acme", Role: domain.RoleAgent,
		InvitedBy: pt.Ann, InvitedByEmail: pt.AnnEmail, CreatedAt: pt.At(15), ExpiresAt: pt.At(16).Add(2 * pt.InviteTTL)}
	tests := []struct {
		name  string
		email string
		now   time.Time
		want  []readmodels.MyInvitation
	}{
		{"a pending invitation shows with its property's name and the inviter's email", pt.AnnEmail, pt.At(26),
			[]readmodels.MyInvitation{annBeta}},
		{"the email is matched trimmed and without regard to case", "  Ann@Example.COM ", pt.At(26),
			[]readmodels.MyInvitation{annBeta}},
		{"an accepted invitation is gone", pt.CatEmail, pt.At(26), []readmodels.MyInvitation{}},
		{"a revoked invitation is gone", pt.BobEmail, pt.At(26), []readmodels.MyInvitation{}},
		{"a declined invitation is gone", pt.EveEmail, pt.At(26), []readmodels.MyInvitation{}},
		{"an expired invitation is not shown", pt.AnnEmail, annBeta.ExpiresAt, []readmodels.MyInvitation{}},
		{"a resent invitation lasts until its new expiry", pt.DeeEmail, pt.At(15).Add(pt.InviteTTL),
			[]readmodels.MyInvitation{dee}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.rm.InvitationsForEmail(context.Background(), tt.email, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("InvitationsForEmail (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMyInvitationsAppearAndDisappear follows one email's notifications as
// invitations are made and answered.
func TestMyInvitationsAppearAndDisappear(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...) // steps 0..25; Ann holds Beta's invitation
	const gamma = "p-gamma"
	by := func(pid string, e domain.Event) pt.Step {
		return pt.Step{PropertyID: pid, ActorID: pt.Other, ActorEmail: pt.OtherEmail, Event: e}
	}
	ids := func() []string {
		got, err := f.rm.InvitationsForEmail(context.Background(), pt.AnnEmail, pt.At(30))
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, inv := range got {
			out = append(out, inv.PropertyName+"/"+inv.ID)
		}
		return out
	}
	steps := []struct {
		name  string
		steps []pt.Step
		want  []string
	}{
		{"before: Beta's invitation", nil, []string{"Beta/" + pt.InvAnnBeta}},
		{"a new invitation appears first, with its property's name", []pt.Step{
			by(gamma, domain.PropertyCreated{Schema: 1, PropertyID: gamma, Name: "Gamma", OwnerID: pt.Other}),
			by(gamma, domain.MemberInvited{Schema: 1, InvitationID: "inv-gamma", Email: pt.AnnEmail, Role: domain.RoleAdmin,
				InvitedBy: pt.Other, ExpiresAt: pt.At(28).Add(pt.InviteTTL), TokenNonce: "nonce-gamma"}),
		}, []string{"Gamma/inv-gamma", "Beta/" + pt.InvAnnBeta}},
		{"a revoked invitation disappears", []pt.Step{
			by(gamma, domain.InvitationRevoked{Schema: 1, InvitationID: "inv-gamma"}),
		}, []string{"Beta/" + pt.InvAnnBeta}},
		{"an accepted invitation disappears", []pt.Step{
			by(pt.Beta, domain.InvitationAccepted{Schema: 1, InvitationID: pt.InvAnnBeta, AccountID: pt.Ann}),
		}, []string{}},
	}
	for _, s := range steps {
		if len(s.steps) > 0 {
			f.add(t, s.steps...)
		}
		if diff := cmp.Diff(s.want, ids()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, diff)
		}
	}
}
