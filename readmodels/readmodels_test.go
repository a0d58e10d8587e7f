package readmodels_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// fixture is a database kept up to date by every projection, over a
// history a test can extend.
type fixture struct {
	pool    *pgxpool.Pool
	store   *memory.Store
	history *pt.History
	rm      *readmodels.Store
}

// newFixture appends steps, runs the projections and waits for them.
func newFixture(t *testing.T, steps ...pt.Step) *fixture {
	t.Helper()
	f := &fixture{pool: pgtest.NewPool(t), store: memory.New()}
	f.history = pt.NewHistory(t, f.store)
	f.rm = readmodels.New(f.pool)
	pt.Start(t, f.pool, f.store, zerolog.Nop(), projections.All()...)
	f.add(t, steps...)
	return f
}

// add appends steps and waits until every read model shows them.
func (f *fixture) add(t *testing.T, steps ...pt.Step) {
	t.Helper()
	pos := f.history.Add(steps...)
	reached, err := f.rm.WaitFor(context.Background(), pos, time.Minute)
	if err != nil || !reached {
		t.Fatalf("WaitFor(%s) = %v, %v; want true, nil", pos, reached, err)
	}
}

// equalTimes compares instants, whatever their location.
var equalTimes = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// wantError checks that err is a *domain.Error of kind and code whose
// message names value.
func wantError(t *testing.T, err error, kind domain.Kind, code, value string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %s/%s", kind, code)
	}
	if domain.KindOf(err) != kind || domain.CodeOf(err) != code {
		t.Errorf("error = %v (%s/%s), want %s/%s", err, domain.KindOf(err), domain.CodeOf(err), kind, code)
	}
	if !strings.Contains(err.Error(), value) {
		t.Errorf("error %q does not name %q", err, value)
	}
}

func TestProperty(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	tests := []struct {
		name string
		pid  string
		want readmodels.Property
	}{
		{"a property shows its owner, last revision and counts", pt.Acme, readmodels.Property{
			ID: pt.Acme, Name: "Acme", OwnerID: pt.Ann, Revision: 20, MemberCount: 2, PendingInvitationCount: 1,
			CreatedAt: pt.At(0), UpdatedAt: pt.At(20)}},
		{"each property has its own counts", pt.Beta, readmodels.Property{
			ID: pt.Beta, Name: "Beta", OwnerID: pt.Other, Revision: 4, MemberCount: 1, PendingInvitationCount: 1,
			CreatedAt: pt.At(21), UpdatedAt: pt.At(25)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.rm.Property(context.Background(), tt.pid)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Property (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an unknown property is not found", func(t *testing.T) {
		_, err := f.rm.Property(context.Background(), "p-none")
		wantError(t, err, domain.KindNotFound, domain.CodePropertyNotFound, "p-none")
	})
}

func TestMembership(t *testing.T) {
	t.Parallel()
	f := newFixture(t, append(pt.Script(),
		/* 26 */ pt.Step{PropertyID: pt.Acme, ActorID: pt.Ann, ActorEmail: pt.AnnEmail,
			Event: domain.MemberAccessDisabled{Schema: 1, AccountID: pt.Owner}})...)
	tests := []struct {
		name      string
		pid, acc  string
		want      readmodels.Member
		wantFound bool
		canRead   bool
	}{
		{"the owner is an enabled member who may read", pt.Acme, pt.Ann, readmodels.Member{
			AccountID: pt.Ann, Email: pt.AnnEmail, Role: domain.RoleAdmin, Status: domain.StatusEnabled, Owner: true,
			JoinedAt: pt.At(5), UpdatedAt: pt.At(14)}, true, true},
		{"a disabled member is found but may not read", pt.Acme, pt.Owner, readmodels.Member{
			AccountID: pt.Owner, Email: pt.OwnerEmail, Role: domain.RoleAdmin, Status: domain.StatusDisabled,
			JoinedAt: pt.At(1), UpdatedAt: pt.At(26)}, true, false},
		{"a removed member is not a member", pt.Acme, pt.Cat, readmodels.Member{}, false, false},
		{"a member who left is not a member", pt.Acme, pt.Fay, readmodels.Member{}, false, false},
		{"a member of another property is not a member", pt.Beta, pt.Ann, readmodels.Member{}, false, false},
		{"nobody is a member of an unknown property", "p-none", pt.Ann, readmodels.Member{}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := f.rm.Membership(context.Background(), tt.pid, tt.acc)
			if err != nil {
				t.Fatal(err)
			}
			if found != tt.wantFound || got.CanRead() != tt.canRead {
				t.Errorf("found, CanRead = %v, %v; want %v, %v", found, got.CanRead(), tt.wantFound, tt.canRead)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Membership (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJSONShapes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"a property", readmodels.Property{ID: "p", Name: "n", OwnerID: "o", Revision: 3, MemberCount: 2,
			PendingInvitationCount: 1, CreatedAt: at, UpdatedAt: at},
			`{"id":"p","name":"n","owner_id":"o","revision":3,"member_count":2,"pending_invitation_count":1,` +
				`"created_at":"2026-03-02T09:00:00Z","updated_at":"2026-03-02T09:00:00Z"}`},
		{"a member page", readmodels.MemberPage{Members: []readmodels.Member{{AccountID: "a", Email: "e@x.io",
			Role: domain.RoleAgent, Status: domain.StatusEnabled, Owner: false, JoinedAt: at, UpdatedAt: at}}, NextCursor: "c"},
			`{"members":[{"account_id":"a","email":"e@x.io","role":"agent","status":"enabled","owner":false,` +
				`"joined_at":"2026-03-02T09:00:00Z","updated_at":"2026-03-02T09:00:00Z","access_until":null}],"next_cursor":"c"}`},
		{"an invitation", readmodels.Invitation{ID: "i", Email: "e@x.io", Role: domain.RoleAdmin,
			Status: domain.InviteExpired, InvitedBy: "a", CreatedAt: at, ExpiresAt: at, UpdatedAt: at},
			`{"id":"i","email":"e@x.io","role":"admin","status":"expired","invited_by":"a",` +
				`"created_at":"2026-03-02T09:00:00Z","expires_at":"2026-03-02T09:00:00Z","updated_at":"2026-03-02T09:00:00Z","access_until":null}`},
		{"one of my invitations", readmodels.MyInvitation{ID: "i", PropertyID: "p", PropertyName: "n",
			Role: domain.RoleAgent, InvitedBy: "a", InvitedByEmail: "a@x.io", CreatedAt: at, ExpiresAt: at},
			`{"id":"i","property_id":"p","property_name":"n","role":"agent","invited_by":"a","invited_by_email":"a@x.io",` +
				`"created_at":"2026-03-02T09:00:00Z","expires_at":"2026-03-02T09:00:00Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}
