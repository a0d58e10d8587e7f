package readmodels_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// readSideSteps extends pt.Script: Eve joins Beta as an agent (step 26),
// Acme's first owner is disabled (27) and Ann joins Beta too (28).
func readSideSteps() []pt.Step {
	return append(pt.Script(),
		pt.Step{PropertyID: pt.Beta, ActorID: pt.Eve, ActorEmail: pt.EveEmail,
			Event: domain.MemberJoined{Schema: 1, AccountID: pt.Eve, Email: pt.EveEmail, Role: domain.RoleAgent}},
		pt.Step{PropertyID: pt.Acme, ActorID: pt.Ann, ActorEmail: pt.AnnEmail,
			Event: domain.MemberAccessDisabled{Schema: 1, AccountID: pt.Owner}},
		pt.Step{PropertyID: pt.Beta, ActorID: pt.Ann, ActorEmail: pt.AnnEmail,
			Event: domain.MemberJoined{Schema: 1, AccountID: pt.Ann, Email: pt.AnnEmail, Role: domain.RoleAgent, InvitationID: pt.InvAnnBeta}},
	)
}

func TestAccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t, readSideSteps()...)
	agent := []domain.Permission{domain.PermRespondToChats, domain.PermRespondToTickets, domain.PermAccessReporting,
		domain.PermAccessMessaging, domain.PermEditKnowledgeBase, domain.PermEditShortcuts, domain.PermViewMembers}
	admin := append(append([]domain.Permission{}, agent...),
		domain.PermManageInvitations, domain.PermManageMembers, domain.PermAdministrateSettings)
	owner := append(append([]domain.Permission{}, admin...), domain.PermTransferOwnership)
	tests := []struct {
		name     string
		pid, acc string
		want     readmodels.Access
	}{
		{"the owner may do everything, transfer included", pt.Acme, pt.Ann, readmodels.Access{PropertyID: pt.Acme, AccountID: pt.Ann,
			Role: domain.RoleAdmin, Status: domain.StatusEnabled, Owner: true, Permissions: owner, UpdatedAt: pt.At(14)}},
		{"a disabled admin may do nothing", pt.Acme, pt.Owner, readmodels.Access{PropertyID: pt.Acme, AccountID: pt.Owner,
			Role: domain.RoleAdmin, Status: domain.StatusDisabled, Permissions: []domain.Permission{}, UpdatedAt: pt.At(27)}},
		{"an agent may answer and read but not administer", pt.Beta, pt.Eve, readmodels.Access{PropertyID: pt.Beta, AccountID: pt.Eve,
			Role: domain.RoleAgent, Status: domain.StatusEnabled, Permissions: agent, UpdatedAt: pt.At(26)}},
		{"an account has its own access on each property", pt.Beta, pt.Ann, readmodels.Access{PropertyID: pt.Beta, AccountID: pt.Ann,
			Role: domain.RoleAgent, Status: domain.StatusEnabled, Permissions: agent, UpdatedAt: pt.At(28)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.rm.Access(context.Background(), tt.pid, tt.acc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Access (-want +got):\n%s", diff)
			}
		})
	}
	notFound := []struct {
		name     string
		pid, acc string
	}{
		{"a removed member has no access", pt.Acme, pt.Cat},
		{"a member who left has no access", pt.Acme, pt.Fay},
		{"an invitee who never joined has no access", pt.Acme, "acc-dee"},
		{"a member of another property has no access here", pt.Beta, pt.Owner},
		{"nobody has access to an unknown property", "p-none", pt.Ann},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.rm.Access(context.Background(), tt.pid, tt.acc)
			wantError(t, err, domain.KindNotFound, domain.CodeMemberNotFound, tt.acc)
		})
	}
}

func TestReadSideJSONShapes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"an audit entry with a change", readmodels.AuditEntry{OccurredAt: at, Type: "MemberRoleChanged", Revision: 7, Position: "9.9",
			EventID: "e", Actor: readmodels.AuditActor{AccountID: "a", Email: "a@x.io", IP: "203.0.113.7", UserAgent: "ua"},
			Subject: readmodels.AuditSubject{Kind: "member", ID: "m", Email: "m@x.io"},
			Change:  &readmodels.AuditChange{Field: "role", From: "agent", To: "admin"}, CorrelationID: "c", CausationID: "k", CommandID: "d"},
			`{"occurred_at":"2026-03-02T09:00:00Z","type":"MemberRoleChanged","revision":7,"position":"9.9","event_id":"e",` +
				`"actor":{"account_id":"a","email":"a@x.io","ip":"203.0.113.7","user_agent":"ua"},` +
				`"subject":{"kind":"member","id":"m","email":"m@x.io"},"change":{"field":"role","from":"agent","to":"admin"},` +
				`"correlation_id":"c","causation_id":"k","command_id":"d"}`},
		{"an audit page with an entry that changed no value", readmodels.AuditPage{Entries: []readmodels.AuditEntry{{OccurredAt: at,
			Type: "MemberLeft", Subject: readmodels.AuditSubject{Kind: "member"}}}, NextCursor: "n"},
			`{"entries":[{"occurred_at":"2026-03-02T09:00:00Z","type":"MemberLeft","revision":0,"position":"","event_id":"",` +
				`"actor":{"account_id":"","email":"","ip":"","user_agent":""},"subject":{"kind":"member","id":"","email":""},` +
				`"change":null,"correlation_id":"","causation_id":"","command_id":""}],"next_cursor":"n"}`},
		{"an access", readmodels.Access{PropertyID: "p", AccountID: "a", Role: domain.RoleAgent, Status: domain.StatusDisabled,
			Permissions: []domain.Permission{}, UpdatedAt: at},
			`{"property_id":"p","account_id":"a","role":"agent","status":"disabled","owner":false,"permissions":[],` +
				`"updated_at":"2026-03-02T09:00:00Z","access_until":null}`},
		{"one of my properties", readmodels.MyProperty{PropertyID: "p", Name: "n", Role: domain.RoleAdmin, Status: domain.StatusEnabled,
			Owner: true, JoinedAt: at, UpdatedAt: at},
			`{"property_id":"p","name":"n","role":"admin","status":"enabled","owner":true,` +
				`"joined_at":"2026-03-02T09:00:00Z","updated_at":"2026-03-02T09:00:00Z"}`},
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
