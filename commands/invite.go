package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/rosterhq/roster/domain"
)

// InviteRow is one invitation of an Invite command, as the client sent it.
type InviteRow struct {
	Email string
	Role  string
	// Lifetime is how long the invitation lasts; zero takes the property's default.
	Lifetime domain.Lifetime
	// AccessUntil is the RFC 3339 moment the membership ends; "" for never.
	AccessUntil string
}

// Invite invites one or many emails to a property, all or nothing.
type Invite struct {
	PropertyID string
	Rows       []InviteRow
}

// InviteHandler handles Invite.
type InviteHandler struct {
	exec *Executor
	ttl  time.Duration
}

// Handle decides the invitations. The invitees' mails are sent by the mail
// consumer of the event feed, from the stored events.
func (h InviteHandler) Handle(ctx context.Context, m Meta, c Invite) (Result, error) {
	emails := make([]string, len(c.Rows))
	for i, r := range c.Rows {
		emails[i] = r.Email
	}
	h.exec.prepare(ctx, m.Actor, emails)
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, now time.Time, ids IDs) ([]domain.Event, error) {
		reqs := make([]domain.InviteRequest, len(c.Rows))
		for i, r := range c.Rows {
			reqs[i] = domain.InviteRequest{InvitationID: ids.Next(fmt.Sprintf("invitation/%d", i)),
				Email: r.Email, Role: r.Role, Lifetime: r.Lifetime, TokenNonce: ids.Next(fmt.Sprintf("nonce/%d", i)),
				AccessUntil: r.AccessUntil}
		}
		return p.Invite(m.Actor, now, h.ttl, reqs)
	})
}
