package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// SetInvitationPolicy sets how long a property's invitations last: the
// default, and the longest an inviter may choose.
type SetInvitationPolicy struct {
	PropertyID string
	Policy     domain.InvitationPolicy
}

// SetInvitationPolicyHandler handles SetInvitationPolicy.
type SetInvitationPolicyHandler struct {
	exec *Executor
}

// Handle decides the policy change (domain.Property.SetInvitationPolicy
// names its errors).
func (h SetInvitationPolicyHandler) Handle(ctx context.Context, m Meta, c SetInvitationPolicy) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		return p.SetInvitationPolicy(m.Actor, c.Policy)
	})
}
