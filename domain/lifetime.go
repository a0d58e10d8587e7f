package domain

import (
	"errors"
	"strconv"
	"time"
)

// Lifetime is how long an invitation stays valid from when it is sent or
// resent, in whole seconds, the unit the API speaks: any count a client
// sends is a Lifetime, valid or not, so a refusal can name it as sent. The
// zero Lifetime means none was chosen: the property's default applies.
type Lifetime int64

// The bounds of every lifetime: one invitation's, and a property's default
// and maximum.
const (
	MinLifetime Lifetime = 60 * 60
	MaxLifetime Lifetime = 30 * 24 * 60 * 60
)

// LifetimeOf is d in whole seconds.
func LifetimeOf(d time.Duration) Lifetime { return Lifetime(d / time.Second) }

// Duration is l as a time.Duration; l must be within MinLifetime..MaxLifetime
// (Check), so that it cannot overflow.
func (l Lifetime) Duration() time.Duration { return time.Duration(l) * time.Second }

// Seconds is l in seconds.
func (l Lifetime) Seconds() int64 { return int64(l) }

// Check returns an *Error with CodeInvalidLifetime when l is outside
// MinLifetime..MaxLifetime.
func (l Lifetime) Check() error {
	if l < MinLifetime || l > MaxLifetime {
		return lifetimeOutOfBounds(l.String())
	}
	return nil
}

// String says l in the largest whole unit of days, hours, minutes or
// seconds, as people read it in messages ("3 days", "90 minutes").
func (l Lifetime) String() string {
	if l == 0 {
		return "0 seconds"
	}
	for _, u := range []struct {
		n    int64
		name string
	}{{24 * 60 * 60, "day"}, {60 * 60, "hour"}, {60, "minute"}, {1, "second"}} {
		if int64(l)%u.n == 0 {
			n := int64(l) / u.n
			if n == 1 || n == -1 {
				return strconv.FormatInt(n, 10) + " " + u.name
			}
			return strconv.FormatInt(n, 10) + " " + u.name + "s"
		}
	}
	return strconv.FormatInt(int64(l), 10) + " seconds"
}

func lifetimeOutOfBounds(value string) *Error {
	return Errorf(KindInvalid, CodeInvalidLifetime, "lifetime %s is not between %s and %s", value, MinLifetime, MaxLifetime)
}

// InvitationPolicy is how long a property's invitations last: Default when
// the inviter chooses no lifetime, and at most Maximum when they do.
type InvitationPolicy struct {
	Default Lifetime
	Maximum Lifetime
}

// Check returns nil for a policy that a property may set: both lifetimes
// within MinLifetime..MaxLifetime and the default no longer than the
// maximum. Otherwise an *Error of KindInvalid lists every problem, with the
// code CodeInvalidLifetime or CodeDefaultAboveMaximum (or, for several,
// CodeInvalidPolicy).
func (p InvitationPolicy) Check() error {
	var problems []Problem
	for _, f := range []struct {
		name string
		l    Lifetime
	}{{"default_lifetime", p.Default}, {"maximum_lifetime", p.Maximum}} {
		if err := f.l.Check(); err != nil {
			problems = append(problems, fieldProblem(f.name, strconv.FormatInt(f.l.Seconds(), 10), err))
		}
	}
	if len(problems) == 0 && p.Default > p.Maximum {
		problems = append(problems, Problem{Index: -1, Field: "default_lifetime", Value: strconv.FormatInt(p.Default.Seconds(), 10),
			Code: CodeDefaultAboveMaximum, Message: "default lifetime " + p.Default.String() + " is longer than the maximum " + p.Maximum.String()})
	}
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return &Error{Kind: KindInvalid, Code: problems[0].Code, Message: problems[0].Message, Problems: problems}
	}
	return &Error{Kind: KindInvalid, Code: CodeInvalidPolicy,
		Message: strconv.Itoa(len(problems)) + " problems with the invitation policy; nothing was changed", Problems: problems}
}

func fieldProblem(field, value string, err error) Problem {
	var e *Error
	if errors.As(err, &e) {
		return Problem{Index: -1, Field: field, Value: value, Code: e.Code, Message: e.Message}
	}
	return Problem{Index: -1, Field: field, Value: value, Code: CodeInternal, Message: err.Error()}
}

// ServicePolicy is the policy of a property that never set one: invitations
// last ttl (ROSTER_INVITE_TTL, the service's default, as before properties
// had policies) unless the inviter chooses, up to MaxLifetime.
func ServicePolicy(ttl time.Duration) InvitationPolicy {
	return InvitationPolicy{Default: LifetimeOf(ttl), Maximum: MaxLifetime}
}

// InvitationPolicy is the property's policy, or ServicePolicy(ttl) with
// set false when it never set one.
func (p *Property) InvitationPolicy(ttl time.Duration) (policy InvitationPolicy, set bool) {
	if p.Policy != nil {
		return *p.Policy, true
	}
	return ServicePolicy(ttl), false
}

// SetInvitationPolicy sets the property's invitation policy; it needs the
// administration-settings permission. Invitations already sent keep their
// expiry; the policy governs the ones sent or resent from now on.
// Errors: those of authorize, and those of InvitationPolicy.Check.
func (p *Property) SetInvitationPolicy(actor Actor, policy InvitationPolicy) ([]Event, error) {
	if err := p.authorize(actor, PermAdministrateSettings); err != nil {
		return nil, err
	}
	if err := policy.Check(); err != nil {
		return nil, err
	}
	return []Event{InvitationPolicyChanged{Schema: SchemaV1,
		DefaultLifetimeSeconds: policy.Default.Seconds(), MaximumLifetimeSeconds: policy.Maximum.Seconds()}}, nil
}

// allows returns nil when an inviter may choose l (zero: none chosen), else
// the *Error that says why not.
func (p InvitationPolicy) allows(l Lifetime) error {
	if l == 0 {
		return nil
	}
	if err := l.Check(); err != nil {
		return err
	}
	if l > p.Maximum {
		return Errorf(KindInvalid, CodeLifetimeAboveMaximum, "lifetime %s is longer than this property's maximum of %s", l, p.Maximum)
	}
	return nil
}

// lifetime is chosen, or the default when none was chosen.
func (p InvitationPolicy) lifetime(chosen Lifetime) Lifetime {
	if chosen == 0 {
		return p.Default
	}
	return chosen
}
