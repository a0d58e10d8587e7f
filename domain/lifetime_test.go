package domain_test

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
)

const (
	hour = domain.Lifetime(3600)
	day  = 24 * hour
)

// policyChanged is the event of a property setting its policy.
func policyChanged(def, max domain.Lifetime) domain.InvitationPolicyChanged {
	return domain.InvitationPolicyChanged{Schema: domain.SchemaV1,
		DefaultLifetimeSeconds: def.Seconds(), MaximumLifetimeSeconds: max.Seconds()}
}

func setPolicy(a domain.Actor, def, max domain.Lifetime) decision {
	return func(p *domain.Property) ([]domain.Event, error) {
		return p.SetInvitationPolicy(a, domain.InvitationPolicy{Default: def, Maximum: max})
	}
}

// rowFor is an invitation row with a chosen lifetime.
func rowFor(id, email, role string, l domain.Lifetime) domain.InviteRequest {
	r := row(id, email, role)
	r.Lifetime = l
	return r
}

// invitedFor is the MemberInvited event of a row, lasting l from tNow;
// chosen says whether the inviter chose l.
func invitedFor(id, email string, l domain.Lifetime, chosen bool) domain.MemberInvited {
	e := newInvite(owner, id, email, domain.RoleAgent)
	e.ExpiresAt = tNow.Add(l.Duration())
	if chosen {
		e.LifetimeSeconds = l.Seconds()
	}
	return e
}

func TestLifetimeIsBetweenAnHourAndThirtyDays(t *testing.T) {
	tests := []struct {
		name    string
		seconds domain.Lifetime
		fails   bool
	}{
		{"one hour is the shortest", 3600, false},
		{"thirty days is the longest", 30 * 86400, false},
		{"a week", 7 * 86400, false},
		{"a second under an hour is refused", 3599, true},
		{"zero is refused", 0, true},
		{"a negative lifetime is refused", -3600, true},
		{"a second over thirty days is refused", 30*86400 + 1, true},
		{"the largest count of seconds is refused", math.MaxInt64, true},
		{"the smallest count of seconds is refused", math.MinInt64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.seconds.Check()
			if tt.fails {
				if domain.KindOf(err) != domain.KindInvalid || domain.CodeOf(err) != domain.CodeInvalidLifetime {
					t.Fatalf("Lifetime(%d).Check() = %v; want invalid/%s", tt.seconds, err, domain.CodeInvalidLifetime)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lifetime(%d).Check() = %v; want nil", tt.seconds, err)
			}
		})
	}
}

func TestLifetimeReadsInItsLargestWholeUnit(t *testing.T) {
	for l, want := range map[domain.Lifetime]string{
		hour: "1 hour", 36 * hour: "36 hours", 30 * day: "30 days", day: "1 day",
		domain.LifetimeOf(90 * time.Minute): "90 minutes", domain.LifetimeOf(time.Second): "1 second", 0: "0 seconds",
		-hour: "-1 hour", 61: "61 seconds",
	} {
		if got := l.String(); got != want {
			t.Errorf("%d seconds read %q, want %q", int64(l), got, want)
		}
	}
}

// An admin sets the policy: both lifetimes within 1 hour..30 days, the
// default no longer than the maximum.
func TestSetInvitationPolicy(t *testing.T) {
	run(t, []spec{
		{name: "the owner sets a default and a maximum", given: team(),
			when: setPolicy(owner, 3*day, 14*day), then: []domain.Event{policyChanged(3*day, 14*day)}},
		{name: "an admin sets them", given: team(),
			when: setPolicy(admin, hour, 30*day), then: []domain.Event{policyChanged(hour, 30*day)}},
		{name: "the default may equal the maximum", given: team(),
			when: setPolicy(admin, 2*day, 2*day), then: []domain.Event{policyChanged(2*day, 2*day)}},
		{name: "a policy may be changed again", given: events(team(), policyChanged(day, 2*day)),
			when: setPolicy(admin, 5*day, 10*day), then: []domain.Event{policyChanged(5*day, 10*day)}},
		{name: "an agent may not", given: team(), when: setPolicy(agent, day, 2*day),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden, says: "administrate_settings"}},
		{name: "a disabled admin may not", given: team(), when: setPolicy(offAdmin, day, 2*day),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeAccessDisabled}},
		{name: "an outsider is told the property does not exist", given: team(), when: setPolicy(outsider, day, 2*day),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
		{name: "nobody sets the policy of a property that does not exist", when: setPolicy(owner, day, 2*day),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound}},
		{name: "a default longer than the maximum is refused", given: team(), when: setPolicy(owner, 3*day, 2*day),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeDefaultAboveMaximum, says: "3 days is longer than the maximum 2 days"}},
		{name: "a default under an hour is refused", given: team(), when: setPolicy(owner, domain.LifetimeOf(time.Minute), 2*day),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidLifetime, says: "1 minute"}},
		{name: "a maximum over thirty days is refused", given: team(), when: setPolicy(owner, day, 31*day),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidLifetime, says: "31 days"}},
		{name: "a zero default is refused", given: team(), when: setPolicy(owner, 0, day),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidLifetime}},
		{name: "both lifetimes out of bounds are reported together", given: team(), when: setPolicy(owner, 0, 40*day),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidPolicy, says: "2 problems"}},
	})
}

