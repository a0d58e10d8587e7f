package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

// TestNothingUnstorableIsAppended: whoever calls, a command whose caller,
// request or decided events hold text PostgreSQL cannot store as it is (NUL,
// a byte that is not UTF-8) or a control character or an oversized value is
// refused with invalid_text (invalid_name for a name, which the domain
// checks first) naming the field, and the store gets no event: one such
// event would stop the projections for every property.
func TestNothingUnstorableIsAppended(t *testing.T) {
	ctx := context.Background()
	with := func(mutate func(m *commands.Meta)) commands.Meta {
		m := as(owner)
		mutate(&m)
		return m
	}
	actor := func(id, email string, verified bool) commands.Meta {
		return commands.Meta{Actor: domain.Actor{AccountID: id, Email: email, EmailVerified: verified}}
	}
	create := func(m commands.Meta, name string) func(f *fixture, pid string) error {
		return func(f *fixture, _ string) error {
			return ignore(f.h.CreateProperty.Handle(ctx, m, commands.CreateProperty{Name: name}))
		}
	}
	invite := func(m commands.Meta) func(f *fixture, pid string) error {
		return func(f *fixture, pid string) error {
			return ignore(f.h.Invite.Handle(ctx, m, commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: dan.Email, Role: "agent"}}}))
		}
	}
	leave := func(m commands.Meta) func(f *fixture, pid string) error {
		return func(f *fixture, pid string) error {
			return ignore(f.h.Remove.Handle(ctx, m, commands.Remove{PropertyID: pid, Leave: true}))
		}
	}
	// decided hands the executor events no domain decision returns, to
	// show the check holds for any decider.
	decided := func(events ...domain.Event) func(f *fixture, pid string) error {
		return func(f *fixture, pid string) error {
			x := commands.NewExecutor(f.store, f.clock.Now)
			return ignore(x.Run(ctx, as(owner), pid, func(*domain.Property, time.Time, commands.IDs) ([]domain.Event, error) {
				return events, nil
			}))
		}
	}
	tests := []struct {
		name string
		run  func(f *fixture, pid string) error
		code string
		says string
	}{
		{"a caller whose account ID holds NUL creates nothing", create(actor("acc\x00x", "x@example.com", true), "Mine"),
			domain.CodeInvalidText, "actor_id holds NUL (U+0000) at character 4"},
		{"a caller whose account ID is not UTF-8 creates nothing", create(actor("acc-\xff", "x@example.com", true), "Mine"),
			domain.CodeInvalidText, "actor_id holds a byte that is not UTF-8 (0xFF) at character 5"},
		{"a caller whose account ID is 2 KB creates nothing", create(actor(strings.Repeat("a", 2048), "x@example.com", true), "Mine"),
			domain.CodeInvalidText, "actor_id is 2048 bytes long"},
		{"a caller whose verified email holds NUL invites nobody", invite(actor(owner.AccountID, owner.Email+"\x00", true)),
			domain.CodeInvalidText, "actor_email holds NUL"},
		{"a member whose unverified email ends in NUL cannot leave", leave(actor(bob.AccountID, "bob@example.com\x00", false)),
			domain.CodeInvalidText, "actor_email holds NUL (U+0000) at character 16"},
		{"a member whose email is not UTF-8 cannot leave", leave(actor(bob.AccountID, "b\xc3@example.com", false)),
			domain.CodeInvalidText, "actor_email holds a byte that is not UTF-8"},
		{"a user agent with NUL invites nobody", invite(with(func(m *commands.Meta) { m.UserAgent = "curl/8\x00" })),
			domain.CodeInvalidText, "user_agent holds NUL (U+0000) at character 7"},
		{"a user agent with an escape sequence invites nobody", invite(with(func(m *commands.Meta) { m.UserAgent = "x\x1b[2J" })),
			domain.CodeInvalidText, "user_agent holds a control character (U+001B)"},
		{"a 2 KB user agent invites nobody", invite(with(func(m *commands.Meta) { m.UserAgent = strings.Repeat("u", 2048) })),
			domain.CodeInvalidText, "user_agent is 2048 bytes long; at most 1024"},
		{"a client IP with NUL invites nobody", invite(with(func(m *commands.Meta) { m.ClientIP = "192.0.2.1\x00" })),
			domain.CodeInvalidText, "client_ip holds NUL"},
		{"a request ID that is not UTF-8 invites nobody", invite(with(func(m *commands.Meta) { m.CorrelationID = "req-\xfe" })),
			domain.CodeInvalidText, "correlation_id holds a byte that is not UTF-8"},
		{"an idempotency key with NUL invites nobody", invite(with(func(m *commands.Meta) { m.IdempotencyKey = "k\x00" })),
			domain.CodeInvalidText, "idempotency_key holds NUL"},
		{"a name with NUL creates nothing", create(as(owner), "Acme\x00"), domain.CodeInvalidName, "NUL (U+0000) at character 5"},
		{"a name that is not UTF-8 creates nothing", create(as(owner), "Acme \xff"), domain.CodeInvalidName, "not UTF-8 (0xFF) at character 6"},
		{"a decided payload with NUL is not appended", decided(domain.MemberInvited{Schema: domain.SchemaV1, InvitationID: "i",
			Email: "eve@example.com\x00", Role: domain.RoleAgent, InvitedBy: owner.AccountID, ExpiresAt: t0.Add(ttl)}),
			domain.CodeInvalidText, "event MemberInvited field email holds NUL (U+0000) at character 16"},
		{"a decided payload that is not UTF-8 is not appended, nor the valid event before it", decided(
			domain.MemberAccessDisabled{Schema: domain.SchemaV1, AccountID: bob.AccountID},
			domain.MemberRoleChanged{Schema: domain.SchemaV1, AccountID: "acc-\xe9", From: domain.RoleAgent, To: domain.RoleAdmin}),
			domain.CodeInvalidText, "event MemberRoleChanged field account_id holds a byte that is not UTF-8 (0xE9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			pid := f.create()
			f.join(pid, bob, "agent")
			stored := f.feedLen()
			err := tt.run(f, pid)
			wantErr(t, err, domain.KindInvalid, tt.code)
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err.Error(), tt.says)
			}
			if got := f.feedLen(); got != stored {
				t.Errorf("the refused command stored %d events", got-stored)
			}
		})
	}
}

// TestAnOutsidersStaleIfMatchIsANotFound: a stale If-Match would tell an
// outsider that the property exists, and its revision; they get the 404 of
// the decision instead. Members, who know it exists, still get the 412.
func TestAnOutsidersStaleIfMatchIsANotFound(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	f.join(pid, bob, "agent")
	stale := uint64(0)
	tests := []struct {
		name string
		who  domain.Actor
		kind domain.Kind
		code string
	}{
		{"an outsider is told the property does not exist", outsider, domain.KindNotFound, domain.CodePropertyNotFound},
		{"a member is told the revision is stale", bob, domain.KindPrecondition, domain.CodeStaleRevision},
		{"the owner is told the revision is stale", owner, domain.KindPrecondition, domain.CodeStaleRevision},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := as(tt.who)
			m.IfMatch = &stale
			_, err := f.h.Invite.Handle(ctx, m, commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: dan.Email, Role: "agent"}}})
			wantErr(t, err, tt.kind, tt.code)
		})
	}
}
