package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/readmodels"
)

// waitReads is a read side at position at with the given members of
// property pid. It records the calls it gets, in order; WaitFor "reaches"
// the position at once and then shows joining as a member too, as the read
// models would once they had applied its change.
type waitReads struct {
	ReadModels
	mu      sync.Mutex
	at      eventstore.Position
	members map[string]bool
	joining string
	pid     string // the property the members belong to
	calls   []string
}

func (f *waitReads) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *waitReads) Position(context.Context) (eventstore.Position, error) {
	f.record("Position")
	return f.at, nil
}

func (f *waitReads) WaitFor(_ context.Context, pos eventstore.Position, _ time.Duration) (bool, error) {
	f.record("WaitFor")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = pos
	if f.joining != "" {
		f.members[f.joining] = true
	}
	return true, nil
}

func (f *waitReads) Membership(_ context.Context, pid, accountID string) (readmodels.Member, bool, error) {
	f.record("Membership " + accountID)
	f.mu.Lock()
	defer f.mu.Unlock()
	if pid != f.pid || !f.members[accountID] {
		return readmodels.Member{}, false, nil
	}
	return readmodels.Member{AccountID: accountID, Status: domain.StatusEnabled, Role: domain.RoleAgent}, true, nil
}

func (f *waitReads) MyProperties(context.Context, string, string, int) (readmodels.MyPropertyPage, error) {
	f.record("MyProperties")
	return readmodels.MyPropertyPage{Properties: []readmodels.MyProperty{}}, nil
}

// streamOfP1 writes, through the command handlers, a property whose stream
// says what the read models in the tests below have not applied yet: owner
// created it; joiner accepted an invitation; agent was disabled and enabled
// again; gone joined and was removed; decliner declined. It returns the
// handlers, which read that stream, and the property's ID.
func streamOfP1(t *testing.T) (commands.Handlers, string) {
	t.Helper()
	ctx := context.Background()
	h := commands.New(commands.Config{Store: memory.New(), Tokens: invitetoken.New([]byte("httpapi-test-invitation-key-32-bytes"))})
	as := func(who string) commands.Meta {
		return commands.Meta{Actor: domain.Actor{AccountID: who, Email: who + "@example.com", EmailVerified: true}}
	}
	res, err := h.CreateProperty.Handle(ctx, as("owner"), commands.CreateProperty{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	pid := res.PropertyID
	invite := func(who string) string {
		res, err := h.Invite.Handle(ctx, as("owner"), commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: who + "@example.com", Role: "agent"}}})
		if err != nil {
			t.Fatalf("invite %s: %v", who, err)
		}
		return res.Events[0].(domain.MemberInvited).InvitationID
	}
	answer := func(who string, accept bool) {
		if _, err := h.Answer.Handle(ctx, as(who), commands.Answer{PropertyID: pid, InvitationID: invite(who), Accept: accept}); err != nil {
			t.Fatalf("%s answers: %v", who, err)
		}
	}
	must := func(_ commands.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, who := range []string{"joiner", "agent", "gone"} {
		answer(who, true)
	}
	answer("decliner", false)
	must(h.SetAccess.Handle(ctx, as("owner"), commands.SetAccess{PropertyID: pid, AccountID: "agent", Enabled: false}))
	must(h.SetAccess.Handle(ctx, as("owner"), commands.SetAccess{PropertyID: pid, AccountID: "agent", Enabled: true}))
	must(h.Remove.Handle(ctx, as("owner"), commands.Remove{PropertyID: pid, AccountID: "gone"}))
	return h, pid
}