func TestSetInvitationPolicyNamesEveryBadField(t *testing.T) {
	_, err := given(team()...).SetInvitationPolicy(owner, domain.InvitationPolicy{Default: domain.LifetimeOf(time.Minute), Maximum: 31 * day})
	want := []domain.Problem{
		{Index: -1, Field: "default_lifetime", Value: "60", Code: domain.CodeInvalidLifetime,
			Message: "lifetime 1 minute is not between 1 hour and 30 days"},
		{Index: -1, Field: "maximum_lifetime", Value: "2678400", Code: domain.CodeInvalidLifetime,
			Message: "lifetime 31 days is not between 1 hour and 30 days"},
	}
	if diff := cmp.Diff(want, problems(t, err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// An invitation lasts the lifetime its inviter chose, within 1 hour..30
// days and the property's maximum, or else the property's default.
func TestInviteLifetime(t *testing.T) {
	policy := policyChanged(2*day, 10*day)
	run(t, []spec{
		{name: "without a policy or a choice, the service default applies", given: created(),
			when: invite(owner, row("inv-1", "new@example.com", "agent")),
			then: []domain.Event{invitedFor("inv-1", "new@example.com", domain.LifetimeOf(ttl), false)}},
		{name: "without a choice, the property's default applies", given: events(created(), policy),
			when: invite(owner, row("inv-1", "new@example.com", "agent")),
			then: []domain.Event{invitedFor("inv-1", "new@example.com", 2*day, false)}},
		{name: "a chosen lifetime is kept in the event", given: events(created(), policy),
			when: invite(owner, rowFor("inv-1", "new@example.com", "agent", 5*hour)),
			then: []domain.Event{invitedFor("inv-1", "new@example.com", 5*hour, true)}},
		{name: "the property's maximum may be chosen", given: events(created(), policy),
			when: invite(owner, rowFor("inv-1", "new@example.com", "agent", 10*day)),
			then: []domain.Event{invitedFor("inv-1", "new@example.com", 10*day, true)}},
		{name: "without a policy, thirty days may be chosen", given: created(),
			when: invite(owner, rowFor("inv-1", "new@example.com", "agent", 30*day)),
			then: []domain.Event{invitedFor("inv-1", "new@example.com", 30*day, true)}},
		{name: "one hour may be chosen", given: created(),
			when: invite(owner, rowFor("inv-1", "new@example.com", "agent", hour)),
			then: []domain.Event{invitedFor("inv-1", "new@example.com", hour, true)}},
		{name: "a lifetime above the property's maximum is refused", given: events(created(), policy),
			when:  invite(owner, rowFor("inv-1", "new@example.com", "agent", 10*day+hour)),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeLifetimeAboveMaximum, says: "maximum of 10 days"}},
		{name: "a lifetime under an hour is refused", given: created(),
			when:  invite(owner, rowFor("inv-1", "new@example.com", "agent", domain.LifetimeOf(59*time.Minute))),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidLifetime, says: "59 minutes"}},
		{name: "a negative lifetime is refused", given: created(),
			when:  invite(owner, rowFor("inv-1", "new@example.com", "agent", -hour)),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidLifetime}},
		{name: "a lifetime over thirty days is refused even without a policy", given: created(),
			when:  invite(owner, rowFor("inv-1", "new@example.com", "agent", 31*day)),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidLifetime, says: "31 days"}},
		{name: "one row's bad lifetime refuses the whole invite", given: events(created(), policy),
			when: invite(owner, rowFor("inv-1", "a@example.com", "agent", day),
				rowFor("inv-2", "b@example.com", "agent", 20*day)),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeLifetimeAboveMaximum}},
	})
}

