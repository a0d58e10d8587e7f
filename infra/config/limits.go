package config

import (
	"strconv"
	"time"
)

// Defaults of the limits on writes: limits.DefaultInvitationsPerActorHour
// and the others, repeated so the configuration does not import them.
const (
	DefaultLimitInvitationsPerActorHour   = 100
	DefaultLimitInvitationsPerPropertyDay = 1000
	DefaultLimitNewEmailsPerPropertyDay   = 500
	DefaultLimitCommandsPerAccountSecond  = 20
	DefaultLimitTokenFailuresPerIPMinute  = 10
)

// maxLimit bounds every limit: above it a limit is a typo, not a choice.
const maxLimit = 10_000_000

// Limits are the limits on writes (ROSTER_LIMIT_*). Zero takes the default.
type Limits struct {
	// InvitationsPerActorHour is how many invitations one account may send
	// in a clock hour, over all instances.
	InvitationsPerActorHour int `json:"invitations_per_actor_hour"`
	// InvitationsPerPropertyDay is how many invitations a property may
	// send in a UTC day, over all instances, unless an operator raised it.
	InvitationsPerPropertyDay int `json:"invitations_per_property_day"`
	// NewEmailsPerPropertyDay is how many distinct addresses a property
	// may invite in a UTC day, unless an operator raised it.
	NewEmailsPerPropertyDay int `json:"new_emails_per_property_day"`
	// CommandsPerAccountSecond is how many commands one account may send a
	// second, shared by the live instances.
	CommandsPerAccountSecond int `json:"commands_per_account_second"`
	// TokenFailuresPerIPMinute is how many refused bearer tokens one
	// address may send a minute, shared by the live instances.
	TokenFailuresPerIPMinute int `json:"token_failures_per_ip_minute"`
}

// Windows of the in-memory limits.
const (
	CommandsWindow      = time.Second
	TokenFailuresWindow = time.Minute
)

// limitSettings are the limits' variables; settings lists them after the
// others.
var limitSettings = []setting{
	{env: "ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR", usage: "invitations one account may send in a clock hour, over all instances (`n`)",
		def: strconv.Itoa(DefaultLimitInvitationsPerActorHour), parse: count(func(c *Config) *int { return &c.Limits.InvitationsPerActorHour })},
	{env: "ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY", usage: "invitations a property may send in a UTC day, over all instances, unless an operator raised it (`n`)",
		def: strconv.Itoa(DefaultLimitInvitationsPerPropertyDay), parse: count(func(c *Config) *int { return &c.Limits.InvitationsPerPropertyDay })},
	{env: "ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY", usage: "distinct addresses a property may invite in a UTC day, unless an operator raised it (`n`)",
		def: strconv.Itoa(DefaultLimitNewEmailsPerPropertyDay), parse: count(func(c *Config) *int { return &c.Limits.NewEmailsPerPropertyDay })},
	{env: "ROSTER_LIMIT_COMMANDS_PER_ACCOUNT_SECOND", usage: "commands one account may send a second, shared by the live instances (`n`)",
		def: strconv.Itoa(DefaultLimitCommandsPerAccountSecond), parse: count(func(c *Config) *int { return &c.Limits.CommandsPerAccountSecond })},
	{env: "ROSTER_LIMIT_TOKEN_FAILURES_PER_IP_MINUTE", usage: "refused bearer tokens one address may send a minute before its requests are refused, shared by the live instances (`n`)",
		def: strconv.Itoa(DefaultLimitTokenFailuresPerIPMinute), parse: count(func(c *Config) *int { return &c.Limits.TokenFailuresPerIPMinute })},
}

func init() { settings = append(settings, limitSettings...) }

// limitFields ties each limit's variable to its field and default.
func (c *Config) limitFields() []struct {
	env   string
	field *int
	def   int
} {
	return []struct {
		env   string
		field *int
		def   int
	}{
		{"ROSTER_LIMIT_INVITATIONS_PER_ACTOR_HOUR", &c.Limits.InvitationsPerActorHour, DefaultLimitInvitationsPerActorHour},
		{"ROSTER_LIMIT_INVITATIONS_PER_PROPERTY_DAY", &c.Limits.InvitationsPerPropertyDay, DefaultLimitInvitationsPerPropertyDay},
		{"ROSTER_LIMIT_NEW_EMAILS_PER_PROPERTY_DAY", &c.Limits.NewEmailsPerPropertyDay, DefaultLimitNewEmailsPerPropertyDay},
		{"ROSTER_LIMIT_COMMANDS_PER_ACCOUNT_SECOND", &c.Limits.CommandsPerAccountSecond, DefaultLimitCommandsPerAccountSecond},
		{"ROSTER_LIMIT_TOKEN_FAILURES_PER_IP_MINUTE", &c.Limits.TokenFailuresPerIPMinute, DefaultLimitTokenFailuresPerIPMinute},
	}
}

// setLimitDefaults fills every limit left zero.
func (c *Config) setLimitDefaults() {
	for _, f := range c.limitFields() {
		if *f.field == 0 {
			*f.field = f.def
		}
	}
}

// validateLimits refuses a limit below one or above maxLimit.
func (c Config) validateLimits(add func(env, format string, args ...any)) {
	for _, f := range c.limitFields() {
		if _, failed := c.parseErrs[f.env]; failed {
			continue
		}
		if *f.field < 1 || *f.field > maxLimit {
			add(f.env, "%d is not from 1 to %d", *f.field, maxLimit)
		}
	}
}