// TestMinPositionWaitsOnlyAfterAuthorization: a query sent with
// Roster-Min-Position authorizes the caller first, and only a caller who
// may read the property, or whose own change the read models have not
// applied yet, is made to wait. An outsider's 404 comes without any wait.
func TestMinPositionWaitsOnlyAfterAuthorization(t *testing.T) {
	behind, ahead := eventstore.Position{Commit: 10, Prepare: 10}, eventstore.Position{Commit: 20, Prepare: 20}
	tests := []struct {
		name      string
		caller    string
		path      string
		minPos    string
		reads     *waitReads
		status    int
		wantCalls []string
	}{
		{
			name: "an outsider is told the property does not exist without waiting", caller: "mallory", path: "/v1/properties/{pid}",
			minPos: ahead.String(), reads: &waitReads{at: behind, members: map[string]bool{"owner": true}},
			status:    http.StatusNotFound,
			wantCalls: []string{"Position", "Membership mallory"},
		},
		{
			name: "an outsider sending a position from the far future does not wait either", caller: "mallory", path: "/v1/properties/{pid}/members",
			minPos: "18446744073709551615.0", reads: &waitReads{at: behind, members: map[string]bool{"owner": true}},
			status:    http.StatusNotFound,
			wantCalls: []string{"Position", "Membership mallory"},
		},
		{
			name: "an outsider of a property that does not exist does not wait", caller: "mallory", path: "/v1/properties/0b7c5a8e-2f4d-4c1e-9a6b-3d2f1e0c9b8a/audit",
			minPos: ahead.String(), reads: &waitReads{at: behind, members: map[string]bool{}},
			status:    http.StatusNotFound,
			wantCalls: []string{"Position", "Membership mallory"},
		},
		{
			name: "a caller who only declined an invitation does not wait", caller: "decliner", path: "/v1/properties/{pid}",
			minPos: ahead.String(), reads: &waitReads{at: behind, members: map[string]bool{"owner": true}},
			status:    http.StatusNotFound,
			wantCalls: []string{"Position", "Membership decliner"},
		},
		{
			name: "a member is authorized, then waits, then is authorized again", caller: "agent", path: "/v1/properties/{pid}/members/agent/history",
			minPos: ahead.String(), reads: &waitReads{at: behind, members: map[string]bool{"agent": true}},
			status:    http.StatusOK,
			wantCalls: []string{"Position", "Membership agent", "WaitFor", "Position", "Membership agent", "MemberHistory"},
		},
		{
			name: "the creator of a property not projected yet waits for its own change", caller: "owner", path: "/v1/properties/{pid}/members/owner/history",
			minPos: ahead.String(), reads: &waitReads{at: behind, members: map[string]bool{}, joining: "owner"},
			status:    http.StatusOK,
			wantCalls: []string{"Position", "Membership owner", "WaitFor", "Position", "Membership owner", "MemberHistory"},
		},
		{
			name: "an invitee whose acceptance is not projected yet waits for it", caller: "joiner", path: "/v1/properties/{pid}/members/joiner/history",
			minPos: ahead.String(), reads: &waitReads{at: behind, members: map[string]bool{"owner": true}, joining: "joiner"},
			status:    http.StatusOK,
			wantCalls: []string{"Position", "Membership joiner", "WaitFor", "Position", "Membership joiner", "MemberHistory"},
		},
		{
			name: "a disabled member an admin has just enabled waits for it", caller: "agent", path: "/v1/properties/{pid}/members/agent/history",
			minPos: ahead.String(), reads: &waitReads{at: behind, members: map[string]bool{"owner": true}, joining: "agent"},
			status:    http.StatusOK,
			wantCalls: []string{"Position", "Membership agent", "WaitFor", "Position", "Membership agent", "MemberHistory"},
		},
		{
			name: "a removed member does not wait", caller: "gone", path: "/v1/properties/{pid}",
			minPos: ahead.String(), reads: &waitReads{at: behind, members: map[string]bool{"owner": true}},
			status:    http.StatusNotFound,
			wantCalls: []string{"Position", "Membership gone"},
		},
		{
			name: "an outsider whose position is already reached does not wait", caller: "mallory", path: "/v1/properties/{pid}",
			minPos: behind.String(), reads: &waitReads{at: ahead, members: map[string]bool{"owner": true}},
			status:    http.StatusNotFound,
			wantCalls: []string{"Position", "Position", "Membership mallory"},
		},
		{
			name: "the caller's own lists wait, as there is no property to authorize", caller: "anyone", path: "/v1/me/properties",
			minPos: ahead.String(), reads: &waitReads{at: behind, members: map[string]bool{}},
			status:    http.StatusOK,
			wantCalls: []string{"Position", "WaitFor", "Position", "MyProperties"},
		},
	}
	cmds, pid := streamOfP1(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.reads.pid = pid
			api := New(Config{Log: zerolog.Nop(), Reads: historyReads{tt.reads}, Commands: cmds,
				Authenticate: func(_ context.Context, raw string) (domain.Actor, error) {
					return domain.Actor{AccountID: raw, Email: raw + "@example.com", EmailVerified: true}, nil
				}})
			path := strings.ReplaceAll(tt.path, "{pid}", pid)
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Header.Set("Authorization", "Bearer "+tt.caller)
			r.Header.Set("Roster-Min-Position", tt.minPos)
			w := httptest.NewRecorder()
			api.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("GET %s = %d %s, want %d", path, w.Code, w.Body, tt.status)
			}
			if diff := cmp.Diff(tt.wantCalls, tt.reads.calls); diff != "" {
				t.Errorf("calls on the read side (-want +got):\n%s", diff)
			}
			if tt.status == http.StatusNotFound && w.Header().Get("Roster-Position") == "" {
				t.Error("the 404 does not say where the read models were (Roster-Position)")
			}
		})
	}
}

// historyReads answers a member's history with no entries, so a test can
// reach a property route whose handler reads nothing else.
type historyReads struct{ *waitReads }

func (h historyReads) MemberHistory(context.Context, string, string) ([]readmodels.AuditEntry, error) {
	h.record("MemberHistory")
	return []readmodels.AuditEntry{}, nil
}
