package main

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// auditView is an audit entry as GET .../audit and .../history show it.
type auditView struct {
	OccurredAt string `json:"occurred_at"`
	Type       string `json:"type"`
	Revision   uint64 `json:"revision"`
	Position   string `json:"position"`
	EventID    string `json:"event_id"`
	Actor      struct {
		AccountID string `json:"account_id"`
		Email     string `json:"email"`
		IP        string `json:"ip"`
		UserAgent string `json:"user_agent"`
	} `json:"actor"`
	Subject struct {
		Kind  string `json:"kind"`
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"subject"`
	Change        *changeView `json:"change"`
	CorrelationID string      `json:"correlation_id"`
	CausationID   string      `json:"causation_id"`
	CommandID     string      `json:"command_id"`
}

type changeView struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

type auditPageView struct {
	Entries    []auditView `json:"entries"`
	NextCursor string      `json:"next_cursor"`
}

// accessView is what GET .../members/{aid}/permissions shows.
type accessView struct {
	PropertyID  string   `json:"property_id"`
	AccountID   string   `json:"account_id"`
	Role        string   `json:"role"`
	Status      string   `json:"status"`
	Owner       bool     `json:"owner"`
	Permissions []string `json:"permissions"`
}

// myPropertyView is one property of GET /v1/me/properties (times left out).
type myPropertyView struct {
	PropertyID string `json:"property_id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	Status     string `json:"status"`
	Owner      bool   `json:"owner"`
}

// auditedTeam is a property whose history holds a bit of everything: two
// invitees join, one is promoted and becomes owner, the other is disabled,
// and a third invitation is revoked. Its audit has the rows auditTypes
// names, in order.
type auditedTeam struct {
	app                       *testApp
	owner, amy, bob, outsider user
	pid, pos                  string
	carolEmail                string
}

// promoteRequestID and promoteAgent are what the request promoting Bob
// carries, to be found again in its audit row; the agent needs CSV quoting.
const (
	promoteRequestID = "e2e-promote-bob"
	promoteAgent     = `Roster "e2e", agent`
)

// auditTypes are the event types of an auditedTeam's trail, oldest first.
var auditTypes = []string{"PropertyCreated", "MemberJoined", "MemberInvited", "MemberInvited",
	"InvitationAccepted", "MemberJoined", "InvitationAccepted", "MemberJoined", "MemberRoleChanged",
	"MemberAccessDisabled", "OwnershipTransferred", "MemberInvited", "InvitationRevoked"}

func newAuditedTeam(t *testing.T) *auditedTeam {
	t.Helper()
	app := startApp(t)
	tm := &auditedTeam{app: app, owner: app.user(t, "owner"), amy: app.user(t, "amy"), bob: app.user(t, "bob"),
		outsider: app.user(t, "outsider"), carolEmail: "carol@example.com"}
	tm.pid = app.createProperty(t, tm.owner, "Acme").PropertyID
	p := "/v1/properties/" + tm.pid
	inv := app.invite(t, tm.owner, tm.pid, map[string]string{"email": tm.amy.Email, "role": "admin"},
		map[string]string{"email": tm.bob.Email, "role": "agent"})
	app.accept(t, tm.amy, tm.pid, inv.Invitations[0].ID)
	app.accept(t, tm.bob, tm.pid, inv.Invitations[1].ID)
	app.command(t, http.MethodPut, p+"/members/"+tm.bob.ID+"/role", tm.owner.Token, map[string]string{"role": "admin"},
		map[string]string{"X-Request-ID": promoteRequestID, "User-Agent": promoteAgent}, http.StatusOK)
	app.command(t, http.MethodPost, p+"/members/"+tm.amy.ID+"/disable", tm.owner.Token, nil, nil, http.StatusOK)
	app.command(t, http.MethodPost, p+"/ownership", tm.owner.Token, map[string]string{"account_id": tm.bob.ID}, nil, http.StatusOK)
	carol := app.invite(t, tm.owner, tm.pid, map[string]string{"email": tm.carolEmail, "role": "agent"})
	tm.pos = app.command(t, http.MethodDelete, p+"/invitations/"+carol.Invitations[0].ID, tm.owner.Token, nil, nil, http.StatusOK).Position
	return tm
}

// audit reads one page of the trail as u, with the query q.
func (tm *auditedTeam) audit(t *testing.T, u user, q string) auditPageView {
	t.Helper()
	var page auditPageView
	tm.app.read(t, "/v1/properties/"+tm.pid+"/audit?"+q, u.Token, tm.pos).want(t, http.StatusOK).into(t, &page)
	return page
}

func auditTypesOf(es []auditView) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Type)
	}
	return out
}

