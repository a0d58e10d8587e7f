package commands

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
)

// Config is what the command handlers are built from.
type Config struct {
	// Store is the event store the properties' streams live in.
	Store EventStore
	// InviteTTL is how long an invitation stays valid (domain.DefaultInviteTTL when zero).
	InviteTTL time.Duration
	// Tokens derives invitation tokens.
	Tokens *Tokens
	// Mailer sends invitation emails; nil sends none.
	Mailer Mailer
	// Log records mail failures, which do not fail the command.
	Log zerolog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Handlers holds one handler per command, all sharing one Executor.
type Handlers struct {
	CreateProperty    CreatePropertyHandler
	Invite            InviteHandler
	Resend            ResendHandler
	Revoke            RevokeHandler
	Answer            AnswerHandler
	AcceptToken       AcceptTokenHandler
	ChangeRole        ChangeRoleHandler
	SetAccess         SetAccessHandler
	Remove            RemoveHandler
	TransferOwnership TransferOwnershipHandler
}

// New wires the handlers.
func New(c Config) Handlers {
	exec := NewExecutor(c.Store, c.Now)
	ttl := c.InviteTTL
	if ttl <= 0 {
		ttl = domain.DefaultInviteTTL
	}
	mail := &mailer{to: c.Mailer, log: c.Log}
	return Handlers{
		CreateProperty:    CreatePropertyHandler{exec: exec},
		Invite:            InviteHandler{exec: exec, ttl: ttl, tokens: c.Tokens, mail: mail},
		Resend:            ResendHandler{exec: exec, ttl: ttl, tokens: c.Tokens, mail: mail},
		Revoke:            RevokeHandler{exec: exec},
		Answer:            AnswerHandler{exec: exec},
		AcceptToken:       AcceptTokenHandler{exec: exec, tokens: c.Tokens},
		ChangeRole:        ChangeRoleHandler{exec: exec},
		SetAccess:         SetAccessHandler{exec: exec},
		Remove:            RemoveHandler{exec: exec},
		TransferOwnership: TransferOwnershipHandler{exec: exec},
	}
}

// mailer sends after the events are stored; a failure is logged, not
// returned, because the invitation exists and can be resent.
type mailer struct {
	to  Mailer
	log zerolog.Logger
}

func (m *mailer) send(ctx context.Context, mail InvitationMail) {
	if m.to == nil {
		return
	}
	if err := m.to.SendInvitation(ctx, mail); err != nil {
		m.log.Error().Err(err).Str("property_id", mail.PropertyID).Str("invitation_id", mail.InvitationID).
			Msg("invitation email not sent; the invitation stands and can be resent")
	}
}
