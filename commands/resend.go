package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// Resend gives a pending invitation a new token and expiry, and mails it again.
type Resend struct {
	PropertyID   string
	InvitationID string
}

// ResendHandler handles Resend.
type ResendHandler struct {
	exec   *Executor
	ttl    time.Duration
	tokens *Tokens
	mail   *mailer
}

// Handle decides the resend and mails the new link.
func (h ResendHandler) Handle(ctx context.Context, m Meta, c Resend) (Result, error) {
	var mail InvitationMail
	res, err := h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, now time.Time, ids IDs) ([]domain.Event, error) {
		events, err := p.Resend(m.Actor, now, h.ttl, c.InvitationID, ids.Next("nonce"))
		if err == nil {
			inv := p.Invitations[c.InvitationID]
			mail = InvitationMail{PropertyID: c.PropertyID, PropertyName: p.Name, InvitationID: inv.ID,
				Email: inv.Email, Role: inv.Role, InvitedBy: m.Actor.Email}
		}
		return events, err
	})
	if err != nil || res.Repeated {
		return res, err
	}
	for _, e := range res.Events {
		if r, ok := e.(domain.InvitationResent); ok {
			mail.ExpiresAt = r.ExpiresAt
			mail.Token = h.tokens.Mint(c.PropertyID, r.InvitationID, r.TokenNonce)
			h.mail.send(ctx, mail)
		}
	}
	return res, nil
}
