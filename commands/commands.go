package commands

import (
	"time"

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
	return Handlers{
		CreateProperty:    CreatePropertyHandler{exec: exec},
		Invite:            InviteHandler{exec: exec, ttl: ttl},
		Resend:            ResendHandler{exec: exec, ttl: ttl},
		Revoke:            RevokeHandler{exec: exec},
		Answer:            AnswerHandler{exec: exec},
		AcceptToken:       AcceptTokenHandler{exec: exec, tokens: c.Tokens},
		ChangeRole:        ChangeRoleHandler{exec: exec},
		SetAccess:         SetAccessHandler{exec: exec},
		Remove:            RemoveHandler{exec: exec},
		TransferOwnership: TransferOwnershipHandler{exec: exec},
	}
}
