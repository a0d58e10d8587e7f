package domain

import (
	"errors"
	"strconv"
	"time"
)

// Lifetime is how long an invitation stays valid from when it is sent or
// resent. The zero Lifetime means none was chosen: the property's default
// applies.
type Lifetime time.Duration

// The bounds of every lifetime: one invitation's, and a property's default
// and maximum.
const (
	MinLifetime = Lifetime(time.Hour)
	MaxLifetime = Lifetime(30 * 24 * time.Hour)
)

// LifetimeSeconds is the Lifetime of s seconds, the unit the API speaks.
// Errors: CodeInvalidLifetime when s is outside MinLifetime..MaxLifetime
// (checked before converting, so no count of seconds overflows).
func LifetimeSeconds(s int64) (Lifetime, error) {
	if s < MinLifetime.Seconds() || s > MaxLifetime.Seconds() {
		return 0, lifetimeOutOfBounds(strconv.FormatInt(s, 10) + " seconds")
	}
	return Lifetime(time.Duration(s) * time.Second), nil
}

// Duration is l as a time.Duration.
func (l Lifetime) Duration() time.Duration { return time.Duration(l) }

// Seconds is l in whole seconds.
func (l Lifetime) Seconds() int64 { return int64(time.Duration(l) / time.Second) }

// Check returns an *Error with CodeInvalidLifetime when l is outside
// MinLifetime..MaxLifetime.
func (l Lifetime) Check() error {
	if l < MinLifetime || l > MaxLifetime {
		return lifetimeOutOfBounds(l.String())
	}
	return nil
}

// String says l in the largest whole unit of days, hours, minutes or
// seconds, as people read it in messages.
func (l Lifetime) String() string {
	d := time.Duration(l)
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}} {
		if d != 0 && d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 || n == -1 {
				return strconv.FormatInt(n, 10) + " " + u.name
			}
			return strconv.FormatInt(n, 10) + " " + u.name + "s"
		}
	}
	return d.String()
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
	return InvitationPolicy{Default: Lifetime(ttl), Maximum: MaxLifetime}
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
