package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rosterhq/roster/domain"
)

// The tests read as "given these events, when this decision, then these
// events or this error", after zitadel's command tests. Time is fixed: the
// given events happen from t0 on, one minute apart, and every decision is
// taken at tNow unless a test says otherwise.
var (
	t0   = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	tNow = t0.Add(24 * time.Hour)
	// later is an expiry still in the future at tNow.
	later = tNow.Add(48 * time.Hour)
	// gone is an expiry already passed at tNow.
	gone = tNow.Add(-time.Second)
)

const (
	pid = "prop-1"
	ttl = domain.DefaultInviteTTL
)

// The cast. Every account has a verified email unless a test changes it.
var (
	owner    = domain.Actor{AccountID: "acc-owner", Email: "owner@example.com", EmailVerified: true}
	admin    = domain.Actor{AccountID: "acc-admin", Email: "admin@example.com", EmailVerified: true}
	agent    = domain.Actor{AccountID: "acc-agent", Email: "agent@example.com", EmailVerified: true}
	offAdmin = domain.Actor{AccountID: "acc-off-admin", Email: "off-admin@example.com", EmailVerified: true}
	offAgent = domain.Actor{AccountID: "acc-off-agent", Email: "off-agent@example.com", EmailVerified: true}
	ted      = domain.Actor{AccountID: "acc-ted", Email: "ted@example.com", EmailVerified: true}
	outsider = domain.Actor{AccountID: "acc-outsider", Email: "outsider@example.com", EmailVerified: true}
	pat      = domain.Actor{AccountID: "acc-pat", Email: "pat@example.com", EmailVerified: true}
)

// given replays events into a fresh property, one minute apart from t0.
func given(events ...domain.Event) *domain.Property {
	p := domain.NewProperty(pid)
	for i, e := range events {
		p.Apply(e, t0.Add(time.Duration(i)*time.Minute))
	}
	return p
}

// events joins event lists and single events into one history.
func events(parts ...any) []domain.Event {
	var out []domain.Event
	for _, part := range parts {
		switch v := part.(type) {
		case []domain.Event:
			out = append(out, v...)
		case domain.Event:
			out = append(out, v)
		default:
			panic("events: not an event")
		}
	}
	return out
}

// created is a property whose only member is its owner.
func created() []domain.Event {
	return []domain.Event{
		domain.PropertyCreated{Schema: domain.SchemaV1, PropertyID: pid, Name: "Shop", OwnerID: owner.AccountID},
		joined(owner, domain.RoleAdmin),
	}
}

// team is a property with every kind of member: the owner, an admin, an agent,
// a disabled admin, a disabled agent, an agent called ted to act upon, and a
// pending invitation inv-pat.
func team() []domain.Event {
	return events(created(),
		joined(admin, domain.RoleAdmin),
		joined(agent, domain.RoleAgent),
		joined(offAdmin, domain.RoleAdmin), disabled(offAdmin),
		joined(offAgent, domain.RoleAgent), disabled(offAgent),
		joined(ted, domain.RoleAgent),
		invited("inv-pat", pat.Email, domain.RoleAgent, later),
	)
}

func joined(a domain.Actor, r domain.Role) domain.MemberJoined {
	return domain.MemberJoined{Schema: domain.SchemaV1, AccountID: a.AccountID, Email: a.Email, Role: r}
}

func invited(id, email string, r domain.Role, expires time.Time) domain.MemberInvited {
	return domain.MemberInvited{Schema: domain.SchemaV1, InvitationID: id, Email: email, Role: r,
		InvitedBy: owner.AccountID, ExpiresAt: expires, TokenNonce: "nonce-" + id}
}

func disabled(a domain.Actor) domain.MemberAccessDisabled {
	return domain.MemberAccessDisabled{Schema: domain.SchemaV1, AccountID: a.AccountID}
}

// decision is one command decided on the given state.
type decision func(p *domain.Property) ([]domain.Event, error)

// failure is the error a decision must return; the zero value means none.
type failure struct {
	kind domain.Kind
	code string
	// says, when set, must appear in the error message.
	says string
}

// spec is one row of a decision table.
type spec struct {
	name  string
	given []domain.Event
	when  decision
	then  []domain.Event
	fails failure
}

func run(t *testing.T, specs []spec) {
	t.Helper()
	for _, s := range specs {
		t.Run(s.name, func(t *testing.T) {
			got, err := s.when(given(s.given...))
			check(t, got, err, s.then, s.fails)
		})
	}
}

// check compares a decision's outcome with what the spec expects.
func check(t *testing.T, got []domain.Event, err error, then []domain.Event, fails failure) {
	t.Helper()
	if fails.code == "" {
		if err != nil {
			t.Fatalf("unexpected error %s/%s: %v", domain.KindOf(err), domain.CodeOf(err), err)
		}
		if diff := cmp.Diff(then, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("events mismatch (-want +got):\n%s", diff)
		}
		return
	}
	if err == nil {
		t.Fatalf("want error %s/%s, got events %v", fails.kind, fails.code, got)
	}
	if k, c := domain.KindOf(err), domain.CodeOf(err); k != fails.kind || c != fails.code {
		t.Fatalf("error = %s/%s (%v), want %s/%s", k, c, err, fails.kind, fails.code)
	}
	if !strings.Contains(err.Error(), fails.says) {
		t.Errorf("error %q does not say %q", err.Error(), fails.says)
	}
	if len(got) != 0 {
		t.Errorf("a refused decision returned events: %v", got)
	}
}

// problems returns the bulk problems of err, or fails the test.
func problems(t *testing.T, err error) []domain.Problem {
	t.Helper()
	e, ok := err.(*domain.Error)
	if !ok {
		t.Fatalf("error %v is %T, want *domain.Error", err, err)
	}
	return e.Problems
}

// Decisions, taken at tNow with the default TTL.

func row(id, email, role string) domain.InviteRequest {
	return domain.InviteRequest{InvitationID: id, Email: email, Role: role, TokenNonce: "nonce-" + id}
}

func invite(a domain.Actor, rows ...domain.InviteRequest) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.Invite(a, tNow, ttl, rows) }
}

// newInvite is the MemberInvited event invite returns for one row.
func newInvite(by domain.Actor, id, email string, r domain.Role) domain.MemberInvited {
	return domain.MemberInvited{Schema: domain.SchemaV1, InvitationID: id, Email: email, Role: r,
		InvitedBy: by.AccountID, ExpiresAt: tNow.Add(ttl), TokenNonce: "nonce-" + id}
}

func resend(a domain.Actor, id, nonce string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.Resend(a, tNow, ttl, id, nonce) }
}

func revoke(a domain.Actor, ids ...string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.Revoke(a, tNow, ids) }
}

func accept(a domain.Actor, id string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.Accept(a, tNow, id) }
}

func decline(a domain.Actor, id string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.Decline(a, tNow, id) }
}

func changeRole(a, target domain.Actor, role string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.ChangeRole(a, target.AccountID, role) }
}

func disable(a, target domain.Actor) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.DisableAccess(a, target.AccountID) }
}

func enable(a, target domain.Actor) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.EnableAccess(a, target.AccountID) }
}

func remove(a, target domain.Actor) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.Remove(a, target.AccountID) }
}

func leave(a domain.Actor) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.Leave(a) }
}

func transfer(a, target domain.Actor) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.TransferOwnership(a, target.AccountID) }
}

func create(a domain.Actor, name string) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.Create(a, name) }
}
