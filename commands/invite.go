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
}

// Invite invites one or many emails to a property, all or nothing.
type Invite struct {
	PropertyID string
	Rows       []InviteRow
}

// InvitationMail is what the invitee's email says.
type InvitationMail struct {
	PropertyID   string
	PropertyName string
	InvitationID string
	Email        string
	Role         domain.Role
	InvitedBy    string
	ExpiresAt    time.Time
	Token        string
}

// Mailer sends invitation emails. A failure to send does not undo the
// invitation: the admin can resend it.
type Mailer interface {
	SendInvitation(ctx context.Context, mail InvitationMail) error
}

// InviteHandler handles Invite.
type InviteHandler struct {
	exec   *Executor
	ttl    time.Duration
	tokens *Tokens
	mail   *mailer
}

// Handle decides the invitations and mails each invitee its link.
func (h InviteHandler) Handle(ctx context.Context, m Meta, c Invite) (Result, error) {
	var name string
	res, err := h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, now time.Time, ids IDs) ([]domain.Event, error) {
		name = p.Name
		reqs := make([]domain.InviteRequest, len(c.Rows))
		for i, r := range c.Rows {
			reqs[i] = domain.InviteRequest{InvitationID: ids.Next(fmt.Sprintf("invitation/%d", i)),
				Email: r.Email, Role: r.Role, TokenNonce: ids.Next(fmt.Sprintf("nonce/%d", i))}
		}
		return p.Invite(m.Actor, now, h.ttl, reqs)
	})
	if err != nil || res.Repeated {
		return res, err
	}
	for _, e := range res.Events {
		if inv, ok := e.(domain.MemberInvited); ok {
			h.mail.send(ctx, InvitationMail{PropertyID: c.PropertyID, PropertyName: name, InvitationID: inv.InvitationID,
				Email: inv.Email, Role: inv.Role, InvitedBy: m.Actor.Email, ExpiresAt: inv.ExpiresAt,
				Token: h.tokens.Mint(c.PropertyID, inv.InvitationID, inv.TokenNonce)})
		}
	}
	return res, nil
}
