package readmodels_test

import (
	"context"
	"fmt"
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
			got, err := f.rm.Invitations(context.Background(), tt.pid, readmodels.InvitationFilter{Status: tt.status}, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(readmodels.InvitationPage{Invitations: tt.want}, got); diff != "" {
				t.Errorf("Invitations (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an unknown status is refused", func(t *testing.T) {
		_, err := f.rm.Invitations(context.Background(), pt.Acme, readmodels.InvitationFilter{Status: "open"}, soon)
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
			got, err := f.rm.InvitationsForEmail(context.Background(), tt.email, "", 0, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(readmodels.MyInvitationPage{Invitations: tt.want}, got); diff != "" {
				t.Errorf("InvitationsForEmail (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInvitationsForEmailMatchNoLookAlike: the email is compared in its
// normal form, so a spelling the domain refuses (lower-casing would turn
// the Kelvin sign into a k) finds nobody's invitations.
func TestInvitationsForEmailMatchNoLookAlike(t *testing.T) {
	t.Parallel()
	kate := pt.Step{PropertyID: pt.Beta, ActorID: pt.Other, ActorEmail: pt.OtherEmail, Event: domain.MemberInvited{Schema: 1,
		InvitationID: "inv-kate", Email: "kate@example.com", Role: domain.RoleAgent, InvitedBy: pt.Other,
		ExpiresAt: pt.At(26).Add(pt.InviteTTL), TokenNonce: "nonce-kate"}}
	f := newFixture(t, append(pt.Script(), kate)...)
	for _, tt := range []struct {
		name, email string
		want        int
	}{
		{"the invitee's own address", "KATE@example.com", 1},
		{"a Kelvin sign for the k", "\u212Aate@example.com", 0},
		{"a Kelvin sign in capitals", "\u212AATE@EXAMPLE.COM", 0},
		{"a fullwidth k", "\uFF4Bate@example.com", 0},
		{"a trailing dot", "kate@example.com.", 0},
		{"a NUL", "kate@example.com\x00", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.rm.InvitationsForEmail(context.Background(), tt.email, "", 0, pt.At(27))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Invitations) != tt.want {
				t.Errorf("InvitationsForEmail(%q) = %v, want %d invitations", tt.email, got, tt.want)
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
		got, err := f.rm.InvitationsForEmail(context.Background(), pt.AnnEmail, "", 0, pt.At(30))
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, inv := range got.Invitations {
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

// pagingSteps are seven properties of Other, four of them named alike,
// each inviting Ann, and twelve more invitations in the first.
func pagingSteps() []pt.Step {
	var steps []pt.Step
	by := func(pid string, e domain.Event) pt.Step {
		return pt.Step{PropertyID: pid, ActorID: pt.Other, ActorEmail: pt.OtherEmail, Event: e}
	}
	invite := func(pid, id, email string) pt.Step {
		return by(pid, domain.MemberInvited{Schema: 1, InvitationID: id, Email: email, Role: domain.RoleAgent,
			InvitedBy: pt.Other, ExpiresAt: pt.At(100).Add(pt.InviteTTL), TokenNonce: "nonce-" + id})
	}
	for i := range 7 {
		pid, name := fmt.Sprintf("p-page-%d", i), fmt.Sprintf("Page %d", i)
		if i%2 == 0 {
			name = "Same name" // a tie the property ID breaks
		}
		steps = append(steps, by(pid, domain.PropertyCreated{Schema: 1, PropertyID: pid, Name: name, OwnerID: pt.Other}),
			by(pid, domain.MemberJoined{Schema: 1, AccountID: pt.Other, Email: pt.OtherEmail, Role: domain.RoleAdmin}),
			invite(pid, fmt.Sprintf("inv-ann-%d", i), pt.AnnEmail))
	}
	for i := range 12 {
		steps = append(steps, invite("p-page-0", fmt.Sprintf("inv-page-%02d", i), fmt.Sprintf("page%02d@example.com", i)))
	}
	return steps
}

// walkPages reads every page from the first, failing after 100.
func walkPages[T any](t *testing.T, page func(cursor string) ([]T, string, error)) (all []T, pages int) {
	t.Helper()
	cursor := ""
	for pages = 1; pages <= 100; pages++ {
		items, next, err := page(cursor)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		all = append(all, items...)
		if next == "" {
			return all, pages
		}
		cursor = next
	}
	t.Fatal("more than 100 pages")
	return nil, 0
}

// TestInvitationListsPageByCursor: walking a list page by page gives every
// row once, in the order of one page holding them all, ties included.
func TestInvitationListsPageByCursor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, append(pt.Script(), pagingSteps()...)...)
	ctx, now := context.Background(), pt.At(100)
	props := func(limit int) func(string) ([]readmodels.Invitation, string, error) {
		return func(cursor string) ([]readmodels.Invitation, string, error) {
			p, err := f.rm.Invitations(ctx, "p-page-0", readmodels.InvitationFilter{Status: "all", Cursor: cursor, Limit: limit}, now)
			return p.Invitations, p.NextCursor, err
		}
	}
	mine := func(limit int) func(string) ([]readmodels.MyInvitation, string, error) {
		return func(cursor string) ([]readmodels.MyInvitation, string, error) {
			p, err := f.rm.InvitationsForEmail(ctx, pt.AnnEmail, cursor, limit, now)
			return p.Invitations, p.NextCursor, err
		}
	}
	owned := func(limit int) func(string) ([]readmodels.MyProperty, string, error) {
		return func(cursor string) ([]readmodels.MyProperty, string, error) {
			p, err := f.rm.MyProperties(ctx, pt.Other, cursor, limit)
			return p.Properties, p.NextCursor, err
		}
	}
	tests := []struct {
		name      string
		walk      func(t *testing.T) (paged, whole any, pages, rows int)
		wantPages int
		wantRows  int
	}{
		{"a property's invitations, five a page", func(t *testing.T) (any, any, int, int) {
			paged, pages := walkPages(t, props(5))
			whole, _ := walkPages(t, props(readmodels.MaxInvitationLimit))
			return paged, whole, pages, len(paged)
		}, 3, 13},
		{"the invitations to an email, two a page", func(t *testing.T) (any, any, int, int) {
			paged, pages := walkPages(t, mine(2))
			whole, _ := walkPages(t, mine(readmodels.MaxInvitationLimit))
			return paged, whole, pages, len(paged)
		}, 4, 8},
		{"an account's properties, two a page", func(t *testing.T) (any, any, int, int) {
			paged, pages := walkPages(t, owned(2))
			whole, _ := walkPages(t, owned(readmodels.MaxMyPropertyLimit))
			return paged, whole, pages, len(paged)
		}, 4, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paged, whole, pages, rows := tt.walk(t)
			if diff := cmp.Diff(whole, paged); diff != "" {
				t.Errorf("pages differ from one page of all (-one +pages):\n%s", diff)
			}
			if pages != tt.wantPages || rows != tt.wantRows {
				t.Errorf("%d rows in %d pages, want %d in %d", rows, pages, tt.wantRows, tt.wantPages)
			}
		})
	}
}

// TestInvitationListsRefuseBadPages: a limit out of range or a cursor this
// API did not give out for that list is refused, naming the value.
func TestInvitationListsRefuseBadPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, append(pt.Script(), pagingSteps()...)...)
	ctx, now := context.Background(), pt.At(100)
	first, err := f.rm.Invitations(ctx, "p-page-0", readmodels.InvitationFilter{Limit: 1}, now)
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page %+v, %v; want one with a cursor", first, err)
	}
	mine, err := f.rm.InvitationsForEmail(ctx, pt.AnnEmail, "", 1, now)
	if err != nil || mine.NextCursor == "" {
		t.Fatalf("first page %+v, %v; want one with a cursor", mine, err)
	}
	member := readmodels.MemberCursor(pt.AnnEmail, pt.Ann)
	props := func(cursor string, limit int) error {
		_, err := f.rm.Invitations(ctx, "p-page-0", readmodels.InvitationFilter{Cursor: cursor, Limit: limit}, now)
		return err
	}
	toMe := func(cursor string, limit int) error {
		_, err := f.rm.InvitationsForEmail(ctx, pt.AnnEmail, cursor, limit, now)
		return err
	}
	owned := func(cursor string, limit int) error {
		_, err := f.rm.MyProperties(ctx, pt.Other, cursor, limit)
		return err
	}
	tests := []struct {
		name   string
		list   func(cursor string, limit int) error
		cursor string
		limit  int
		value  string
	}{
		{"a negative limit", props, "", -1, "-1"},
		{"a limit above the most", props, "", 201, "201"},
		{"a cursor that is no base64", props, "not a cursor!", 0, "not a cursor!"},
		{"a member cursor for invitations", props, member, 0, member},
		{"an email's cursor for a property's invitations", props, mine.NextCursor, 0, mine.NextCursor},
		{"a property's cursor for an email's invitations", toMe, first.NextCursor, 0, first.NextCursor},
		{"a limit above the most for an email", toMe, "", 201, "201"},
		{"a member cursor for properties", owned, member, 0, member},
		{"an invitation cursor for properties", owned, first.NextCursor, 0, first.NextCursor},
		{"a negative limit for properties", owned, "", -5, "-5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, tt.list(tt.cursor, tt.limit), domain.KindInvalid, domain.CodeInvalidRequest, tt.value)
		})
	}
}
