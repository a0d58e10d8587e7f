// Package limits bounds writes (docs/ARCHITECTURE.md section 10). The
// limits that must hold however many instances run (invitations per
// account per hour and per property per day, distinct new emails per
// property per day) are fixed-window counters in PostgreSQL, taken and
// checked in one statement (Store). The limits that guard an instance
// from bursts (commands per account per second, token failures per IP)
// are token buckets in memory, one per key in a bounded LRU, each
// instance allowed its share of the configured rate (Keyed).
//
// A refusal is a *Refusal: a *domain.Error of KindTooMany with the code
// naming the limit, and the fields of the RateLimit and RateLimit-Policy
// headers (draft-ietf-httpapi-ratelimit-headers). Every refusal is
// counted in roster_limit_refusals_total{limit}.
package limits

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rosterhq/roster/domain"
)

// Name is a limit's name: the label of its refusals in /metrics and the
// policy's name in the RateLimit headers.
type Name string

// The limits.
const (
	InvitationsPerActor    Name = "invitations_per_actor"
	InvitationsPerProperty Name = "invitations_per_property"
	NewEmailsPerProperty   Name = "new_emails_per_property"
	CommandsPerAccount     Name = "commands_per_account"
	TokenFailuresPerIP     Name = "token_failures_per_ip"
)

// The problem codes of the limits' refusals, one per limit. Clients switch
// on these, so renaming one breaks them.
const (
	CodeInvitationRateLimited   = "invitation_rate_limited"
	CodePropertyInvitationLimit = "property_invitation_limit"
	CodeNewEmailLimit           = "new_email_limit"
	CodeCommandRateLimited      = "command_rate_limited"
	CodeTokenFailureLimit       = "token_failure_limit"
)

var codeOf = map[Name]string{
	InvitationsPerActor:    CodeInvitationRateLimited,
	InvitationsPerProperty: CodePropertyInvitationLimit,
	NewEmailsPerProperty:   CodeNewEmailLimit,
	CommandsPerAccount:     CodeCommandRateLimited,
	TokenFailuresPerIP:     CodeTokenFailureLimit,
}

// Refusal is a write refused by a limit. It unwraps to the *domain.Error
// the one error mapping answers (429 with Retry-After), and gives that
// mapping the RateLimit headers' values.
type Refusal struct {
	Err *domain.Error
	// Limit is the limit that refused.
	Limit Name
	// Quota is how much the limit allows per Window.
	Quota  int
	Window time.Duration
	// Remaining is what is left of the quota now.
	Remaining int
	// Reset is how long until the quota is available again.
	Reset time.Duration
}

func (r *Refusal) Error() string { return r.Err.Error() }

// Unwrap returns the *domain.Error the refusal is answered as.
func (r *Refusal) Unwrap() error { return r.Err }

// RateLimitFields returns the values of the RateLimit-Policy and RateLimit
// header fields for the refusal, as Structured Field lists of one member:
// `"name";q=quota;w=seconds` and `"name";r=remaining;t=seconds`.
func (r *Refusal) RateLimitFields() (policy, current string) {
	w := seconds(r.Window)
	policy = fmt.Sprintf("%q;q=%d;w=%d", string(r.Limit), r.Quota, w)
	current = fmt.Sprintf("%q;r=%d;t=%d", string(r.Limit), max(r.Remaining, 0), seconds(r.Reset))
	return policy, current
}

// seconds rounds d up to whole seconds, at least one: a client told to
// wait zero seconds would retry at once.
func seconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// refusal builds the refusal of limit with its message.
func refusal(limit Name, quota int, window time.Duration, remaining int, reset time.Duration, msg string) *Refusal {
	return &Refusal{
		Err: &domain.Error{Kind: domain.KindTooMany, Code: codeOf[limit], RetryAfter: time.Duration(seconds(reset)) * time.Second,
			Message: msg + "; try again in " + strconv.FormatInt(seconds(reset), 10) + "s"},
		Limit: limit, Quota: quota, Window: window, Remaining: remaining, Reset: reset,
	}
}

// Metrics counts the refusals of every limit. The zero value counts
// nothing; get one from NewMetrics.
type Metrics struct {
	refusals *prometheus.CounterVec
}

// NewMetrics registers roster_limit_refusals_total on reg, with every
// limit's series at zero so a dashboard sees them before the first refusal.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_limit_refusals_total",
		Help: "Writes refused by a limit (answered 429), by limit.",
	}, []string{"limit"})}
	for name := range codeOf {
		m.refusals.WithLabelValues(string(name))
	}
	if reg != nil {
		if err := reg.Register(m.refusals); err != nil {
			return nil, fmt.Errorf("register limit metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) refused(limit Name) {
	if m != nil && m.refusals != nil {
		m.refusals.WithLabelValues(string(limit)).Inc()
	}
}

// Counter is the refusals' counter of limit, for tests.
func (m *Metrics) Counter(limit Name) prometheus.Counter {
	return m.refusals.WithLabelValues(string(limit))
}
