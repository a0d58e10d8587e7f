package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/invitetoken"
)

// Answer is the invitee's reply to an invitation, from the dashboard's
// notifications: accept or decline.
type Answer struct {
	PropertyID   string
	InvitationID string
	Accept       bool
}

// AnswerHandler handles Answer.
type AnswerHandler struct {
	exec *Executor
}

// Handle accepts or declines the invitation as the actor.
func (h AnswerHandler) Handle(ctx context.Context, m Meta, c Answer) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, now time.Time, _ IDs) ([]domain.Event, error) {
		if c.Accept {
			return p.Accept(m.Actor, now, c.InvitationID)
		}
		return p.Decline(m.Actor, now, c.InvitationID)
	})
}

// AcceptToken accepts an invitation by the token emailed to the invitee.
type AcceptToken struct {
	Token string
}

// AcceptTokenHandler handles AcceptToken.
type AcceptTokenHandler struct {
	exec   *Executor
	tokens *invitetoken.Key
}

// Handle checks the token against the invitation's current nonce and accepts.
// Errors: CodeInvalidToken for a malformed, forged or superseded token, and
// those of domain.Property.Accept.
func (h AcceptTokenHandler) Handle(ctx context.Context, m Meta, c AcceptToken) (Result, error) {
	propertyID, invitationID, err := h.tokens.Parse(c.Token)
	if err != nil {
		return Result{}, err
	}
	return h.exec.Run(ctx, m, propertyID, func(p *domain.Property, now time.Time, _ IDs) ([]domain.Event, error) {
		inv := p.Invitations[invitationID]
		if inv == nil || !h.tokens.Valid(c.Token, propertyID, invitationID, inv.TokenNonce) {
			return nil, invitetoken.Invalid()
		}
		return p.Accept(m.Actor, now, invitationID)
	})
}
