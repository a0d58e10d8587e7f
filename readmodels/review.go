package readmodels

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/rosterhq/roster/domain"
)

// An access review is built by folding the property's events, as the as-of
// answers are, not from the read models: no table links a member to the
// invitation it accepted or keeps who last changed its access, and a fold
// makes the review at a moment agree with the as-of answers at that moment.

// ReviewActor is an account that did something, with its email as the
// event that records it carried.
type ReviewActor struct {
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
}

// AccessChange is the last change to a member's access since it joined: a
// role change, a disable or enable, or ownership moving to or from it. Type
// is the stored event type.
type AccessChange struct {
	Type string      `json:"type"`
	By   ReviewActor `json:"by"`
	At   time.Time   `json:"at"`
}

// ReviewInvitation is the invitation a member accepted to join.
type ReviewInvitation struct {
	ID        string      `json:"id"`
	InvitedBy ReviewActor `json:"invited_by"`
	InvitedAt time.Time   `json:"invited_at"`
}

// ReviewMember is one member in an access review.
type ReviewMember struct {
	AccountID string              `json:"account_id"`
	Email     string              `json:"email"`
	Role      domain.Role         `json:"role"`
	Status    domain.MemberStatus `json:"status"`
	Owner     bool                `json:"owner"`
	JoinedAt  time.Time           `json:"joined_at"`
	// Invitation is how the member came in; nil for the account that
	// created the property, which joined without one.
	Invitation *ReviewInvitation `json:"invitation"`
	// LastAccessChange is nil when the access is as the member joined with.
	LastAccessChange *AccessChange `json:"last_access_change"`
}

// PendingInvitation is an invitation that could still be accepted at the
// review's moment: pending and not expired.
type PendingInvitation struct {
	ID        string      `json:"id"`
	Email     string      `json:"email"`
	Role      domain.Role `json:"role"`
	InvitedBy ReviewActor `json:"invited_by"`
	InvitedAt time.Time   `json:"invited_at"`
	ExpiresAt time.Time   `json:"expires_at"`
	// AgeSeconds is how long it had been out at the review's moment.
	AgeSeconds int64 `json:"age_seconds"`
}

// AccessReview is who had access to a property at AsOf and how they got
// it, and who could still get it: members by email then account ID, pending
// invitations oldest first.
type AccessReview struct {
	PropertyID         string              `json:"property_id"`
	PropertyName       string              `json:"property_name"`
	Revision           uint64              `json:"revision"`
	AsOf               time.Time           `json:"as_of"`
	Members            []ReviewMember      `json:"members"`
	PendingInvitations []PendingInvitation `json:"pending_invitations"`
	// Roles are the property's custom roles at AsOf, with the permissions
	// each gave then: what a member's custom role meant at the moment. It
	// is left out when the property had none; the built-in roles' are the
	// permission table's, always.
	Roles []Role `json:"roles,omitempty"`
}

// Review returns the access review of pid at moment at. Errors: as Members.
func (h *History) Review(ctx context.Context, pid string, at time.Time) (AccessReview, error) {
	s, err := h.fold(ctx, pid, at)
	if err != nil {
		return AccessReview{}, err
	}
	r := AccessReview{PropertyID: pid, PropertyName: s.p.Name, Revision: s.p.Version - 1, AsOf: s.at,
		Members: []ReviewMember{}, PendingInvitations: []PendingInvitation{}}
	if custom := rolesOf(s.p)[len(domain.BuiltinRoles()):]; len(custom) > 0 {
		r.Roles = custom
	}
	for _, m := range s.members() {
		rm := ReviewMember{AccountID: m.AccountID, Email: m.Email, Role: m.Role, Status: m.Status,
			Owner: m.Owner, JoinedAt: m.JoinedAt}
		if id, ok := s.joinedVia[m.AccountID]; ok {
			rm.Invitation = &ReviewInvitation{ID: id, InvitedBy: s.inviters[id], InvitedAt: s.invitedAt(id)}
		}
		if c, ok := s.lastChange[m.AccountID]; ok {
			rm.LastAccessChange = &c
		}
		r.Members = append(r.Members, rm)
	}
	for _, inv := range s.p.InvitationsInOrder() {
		if inv.StatusAt(s.at) != domain.InvitePending {
			continue
		}
		r.PendingInvitations = append(r.PendingInvitations, PendingInvitation{ID: inv.ID, Email: inv.Email,
			Role: inv.Role, InvitedBy: s.inviters[inv.ID], InvitedAt: inv.CreatedAt.UTC(), ExpiresAt: inv.ExpiresAt.UTC(),
			AgeSeconds: int64(s.at.Sub(inv.CreatedAt) / time.Second)})
	}
	// Creation order is already oldest first; the sort only settles events
	// whose clocks disagree with their order.
	slices.SortStableFunc(r.PendingInvitations, func(a, b PendingInvitation) int {
		return cmp.Compare(a.InvitedAt.UnixNano(), b.InvitedAt.UnixNano())
	})
	return r, nil
}

// invitedAt is when invitation id was sent, zero for one never seen.
func (s *past) invitedAt(id string) time.Time {
	if inv := s.p.Invitations[id]; inv != nil {
		return inv.CreatedAt.UTC()
	}
	return time.Time{}
}
