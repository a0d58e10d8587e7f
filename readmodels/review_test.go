package readmodels_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

func TestReviewAtMoments(t *testing.T) {
	t.Parallel()
	store := memory.New()
	pt.NewHistory(t, store).Add(asOfSteps()...)
	h := newHistory(store)
	owner := readmodels.ReviewActor{AccountID: pt.Owner, Email: pt.OwnerEmail}
	ann := readmodels.ReviewActor{AccountID: pt.Ann, Email: pt.AnnEmail}
	other := readmodels.ReviewActor{AccountID: pt.Other, Email: pt.OtherEmail}
	deeExpires := pt.At(16).Add(2 * pt.InviteTTL)
	dee := func(age time.Duration) readmodels.PendingInvitation {
		return readmodels.PendingInvitation{ID: pt.InvDee, Email: pt.DeeEmail, Role: agent, InvitedBy: ann,
			InvitedAt: pt.At(15), ExpiresAt: deeExpires, AgeSeconds: int64(age / time.Second)}
	}
	// final are Acme's members from step 30 on. Acme's revisions skip
	// Beta's steps 21 to 25: step 30 is Acme's revision 25.
	final := []readmodels.ReviewMember{
		{AccountID: pt.Ann, Email: pt.AnnEmail, Role: admin, Status: enabled, Owner: true, JoinedAt: pt.At(5),
			Invitation:       &readmodels.ReviewInvitation{ID: pt.InvAnn, InvitedBy: owner, InvitedAt: pt.At(2)},
			LastAccessChange: &readmodels.AccessChange{Type: domain.TypeOwnershipTransferred, By: owner, At: pt.At(14)}},
		{AccountID: pt.Cat, Email: pt.CatEmail, Role: admin, Status: enabled, JoinedAt: pt.At(28),
			Invitation:       &readmodels.ReviewInvitation{ID: InvCatAgain, InvitedBy: ann, InvitedAt: pt.At(26)},
			LastAccessChange: &readmodels.AccessChange{Type: domain.TypeMemberRoleChanged, By: ann, At: pt.At(29)}},
		{AccountID: pt.Owner, Email: pt.OwnerEmail, Role: admin, Status: disabled, JoinedAt: pt.At(1),
			LastAccessChange: &readmodels.AccessChange{Type: domain.TypeMemberAccessDisabled, By: ann, At: pt.At(30)}}}
	tests := []struct {
		name string
		pid  string
		at   time.Time
		want readmodels.AccessReview
	}{
		{"early on: the creator joined by no invitation, two invitations out, oldest first", pt.Acme, pt.At(3), readmodels.AccessReview{
			PropertyID: pt.Acme, PropertyName: "Acme", Revision: 3, AsOf: pt.At(3),
			Members: []readmodels.ReviewMember{{AccountID: pt.Owner, Email: pt.OwnerEmail, Role: admin, Status: enabled,
				Owner: true, JoinedAt: pt.At(1)}},
			PendingInvitations: []readmodels.PendingInvitation{
				{ID: pt.InvAnn, Email: pt.AnnEmail, Role: agent, InvitedBy: owner, InvitedAt: pt.At(2),
					ExpiresAt: pt.At(2).Add(pt.InviteTTL), AgeSeconds: 60},
				{ID: pt.InvBob, Email: pt.BobEmail, Role: admin, InvitedBy: owner, InvitedAt: pt.At(3),
					ExpiresAt: pt.At(3).Add(pt.InviteTTL), AgeSeconds: 0}}}},
		{"later: who invited each member, who last changed their access, and what is still out", pt.Acme, pt.At(40), readmodels.AccessReview{
			PropertyID: pt.Acme, PropertyName: "Acme", Revision: 25, AsOf: pt.At(40),
			Members: final, PendingInvitations: []readmodels.PendingInvitation{dee(25 * time.Minute)}}},
		{"a re-joined member's changes from before it left are forgotten", pt.Acme, pt.At(28), readmodels.AccessReview{
			PropertyID: pt.Acme, PropertyName: "Acme", Revision: 23, AsOf: pt.At(28),
			Members: []readmodels.ReviewMember{
				{AccountID: pt.Ann, Email: pt.AnnEmail, Role: admin, Status: enabled, Owner: true, JoinedAt: pt.At(5),
					Invitation:       &readmodels.ReviewInvitation{ID: pt.InvAnn, InvitedBy: owner, InvitedAt: pt.At(2)},
					LastAccessChange: &readmodels.AccessChange{Type: domain.TypeOwnershipTransferred, By: owner, At: pt.At(14)}},
				{AccountID: pt.Cat, Email: pt.CatEmail, Role: agent, Status: enabled, JoinedAt: pt.At(28),
					Invitation: &readmodels.ReviewInvitation{ID: InvCatAgain, InvitedBy: ann, InvitedAt: pt.At(26)}},
				{AccountID: pt.Owner, Email: pt.OwnerEmail, Role: admin, Status: enabled, JoinedAt: pt.At(1),
					LastAccessChange: &readmodels.AccessChange{Type: domain.TypeOwnershipTransferred, By: owner, At: pt.At(14)}}},
			PendingInvitations: []readmodels.PendingInvitation{dee(13 * time.Minute)}}},
		{"an invitation a second before it expires is pending", pt.Acme, deeExpires.Add(-time.Second), readmodels.AccessReview{
			PropertyID: pt.Acme, PropertyName: "Acme", Revision: 25, AsOf: deeExpires.Add(-time.Second), Members: final,
			PendingInvitations: []readmodels.PendingInvitation{dee(deeExpires.Add(-time.Second).Sub(pt.At(15)))}}},
		{"an invitation at its expiry is no longer pending", pt.Acme, deeExpires, readmodels.AccessReview{
			PropertyID: pt.Acme, PropertyName: "Acme", Revision: 25, AsOf: deeExpires, Members: final,
			PendingInvitations: []readmodels.PendingInvitation{}}},
		{"a declined invitation is not pending", pt.Beta, pt.At(25), readmodels.AccessReview{
			PropertyID: pt.Beta, PropertyName: "Beta", Revision: 4, AsOf: pt.At(25),
			Members: []readmodels.ReviewMember{{AccountID: pt.Other, Email: pt.OtherEmail, Role: admin, Status: enabled,
				Owner: true, JoinedAt: pt.At(22)}},
			PendingInvitations: []readmodels.PendingInvitation{{ID: pt.InvAnnBeta, Email: pt.AnnEmail, Role: agent,
				InvitedBy: other, InvitedAt: pt.At(23), ExpiresAt: pt.At(23).Add(pt.InviteTTL), AgeSeconds: 120}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Review(context.Background(), tt.pid, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Review (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("before the property there is nothing to review", func(t *testing.T) {
		_, err := h.Review(context.Background(), pt.Acme, pt.T0.Add(-time.Second))
		wantError(t, err, domain.KindNotFound, domain.CodePropertyNotFound, pt.Acme)
	})
}

// TestReviewMembersAreTheMembersAtTheMoment: the review and the as-of
// members list agree at every moment of the script.
func TestReviewMembersAreTheMembersAtTheMoment(t *testing.T) {
	t.Parallel()
	store := memory.New()
	pt.NewHistory(t, store).Add(asOfSteps()...)
	h := newHistory(store)
	for i := range len(asOfSteps()) {
		page, err := h.Members(context.Background(), pt.Acme, pt.At(i), readmodels.MemberFilter{Limit: readmodels.MaxMemberLimit})
		if err != nil {
			t.Fatal(err)
		}
		review, err := h.Review(context.Background(), pt.Acme, pt.At(i))
		if err != nil {
			t.Fatal(err)
		}
		var got []readmodels.Member
		for _, m := range review.Members {
			got = append(got, readmodels.Member{AccountID: m.AccountID, Email: m.Email, Role: m.Role, Status: m.Status,
				Owner: m.Owner, JoinedAt: m.JoinedAt})
		}
		var want []readmodels.Member
		for _, m := range page.Members {
			m.UpdatedAt = time.Time{}
			want = append(want, m)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("at step %d, review members (-as-of list +review):\n%s", i, diff)
		}
	}
}

func TestReviewJSONShape(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r := readmodels.AccessReview{PropertyID: "p", PropertyName: "n", Revision: 3, AsOf: at,
		Members: []readmodels.ReviewMember{
			{AccountID: "a", Email: "a@x.io", Role: admin, Status: enabled, Owner: true, JoinedAt: at},
			{AccountID: "b", Email: "b@x.io", Role: agent, Status: disabled, JoinedAt: at,
				Invitation:       &readmodels.ReviewInvitation{ID: "i", InvitedBy: readmodels.ReviewActor{AccountID: "a", Email: "a@x.io"}, InvitedAt: at},
				LastAccessChange: &readmodels.AccessChange{Type: domain.TypeMemberAccessDisabled, By: readmodels.ReviewActor{AccountID: "a", Email: "a@x.io"}, At: at}}},
		PendingInvitations: []readmodels.PendingInvitation{{ID: "j", Email: "c@x.io", Role: agent,
			InvitedBy: readmodels.ReviewActor{AccountID: "a", Email: "a@x.io"}, InvitedAt: at, ExpiresAt: at, AgeSeconds: 5}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	const ts = `"2026-03-02T09:00:00Z"`
	want := `{"property_id":"p","property_name":"n","revision":3,"as_of":` + ts + `,"members":[` +
		`{"account_id":"a","email":"a@x.io","role":"admin","status":"enabled","owner":true,"joined_at":` + ts + `,"invitation":null,"last_access_change":null},` +
		`{"account_id":"b","email":"b@x.io","role":"agent","status":"disabled","owner":false,"joined_at":` + ts + `,` +
		`"invitation":{"id":"i","invited_by":{"account_id":"a","email":"a@x.io"},"invited_at":` + ts + `},` +
		`"last_access_change":{"type":"MemberAccessDisabled","by":{"account_id":"a","email":"a@x.io"},"at":` + ts + `}}],` +
		`"pending_invitations":[{"id":"j","email":"c@x.io","role":"agent","invited_by":{"account_id":"a","email":"a@x.io"},` +
		`"invited_at":` + ts + `,"expires_at":` + ts + `,"age_seconds":5}]}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

// TestAsOfJSONShapes: as-of answers are today's shapes with as_of added.
func TestAsOfJSONShapes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"a member page", readmodels.MemberPageAsOf{AsOf: at, MemberPage: readmodels.MemberPage{Members: []readmodels.Member{}}},
			`{"as_of":"2026-03-02T09:00:00Z","members":[],"next_cursor":""}`},
		{"an access", readmodels.AccessAsOf{AsOf: at, Access: readmodels.Access{PropertyID: "p", AccountID: "a", Role: agent,
			Status: disabled, Permissions: []domain.Permission{}, UpdatedAt: at}},
			`{"as_of":"2026-03-02T09:00:00Z","property_id":"p","account_id":"a","role":"agent","status":"disabled",` +
				`"owner":false,"permissions":[],"updated_at":"2026-03-02T09:00:00Z","access_until":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}
