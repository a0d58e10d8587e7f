package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// command is one keyed write, set up on a fresh fixture: run sends it with m.
type command func(f *fixture) (run func(m commands.Meta) (commands.Result, error), actor domain.Actor)

// everyCommand has one case per write path, each of which changes something.
var everyCommand = map[string]command{
	"create property": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.CreateProperty.Handle(context.Background(), m, commands.CreateProperty{Name: "Acme"})
		}, owner
	},
	"invite two": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.Invite.Handle(context.Background(), m, commands.Invite{PropertyID: pid,
				Rows: []commands.InviteRow{{Email: ada.Email, Role: "admin"}, {Email: bob.Email, Role: "agent"}}})
		}, owner
	},
	"import members": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.ImportMembers.Handle(context.Background(), m, commands.ImportMembers{PropertyID: pid,
				Rows: []commands.ImportRow{{AccountID: ada.AccountID, Email: ada.Email, Role: "admin"}, {AccountID: cy.AccountID, Email: cy.Email, Role: "agent"}}})
		}, owner
	},
	"resend": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		iid := f.invite(pid, ada.Email, "agent").InvitationID
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.Resend.Handle(context.Background(), m, commands.Resend{PropertyID: pid, InvitationID: iid})
		}, owner
	},
	"revoke": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		iid := f.invite(pid, ada.Email, "agent").InvitationID
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.Revoke.Handle(context.Background(), m, commands.Revoke{PropertyID: pid, InvitationIDs: []string{iid}})
		}, owner
	},
	"accept by token": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		token := f.invite(f.create(), ada.Email, "agent").Token
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.AcceptToken.Handle(context.Background(), m, commands.AcceptToken{Token: token})
		}, ada
	},
	"decline": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		iid := f.invite(pid, ada.Email, "agent").InvitationID
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.Answer.Handle(context.Background(), m, commands.Answer{PropertyID: pid, InvitationID: iid})
		}, ada
	},
	"change role": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		f.join(pid, bob, "agent")
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.ChangeRole.Handle(context.Background(), m, commands.ChangeRole{PropertyID: pid, AccountID: bob.AccountID, Role: "admin"})
		}, owner
	},
	"disable": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		f.join(pid, bob, "agent")
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.SetAccess.Handle(context.Background(), m, commands.SetAccess{PropertyID: pid, AccountID: bob.AccountID})
		}, owner
	},
	"remove": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		f.join(pid, bob, "agent")
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.Remove.Handle(context.Background(), m, commands.Remove{PropertyID: pid, AccountID: bob.AccountID})
		}, owner
	},
	"leave": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		f.join(pid, bob, "agent")
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.Remove.Handle(context.Background(), m, commands.Remove{PropertyID: pid, Leave: true})
		}, bob
	},
	"set invitation policy": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.InvitationPolicy.Handle(context.Background(), m, commands.SetInvitationPolicy{PropertyID: pid,
				Policy: domain.InvitationPolicy{Default: domain.LifetimeOf(24 * time.Hour), Maximum: domain.LifetimeOf(48 * time.Hour)}})
		}, owner
	},
	"create role": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		return func(m commands.Meta) (commands.Result, error) {
			res, err := f.h.CreateRole.Handle(context.Background(), m, commands.CreateRole{PropertyID: pid, Name: "Lead",
				Permissions: []string{"respond_to_chats"}})
			return res.Result, err
		}, owner
	},
	"edit role": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		id := f.role(pid, "Lead", "respond_to_chats")
		return func(m commands.Meta) (commands.Result, error) {
			name, perms := "Team lead", []string{"view_members"}
			return f.h.EditRole.Handle(context.Background(), m, commands.EditRole{PropertyID: pid, RoleID: id, Name: &name, Permissions: &perms})
		}, owner
	},
	"delete role": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		id := f.role(pid, "Lead", "respond_to_chats")
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.DeleteRole.Handle(context.Background(), m, commands.DeleteRole{PropertyID: pid, RoleID: id})
		}, owner
	},
	"transfer ownership": func(f *fixture) (func(commands.Meta) (commands.Result, error), domain.Actor) {
		pid := f.create()
		f.join(pid, ada, "admin")
		return func(m commands.Meta) (commands.Result, error) {
			return f.h.TransferOwnership.Handle(context.Background(), m, commands.TransferOwnership{PropertyID: pid, AccountID: ada.AccountID})
		}, owner
	},
}