// Invariant 4 with lifetimes: every bad row is named, the lifetime in seconds.
func TestInviteReportsEveryBadLifetime(t *testing.T) {
	p := given(events(created(), policyChanged(day, 2*day))...)
	_, err := p.Invite(owner, tNow, ttl, []domain.InviteRequest{
		rowFor("inv-1", "a@example.com", "agent", 3*day),
		rowFor("inv-2", "b@example.com", "agent", day),
		rowFor("inv-3", "c@example.com", "agent", domain.LifetimeOf(time.Second)),
	})
	want := []domain.Problem{
		{Index: 0, Field: "lifetime", Value: "259200", Code: domain.CodeLifetimeAboveMaximum,
			Message: "lifetime 3 days is longer than this property's maximum of 2 days"},
		{Index: 2, Field: "lifetime", Value: "1", Code: domain.CodeInvalidLifetime,
			Message: "lifetime 1 second is not between 1 hour and 30 days"},
	}
	if domain.KindOf(err) != domain.KindInvalid || domain.CodeOf(err) != domain.CodeInvalidInvitations {
		t.Fatalf("error = %s/%s, want invalid/%s", domain.KindOf(err), domain.CodeOf(err), domain.CodeInvalidInvitations)
	}
	if diff := cmp.Diff(want, problems(t, err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// Resend renews a chosen lifetime (cut to today's maximum) and gives a
// defaulted invitation today's default.
func TestResendLifetime(t *testing.T) {
	chosen := func(l domain.Lifetime) domain.MemberInvited {
		e := invited("inv-pat", pat.Email, domain.RoleAgent, gone)
		e.LifetimeSeconds = l.Seconds()
		return e
	}
	resentFor := func(l domain.Lifetime) domain.InvitationResent {
		return domain.InvitationResent{Schema: domain.SchemaV1, InvitationID: "inv-pat", ExpiresAt: tNow.Add(l.Duration()), TokenNonce: "nonce-2"}
	}
	run(t, []spec{
		{name: "a chosen lifetime is renewed", given: events(created(), chosen(5*hour)),
			when: resend(owner, "inv-pat", "nonce-2"), then: []domain.Event{resentFor(5 * hour)}},
		{name: "a chosen lifetime is cut to a maximum lowered since", given: events(created(), chosen(20*day), policyChanged(day, 3*day)),
			when: resend(owner, "inv-pat", "nonce-2"), then: []domain.Event{resentFor(3 * day)}},
		{name: "a chosen lifetime under a maximum lowered since is kept", given: events(created(), chosen(2*day), policyChanged(day, 3*day)),
			when: resend(owner, "inv-pat", "nonce-2"), then: []domain.Event{resentFor(2 * day)}},
		{name: "a defaulted invitation gets the property's default of today",
			given: events(created(), invited("inv-pat", pat.Email, domain.RoleAgent, gone), policyChanged(4*day, 5*day)),
			when:  resend(owner, "inv-pat", "nonce-2"), then: []domain.Event{resentFor(4 * day)}},
		{name: "a defaulted invitation without a policy gets the service default",
			given: events(created(), invited("inv-pat", pat.Email, domain.RoleAgent, gone)),
			when:  resend(owner, "inv-pat", "nonce-2"), then: []domain.Event{resentFor(domain.LifetimeOf(ttl))}},
	})
}

func TestInvitationPolicyFoldsFromEvents(t *testing.T) {
	p := given(created()...)
	if got, set := p.InvitationPolicy(ttl); set || got != (domain.InvitationPolicy{Default: domain.LifetimeOf(ttl), Maximum: domain.MaxLifetime}) {
		t.Errorf("policy before any is set = %+v (set %v), want the service's", got, set)
	}
	p.Apply(policyChanged(day, 3*day), tNow)
	if got, set := p.InvitationPolicy(ttl); !set || got != (domain.InvitationPolicy{Default: day, Maximum: 3 * day}) {
		t.Errorf("policy after it is set = %+v (set %v), want 1 day, 3 days", got, set)
	}
}