// TestReadSideAnswersWhoMayDoWhatAndSince: from the API alone, a user can
// tell who is a member now, what changed and who did it, what an account
// may do here, and which properties they are in.
func TestReadSideAnswersWhoMayDoWhatAndSince(t *testing.T) {
	t.Parallel()
	tm := newAuditedTeam(t)
	app := tm.app
	p := "/v1/properties/" + tm.pid

	t.Run("who is a member now", func(t *testing.T) {
		got := app.members(t, tm.pid, tm.bob.Token, tm.pos)
		want := []member{
			{AccountID: tm.amy.ID, Email: tm.amy.Email, Role: "admin", Status: "disabled"},
			{AccountID: tm.bob.ID, Email: tm.bob.Email, Role: "admin", Status: "enabled", Owner: true},
			{AccountID: tm.owner.ID, Email: tm.owner.Email, Role: "admin", Status: "enabled"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
	})

	t.Run("what changed and who did it", func(t *testing.T) {
		page := tm.audit(t, tm.bob, "")
		if diff := cmp.Diff(auditTypes, auditTypesOf(page.Entries)); diff != "" || page.NextCursor != "" {
			t.Fatalf("audit types (-want +got), next cursor %q:\n%s", page.NextCursor, diff)
		}
		actors := []string{}
		for _, e := range page.Entries {
			actors = append(actors, strings.TrimSuffix(e.Actor.Email, "@example.com"))
			if e.Actor.IP != "127.0.0.1" || e.EventID == "" || e.CommandID == "" || e.Position == "" {
				t.Errorf("entry %d (%s) lacks where it came from or its IDs: %+v", e.Revision, e.Type, e)
			}
		}
		wantActors := []string{"owner", "owner", "owner", "owner", "amy", "amy", "bob", "bob", "owner", "owner", "owner", "owner", "owner"}
		if diff := cmp.Diff(wantActors, actors); diff != "" {
			t.Errorf("actors (-want +got):\n%s", diff)
		}
		promoted := page.Entries[8]
		if promoted.Subject.Kind != "member" || promoted.Subject.ID != tm.bob.ID || promoted.Subject.Email != tm.bob.Email ||
			promoted.Actor.AccountID != tm.owner.ID || promoted.Actor.UserAgent != promoteAgent ||
			promoted.CorrelationID != promoteRequestID ||
			!cmp.Equal(promoted.Change, &changeView{Field: "role", From: "agent", To: "admin"}) {
			t.Errorf("the promotion reads %+v (change %+v)", promoted, promoted.Change)
		}
		moved := page.Entries[10]
		if !cmp.Equal(moved.Change, &changeView{Field: "owner", From: tm.owner.ID, To: tm.bob.ID}) || moved.Subject.Email != tm.bob.Email {
			t.Errorf("the transfer reads %+v (change %+v)", moved, moved.Change)
		}
		revoked := page.Entries[12]
		if revoked.Subject.Kind != "invitation" || revoked.Subject.Email != tm.carolEmail ||
			!cmp.Equal(revoked.Change, &changeView{Field: "status", From: "pending", To: "revoked"}) {
			t.Errorf("the revocation reads %+v (change %+v)", revoked, revoked.Change)
		}
	})

	t.Run("what may this account do here", func(t *testing.T) {
		agentPerms := []string{"respond_to_chats", "respond_to_tickets", "access_reporting", "access_messaging",
			"edit_knowledge_base", "edit_shortcuts", "view_members"}
		adminPerms := append(slices.Clone(agentPerms), "manage_invitations", "manage_members", "administrate_settings")
		tests := []struct {
			name   string
			target user
			want   accessView
		}{
			{"the new owner may do everything", tm.bob, accessView{tm.pid, tm.bob.ID, "admin", "enabled", true,
				append(slices.Clone(adminPerms), "transfer_ownership")}},
			{"the former owner is an admin without the transfer", tm.owner, accessView{tm.pid, tm.owner.ID, "admin", "enabled", false, adminPerms}},
			{"a disabled member may do nothing", tm.amy, accessView{tm.pid, tm.amy.ID, "admin", "disabled", false, []string{}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got accessView
				r := app.read(t, p+"/members/"+tt.target.ID+"/permissions", tm.owner.Token, tm.pos).want(t, http.StatusOK)
				r.into(t, &got)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("permissions (-want +got):\n%s", diff)
				}
				if tt.target == tm.amy && !strings.Contains(string(r.Raw), `"permissions":[]`) {
					t.Errorf("a disabled member's permissions must be an empty list, not null: %s", r.Raw)
				}
			})
		}
	})

	t.Run("which properties am I in", func(t *testing.T) {
		other := app.createProperty(t, tm.bob, "Beta")
		tests := []struct {
			name string
			u    user
			want []myPropertyView
		}{
			{"each property with its role and status, by name", tm.bob, []myPropertyView{
				{tm.pid, "Acme", "admin", "enabled", true}, {other.PropertyID, "Beta", "admin", "enabled", true}}},
			{"a disabled membership shows as disabled", tm.amy, []myPropertyView{{tm.pid, "Acme", "admin", "disabled", false}}},
			{"an outsider is in none", tm.outsider, []myPropertyView{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got struct {
					Properties []myPropertyView `json:"properties"`
				}
				app.read(t, "/v1/me/properties", tt.u.Token, other.Position).want(t, http.StatusOK).into(t, &got)
				if diff := cmp.Diff(tt.want, got.Properties); diff != "" {
					t.Errorf("my properties (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("what happened to one membership, from its invitation on", func(t *testing.T) {
		tests := []struct {
			name   string
			target user
			want   []string
		}{
			{"an invitee's history starts at its invitation", tm.bob, []string{"MemberInvited", "InvitationAccepted",
				"MemberJoined", "MemberRoleChanged", "OwnershipTransferred"}},
			{"a disabled member's history ends with the disabling", tm.amy, []string{"MemberInvited", "InvitationAccepted",
				"MemberJoined", "MemberAccessDisabled"}},
			{"the creator's history starts at the creation", tm.owner, []string{"PropertyCreated", "MemberJoined",
				"OwnershipTransferred"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got struct {
					PropertyID string      `json:"property_id"`
					AccountID  string      `json:"account_id"`
					Entries    []auditView `json:"entries"`
				}
				app.read(t, p+"/members/"+tt.target.ID+"/history", tm.amy.Token, tm.pos).wantProblem(t, http.StatusNotFound, "property_not_found")
				app.read(t, p+"/members/"+tt.target.ID+"/history", tm.owner.Token, tm.pos).want(t, http.StatusOK).into(t, &got)
				if diff := cmp.Diff(tt.want, auditTypesOf(got.Entries)); diff != "" || got.AccountID != tt.target.ID || got.PropertyID != tm.pid {
					t.Errorf("history of %s in %s (-want +got):\n%s", got.AccountID, got.PropertyID, diff)
				}
			})
		}
	})
}

// TestReadSideShowsNothingToOutsiders: outsiders and disabled members get
// 404 for the property on every read-side route, exports included; a
// member asking about an account that is not a member gets member_not_found.
func TestReadSideShowsNothingToOutsiders(t *testing.T) {
	t.Parallel()
	tm := newAuditedTeam(t)
	p := "/v1/properties/" + tm.pid
	unknown := "/v1/properties/" + uuid.NewString()
	tests := []struct {
		name, path string
		u          user
		code       string
	}{
		{"an outsider gets no audit", p + "/audit", tm.outsider, "property_not_found"},
		{"an outsider gets no CSV export", p + "/audit?format=csv", tm.outsider, "property_not_found"},
		{"an outsider gets no NDJSON export", p + "/audit?format=ndjson", tm.outsider, "property_not_found"},
		{"an outsider gets no permissions", p + "/members/" + tm.bob.ID + "/permissions", tm.outsider, "property_not_found"},
		{"an outsider may not ask about itself", p + "/members/" + tm.outsider.ID + "/permissions", tm.outsider, "property_not_found"},
		{"an outsider gets no history", p + "/members/" + tm.bob.ID + "/history", tm.outsider, "property_not_found"},
		{"a disabled member gets no audit", p + "/audit", tm.amy, "property_not_found"},
		{"a disabled member gets no permissions, not even its own", p + "/members/" + tm.amy.ID + "/permissions", tm.amy, "property_not_found"},
		{"an unknown property has no audit", unknown + "/audit", tm.owner, "property_not_found"},
		{"an account that is not a member has no permissions", p + "/members/" + tm.outsider.ID + "/permissions", tm.bob, "member_not_found"},
		{"an account never a member has no history", p + "/members/" + tm.outsider.ID + "/history", tm.bob, "member_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm.app.read(t, tt.path, tt.u.Token, tm.pos).wantProblem(t, http.StatusNotFound, tt.code)
		})
	}
}

// TestAuditFiltersAndPagesThroughHTTP: the filters of GET .../audit, and
// its cursor pages.
func TestAuditFiltersAndPagesThroughHTTP(t *testing.T) {
	t.Parallel()
	tm := newAuditedTeam(t)
	all := tm.audit(t, tm.owner, "").Entries
	at := func(i int) string { return url.QueryEscape(all[i].OccurredAt) }
	tests := []struct {
		name, query string
		want        []string
	}{
		{"actor keeps what one account did", "actor=" + tm.amy.ID, []string{"InvitationAccepted", "MemberJoined"}},
		{"actor may be an email", "actor=" + url.QueryEscape(strings.ToUpper(tm.bob.Email)), []string{"InvitationAccepted", "MemberJoined"}},
		{"type keeps one type", "type=MemberJoined", []string{"MemberJoined", "MemberJoined", "MemberJoined"}},
		{"type takes a comma list", "type=MemberRoleChanged,OwnershipTransferred", []string{"MemberRoleChanged", "OwnershipTransferred"}},
		{"type may be repeated", "type=MemberRoleChanged&type=InvitationRevoked", []string{"MemberRoleChanged", "InvitationRevoked"}},
		{"member keeps one membership from its invitation on", "member=" + tm.bob.ID, []string{"MemberInvited",
			"InvitationAccepted", "MemberJoined", "MemberRoleChanged", "OwnershipTransferred"}},
		{"member by email finds an invitee who never joined", "member=" + url.QueryEscape(tm.carolEmail), []string{"MemberInvited", "InvitationRevoked"}},
		{"from and to keep a window", "from=" + at(8) + "&to=" + at(10), []string{"MemberRoleChanged", "MemberAccessDisabled"}},
		{"order=desc lists newest first", "order=desc&type=MemberJoined,InvitationRevoked",
			[]string{"InvitationRevoked", "MemberJoined", "MemberJoined", "MemberJoined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, auditTypesOf(tm.audit(t, tm.owner, tt.query).Entries)); diff != "" {
				t.Errorf("types (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("cursor pages visit every entry once", func(t *testing.T) {
		var got []uint64
		pages, cursor := 0, ""
		for {
			page := tm.audit(t, tm.owner, "limit=4&cursor="+url.QueryEscape(cursor))
			pages++
			for _, e := range page.Entries {
				got = append(got, e.Revision)
			}
			if cursor = page.NextCursor; cursor == "" || pages > 10 {
				break
			}
		}
		want := []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
		if diff := cmp.Diff(want, got); diff != "" || pages != 4 {
			t.Errorf("%d pages, want 4; revisions (-want +got):\n%s", pages, diff)
		}
	})
	bad := []struct{ name, query, code, field, value string }{
		{"a from that is no time is refused by name", "from=yesterday", "invalid_request", "from", "yesterday"},
		{"a to that is no real date is refused", "to=2026-02-30T00:00:00Z", "invalid_request", "to", "2026-02-30T00:00:00Z"},
		{"a to before from is refused", "from=2026-03-02T10:00:00Z&to=2026-03-02T09:00:00Z", "invalid_request", "to", "2026-03-02T09:00:00Z"},
		{"an unknown event type is refused by name", "type=MemberJoined,MemberPromoted", "invalid_request", "type", "MemberPromoted"},
		{"an unknown order is refused", "order=random", "invalid_request", "order", "random"},
		{"a cursor the API did not give is refused", "cursor=abc", "invalid_request", "cursor", "abc"},
		{"a limit that is no number is refused", "limit=ten", "invalid_query", "limit", "ten"},
		{"a limit over 500 is refused", "limit=501", "invalid_request", "limit", "501"},
		{"an unknown format is refused", "format=xml", "invalid_query", "format", "xml"},
		{"a bad filter on an export is refused before it starts", "format=csv&type=Nope", "invalid_request", "type", "Nope"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := tm.app.do(t, http.MethodGet, "/v1/properties/"+tm.pid+"/audit?"+tt.query, tm.owner.Token, nil, nil)
			r.wantProblem(t, http.StatusUnprocessableEntity, tt.code)
			var doc struct {
				Errors []struct{ Field, Value string }
			}
			r.into(t, &doc)
			if len(doc.Errors) != 1 || doc.Errors[0].Field != tt.field || doc.Errors[0].Value != tt.value {
				t.Errorf("problem errors %+v, want field %s value %q", doc.Errors, tt.field, tt.value)
			}
		})
	}
}

// TestReadSideRoutesRefuseOtherMethods: the read-side routes answer a
// method they do not serve with 405 and an Allow header.
func TestReadSideRoutesRefuseOtherMethods(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner := app.user(t, "owner")
	m := "/v1/properties/" + uuid.NewString() + "/members/" + uuid.NewString()
	tests := []struct{ method, path string }{
		{http.MethodPost, "/v1/me/properties"},
		{http.MethodDelete, "/v1/properties/" + uuid.NewString() + "/audit"},
		{http.MethodPut, m + "/permissions"},
		{http.MethodPost, m + "/history"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, app.base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+owner.Token)
			resp, err := app.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
				t.Errorf("answer %d with Allow %q, want 405 with Allow GET", resp.StatusCode, resp.Header.Get("Allow"))
			}
		})
	}
}
