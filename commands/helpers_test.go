package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/invitetoken"
)

// The tests drive the handlers the way the HTTP layer does, over the memory
// event store, and read back what was stored. Time is the fixture's clock,
// which stands still at t0 unless a test moves it.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const ttl = 72 * time.Hour

var tokenKey = []byte("roster-test-invitation-key-32-bytes!")

// The cast. Every account has a verified email unless a test changes it.
var (
	owner    = domain.Actor{AccountID: "acc-owner", Email: "owner@example.com", EmailVerified: true}
	ada      = domain.Actor{AccountID: "acc-ada", Email: "ada@example.com", EmailVerified: true}
	bob      = domain.Actor{AccountID: "acc-bob", Email: "bob@example.com", EmailVerified: true}
	cy       = domain.Actor{AccountID: "acc-cy", Email: "cy@example.com", EmailVerified: true}
	dan      = domain.Actor{AccountID: "acc-dan", Email: "dan@example.com", EmailVerified: true}
	outsider = domain.Actor{AccountID: "acc-outsider", Email: "outsider@example.com", EmailVerified: true}
)

// clock is the injected time; safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// fixture is one service's write side: handlers over a memory store.
type fixture struct {
	tb     testing.TB
	h      commands.Handlers
	mem    *memory.Store
	store  commands.EventStore
	clock  *clock
	tokens *invitetoken.Key
}

// newFixture wires the handlers; wrap, when given, puts a test store between
// the handlers and the memory store.
func newFixture(tb testing.TB, wrap func(*memory.Store) commands.EventStore) *fixture {
	tb.Helper()
	f := &fixture{tb: tb, mem: memory.New(), clock: &clock{now: t0},
		tokens: invitetoken.New(tokenKey)}
	f.store = f.mem
	if wrap != nil {
		f.store = wrap(f.mem)
	}
	f.h = f.instance()
	return f
}

// instance returns handlers of their own over the fixture's store, as another
// server instance would have: they share no cached state with f.h.
func (f *fixture) instance() commands.Handlers {
	return commands.New(commands.Config{Store: f.store, InviteTTL: ttl, Tokens: f.tokens, Now: f.clock.Now})
}

func as(a domain.Actor) commands.Meta { return commands.Meta{Actor: a} }

func keyed(a domain.Actor, key, hash string) commands.Meta {
	return commands.Meta{Actor: a, IdempotencyKey: key, RequestHash: hash}
}

// create makes a property owned by owner.
func (f *fixture) create() string {
	f.tb.Helper()
	res, err := f.h.CreateProperty.Handle(context.Background(), as(owner), commands.CreateProperty{Name: "Acme Support"})
	if err != nil {
		f.tb.Fatalf("create property: %v", err)
	}
	return res.PropertyID
}

// invite has owner invite one email and returns the invitation's mail.
func (f *fixture) invite(pid, email, role string) mail {
	f.tb.Helper()
	_, err := f.h.Invite.Handle(context.Background(), as(owner),
		commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: email, Role: role}}})
	if err != nil {
		f.tb.Fatalf("invite %s: %v", email, err)
	}
	return f.lastMailTo(email)
}

// join makes a a member with role, by invitation and the emailed token.
func (f *fixture) join(pid string, a domain.Actor, role string) {
	f.tb.Helper()
	mail := f.invite(pid, a.Email, role)
	if _, err := f.h.AcceptToken.Handle(context.Background(), as(a), commands.AcceptToken{Token: mail.Token}); err != nil {
		f.tb.Fatalf("%s accepts: %v", a.Email, err)
	}
}

func (f *fixture) lastMailTo(email string) mail {
	f.tb.Helper()
	sent := f.mails()
	for i := len(sent) - 1; i >= 0; i-- {
		if sent[i].Email == email {
			return sent[i]
		}
	}
	f.tb.Fatalf("no mail to %s among %d mails", email, len(sent))
	return mail{}
}

// mail is what the mail consumer would send for one stored MemberInvited
// or InvitationResent event: the invitee and the token that accepts.
type mail struct {
	PropertyID   string
	InvitationID string
	Email        string
	Token        string
}

// mails are the invitation mails the stored events call for, in feed
// order: one per invite and per resend, never one for a refused or
// repeated command, since those store nothing.
func (f *fixture) mails() []mail {
	f.tb.Helper()
	recs, err := f.mem.ReadAll(context.Background(), eventstore.Start, 1<<20)
	if err != nil {
		f.tb.Fatal(err)
	}
	emails := map[string]string{}
	var out []mail
	for _, rec := range recs {
		pid := strings.TrimPrefix(rec.StreamID, domain.StreamPrefix)
		e, err := domain.DecodeEvent(rec.Type, rec.Data)
		if err != nil {
			f.tb.Fatal(err)
		}
		switch e := e.(type) {
		case domain.MemberInvited:
			emails[e.InvitationID] = e.Email
			out = append(out, mail{pid, e.InvitationID, e.Email, f.tokens.Mint(pid, e.InvitationID, e.TokenNonce)})
		case domain.InvitationResent:
			out = append(out, mail{pid, e.InvitationID, emails[e.InvitationID], f.tokens.Mint(pid, e.InvitationID, e.TokenNonce)})
		}
	}
	return out
}

func (f *fixture) stream(pid string) []eventstore.RecordedEvent {
	f.tb.Helper()
	recs, err := f.mem.ReadStream(context.Background(), domain.StreamName(pid), 0)
	if err != nil {
		f.tb.Fatalf("read stream: %v", err)
	}
	return recs
}

func (f *fixture) types(pid string) []string {
	f.tb.Helper()
	var types []string
	for _, rec := range f.stream(pid) {
		types = append(types, rec.Type)
	}
	return types
}

func metadataOf(tb testing.TB, rec eventstore.RecordedEvent) domain.Metadata {
	tb.Helper()
	var m domain.Metadata
	if err := json.Unmarshal(rec.Metadata, &m); err != nil {
		tb.Fatalf("metadata of %s: %v", rec.Type, err)
	}
	return m
}

// invitationIDs lists the invitations a result's events made, in order.
func invitationIDs(res commands.Result) []string {
	var ids []string
	for _, e := range res.Events {
		if inv, ok := e.(domain.MemberInvited); ok {
			ids = append(ids, inv.InvitationID)
		}
	}
	return ids
}

// wantErr fails unless err is a *domain.Error of this kind and code.
func wantErr(tb testing.TB, err error, kind domain.Kind, code string) {
	tb.Helper()
	var de *domain.Error
	if !errors.As(err, &de) {
		tb.Fatalf("error = %v, want a *domain.Error %s/%s", err, kind, code)
	}
	if de.Kind != kind || de.Code != code {
		tb.Fatalf("error = %s/%s (%q), want %s/%s", de.Kind, de.Code, de.Message, kind, code)
	}
}
