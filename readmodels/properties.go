package readmodels

import (
	"context"
	"fmt"
	"time"

	"github.com/rosterhq/roster/domain"
)

// Property is a property with its counts, as GET /v1/properties/{pid} shows it.
type Property struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	OwnerID string `json:"owner_id"`
	// Revision is the stream revision of the last event applied: the ETag a
	// command may send back in If-Match.
	Revision    uint64 `json:"revision"`
	MemberCount int    `json:"member_count"`
	// PendingInvitationCount counts pending invitations, expired or not.
	PendingInvitationCount int       `json:"pending_invitation_count"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

// Property returns the property pid. It returns a *domain.Error of kind
// KindNotFound (CodePropertyNotFound) when the read model has no such
// property, which includes one created so recently that the projection has
// not caught up: use WaitFor first when that matters.
func (s *Store) Property(ctx context.Context, pid string) (Property, error) {
	var (
		p   Property
		rev int64
	)
	err := s.pool.QueryRow(ctx, `SELECT property_id, name, owner_id, revision, member_count,
		pending_invitation_count, created_at, updated_at
		FROM rm_properties WHERE property_id = $1`, pid).
		Scan(&p.ID, &p.Name, &p.OwnerID, &rev, &p.MemberCount, &p.PendingInvitationCount, &p.CreatedAt, &p.UpdatedAt)
	if isNoRows(err) {
		return Property{}, domain.Errorf(domain.KindNotFound, domain.CodePropertyNotFound, "property %q not found", pid)
	}
	if err != nil {
		return Property{}, fmt.Errorf("read property %s: %w", pid, err)
	}
	p.Revision = uint64(rev)
	utc(&p.CreatedAt, &p.UpdatedAt)
	return p, nil
}

// InvitationPolicy is a property's invitation policy as its admins set it,
// in seconds; both are 0 while the property has set none.
type InvitationPolicy struct {
	DefaultLifetimeSeconds int64
	MaximumLifetimeSeconds int64
}

// InvitationPolicy returns the invitation policy of property pid. Errors
// as for Property.
func (s *Store) InvitationPolicy(ctx context.Context, pid string) (InvitationPolicy, error) {
	var p InvitationPolicy
	err := s.pool.QueryRow(ctx, `SELECT invite_default_lifetime_s, invite_maximum_lifetime_s
		FROM rm_properties WHERE property_id = $1`, pid).Scan(&p.DefaultLifetimeSeconds, &p.MaximumLifetimeSeconds)
	if isNoRows(err) {
		return InvitationPolicy{}, domain.Errorf(domain.KindNotFound, domain.CodePropertyNotFound, "property %q not found", pid)
	}
	if err != nil {
		return InvitationPolicy{}, fmt.Errorf("read invitation policy of %s: %w", pid, err)
	}
	return p, nil
}
