package commands

import (
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/invitetoken"
)

// Config is what the command handlers are built from.
type Config struct {
	// Store is the event store the properties' streams live in.
	Store EventStore
	// InviteTTL is how long an invitation stays valid in a property that set
	// no invitation policy (domain.DefaultInviteTTL when zero).
	InviteTTL time.Duration
	// Tokens derives invitation tokens.
	Tokens *invitetoken.Key
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Vault seals personal fields in new events and opens them in events
	// read; nil stores them as they are.
	Vault Vault
	// Options tune the executor (e.g. WithCache).
	Options []Option
	// WebhookSecrets derives webhook endpoints' signing secrets.
	WebhookSecrets WebhookSecrets
	// WebhookRules check endpoints' settings.
	WebhookRules domain.WebhookRules
}

// Handlers holds one handler per command, all sharing one Executor.
type Handlers struct {
	CreateProperty    CreatePropertyHandler
	Invite            InviteHandler
	ImportMembers     ImportMembersHandler
	Resend            ResendHandler
	Revoke            RevokeHandler
	Answer            AnswerHandler
	AcceptToken       AcceptTokenHandler
	ChangeRole        ChangeRoleHandler
	SetAccess         SetAccessHandler
	Remove            RemoveHandler
	TransferOwnership TransferOwnershipHandler
	InvitationPolicy  SetInvitationPolicyHandler
	MayRead           MayReadHandler

	CreateWebhook         CreateWebhookHandler
	ChangeWebhook         ChangeWebhookHandler
	RotateWebhookSecret   RotateWebhookSecretHandler
	ListWebhooks          ListWebhooksHandler
	DisableFailingWebhook DisableFailingWebhookHandler

	CreateRole     CreateRoleHandler
	EditRole       EditRoleHandler
	DeleteRole     DeleteRoleHandler
	SetAccessUntil SetAccessUntilHandler
	ExpireAccess   ExpireAccessHandler

	exec *Executor
	ttl  time.Duration
}

// ServicePolicy is the invitation policy of a property that set none
// (domain.ServicePolicy of Config.InviteTTL).
func (h Handlers) ServicePolicy() domain.InvitationPolicy { return domain.ServicePolicy(h.ttl) }

// Flush drops the states the handlers keep in memory; see Executor.Flush.
func (h Handlers) Flush() { h.exec.Flush() }

// New wires the handlers.
func New(c Config) Handlers {
	opts := c.Options
	if c.Vault != nil {
		opts = append([]Option{WithVault(c.Vault)}, opts...)
	}
	exec := NewExecutor(c.Store, c.Now, opts...)
	ttl := c.InviteTTL
	if ttl <= 0 {
		ttl = domain.DefaultInviteTTL
	}
	return Handlers{
		CreateProperty:    CreatePropertyHandler{exec: exec},
		Invite:            InviteHandler{exec: exec, ttl: ttl},
		ImportMembers:     ImportMembersHandler{exec: exec},
		Resend:            ResendHandler{exec: exec, ttl: ttl},
		Revoke:            RevokeHandler{exec: exec},
		MayRead:           MayReadHandler{exec: exec},
		Answer:            AnswerHandler{exec: exec},
		AcceptToken:       AcceptTokenHandler{exec: exec, tokens: c.Tokens},
		ChangeRole:        ChangeRoleHandler{exec: exec},
		SetAccess:         SetAccessHandler{exec: exec},
		Remove:            RemoveHandler{exec: exec},
		TransferOwnership: TransferOwnershipHandler{exec: exec},
		InvitationPolicy:  SetInvitationPolicyHandler{exec: exec},
		exec:              exec,
		ttl:               ttl,

		CreateWebhook:         CreateWebhookHandler{exec: exec, secrets: c.WebhookSecrets, rules: c.WebhookRules},
		ChangeWebhook:         ChangeWebhookHandler{exec: exec, rules: c.WebhookRules},
		RotateWebhookSecret:   RotateWebhookSecretHandler{exec: exec, secrets: c.WebhookSecrets},
		ListWebhooks:          ListWebhooksHandler{exec: exec},
		DisableFailingWebhook: DisableFailingWebhookHandler{exec: exec},

		CreateRole:     CreateRoleHandler{exec: exec},
		EditRole:       EditRoleHandler{exec: exec},
		DeleteRole:     DeleteRoleHandler{exec: exec},
		SetAccessUntil: SetAccessUntilHandler{exec: exec},
		ExpireAccess:   ExpireAccessHandler{exec: exec},
	}
}