// feedLen counts every event stored, in any stream.
func (f *fixture) feedLen() int {
	f.tb.Helper()
	recs, err := f.mem.ReadAll(context.Background(), eventstore.Start, 1<<20)
	if err != nil {
		f.tb.Fatalf("read all: %v", err)
	}
	return len(recs)
}

// TestSameKeyTwiceHasOneEffectAndTheSameResult is invariant 10 in docs/ARCHITECTURE.md on
// every write path: the repeat stores nothing, mails nothing, and answers
// what the first request was answered, marked Repeated.
func TestSameKeyTwiceHasOneEffectAndTheSameResult(t *testing.T) {
	for name, setup := range everyCommand {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			run, actor := setup(f)
			m := keyed(actor, "key-1", "hash-1")
			first, err := run(m)
			if err != nil {
				t.Fatalf("first: %v", err)
			}
			if first.Repeated || len(first.Events) == 0 {
				t.Fatalf("first result: repeated %v with %d events, want a fresh change", first.Repeated, len(first.Events))
			}
			stored, mails := f.feedLen(), len(f.mails())
			f.clock.Advance(time.Minute)
			second, err := run(m)
			if err != nil {
				t.Fatalf("repeat: %v", err)
			}
			want := first
			want.Repeated = true
			if diff := cmp.Diff(want, second); diff != "" {
				t.Errorf("repeat result (-want +got):\n%s", diff)
			}
			if got := f.feedLen(); got != stored {
				t.Errorf("repeat stored %d more events", got-stored)
			}
			if got := len(f.mails()); got != mails {
				t.Errorf("repeat sent %d more mails", got-mails)
			}
		})
	}
}

// TestRepeatAfterLaterChangesAnswersTheFirstResult: the repeat's revision and
// position are those of the first request, not of the stream today.
func TestRepeatAfterLaterChangesAnswersTheFirstResult(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	pid := f.create()
	cmd := commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: ada.Email, Role: "agent"}}}
	m := keyed(owner, "key-1", "hash-1")
	first, err := f.h.Invite.Handle(ctx, m, cmd)
	if err != nil {
		t.Fatalf("first: %v", err)
	}
	f.invite(pid, bob.Email, "agent")
	second, err := f.h.Invite.Handle(ctx, m, cmd)
	if err != nil {
		t.Fatalf("repeat: %v", err)
	}
	want := first
	want.Repeated = true
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("repeat result (-want +got):\n%s", diff)
	}
}

// TestKeyReusedForAnotherRequestIsRefused: a key answers only the request it
// was first used for; anything else is a client error that stores nothing.
func TestKeyReusedForAnotherRequestIsRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		first func(f *fixture, pid string) error
		again func(f *fixture, pid string) error
	}{
		{"same invite, other request hash", func(f *fixture, pid string) error {
			_, err := f.h.Invite.Handle(ctx, keyed(owner, "k", "h1"), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: ada.Email, Role: "agent"}}})
			return err
		}, func(f *fixture, pid string) error {
			_, err := f.h.Invite.Handle(ctx, keyed(owner, "k", "h2"), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: bob.Email, Role: "agent"}}})
			return err
		}},
		{"another command on the same property", func(f *fixture, pid string) error {
			_, err := f.h.Invite.Handle(ctx, keyed(owner, "k", "h1"), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: ada.Email, Role: "agent"}}})
			return err
		}, func(f *fixture, pid string) error {
			_, err := f.h.SetAccess.Handle(ctx, keyed(owner, "k", "h2"), commands.SetAccess{PropertyID: pid, AccountID: owner.AccountID})
			return err
		}},
		{"create property with another name", func(f *fixture, _ string) error {
			_, err := f.h.CreateProperty.Handle(ctx, keyed(owner, "k", "h1"), commands.CreateProperty{Name: "One"})
			return err
		}, func(f *fixture, _ string) error {
			_, err := f.h.CreateProperty.Handle(ctx, keyed(owner, "k", "h2"), commands.CreateProperty{Name: "Two"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			pid := f.create()
			if err := tt.first(f, pid); err != nil {
				t.Fatalf("first: %v", err)
			}
			stored, mails := f.feedLen(), len(f.mails())
			wantErr(t, tt.again(f, pid), domain.KindInvalid, domain.CodeIdempotencyKeyReused)
			if got := f.feedLen(); got != stored {
				t.Errorf("refused request stored %d events", got-stored)
			}
			if got := len(f.mails()); got != mails {
				t.Errorf("refused request sent %d mails", got-mails)
			}
		})
	}
}
