package main

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rosterhq/roster/infra/eventstore"
)

// answer is a command's answer, with the fields of every command.
type answer struct {
	PropertyID   string       `json:"property_id"`
	Revision     uint64       `json:"revision"`
	Position     string       `json:"position"`
	Changed      bool         `json:"changed"`
	Repeated     bool         `json:"repeated"`
	Invitations  []invitation `json:"invitations"`
	InvitationID string       `json:"invitation_id"`
	AccountID    string       `json:"account_id"`
	Role         string       `json:"role"`
}

// invitation is an invitation as answers and queries show it (times left out).
type invitation struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
	Status string `json:"status"`
}

// member is a member as GET .../members shows it (times left out).
type member struct {
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	Status    string `json:"status"`
	Owner     bool   `json:"owner"`
}

// myInvitation is an invitation as GET /v1/me/invitations shows it.
type myInvitation struct {
	ID             string `json:"id"`
	PropertyID     string `json:"property_id"`
	PropertyName   string `json:"property_name"`
	Role           string `json:"role"`
	InvitedBy      string `json:"invited_by"`
	InvitedByEmail string `json:"invited_by_email"`
}

// sortInvitations compares lists of invitations in any order.
var sortInvitations = cmpopts.SortSlices(func(a, b invitation) bool { return a.ID < b.ID })

type memberPage struct {
	Members    []member `json:"members"`
	NextCursor string   `json:"next_cursor"`
}

type property struct {
	ID                     string `json:"id"`
	Name                   string `json:"name"`
	OwnerID                string `json:"owner_id"`
	Revision               uint64 `json:"revision"`
	MemberCount            int    `json:"member_count"`
	PendingInvitationCount int    `json:"pending_invitation_count"`
}

// command sends a command that must succeed with status and checks that its
// headers agree with its body.
func (a *testApp) command(t *testing.T, method, path, token string, body any, headers map[string]string, status int) answer {
	t.Helper()
	r := a.do(t, method, path, token, body, headers).want(t, status)
	var ans answer
	r.into(t, &ans)
	if ans.Position == "" || r.Header.Get("Roster-Position") != ans.Position {
		t.Errorf("Roster-Position %q, body position %q: want equal, not empty", r.Header.Get("Roster-Position"), ans.Position)
	}
	if want := etag(ans.Revision); r.Header.Get("ETag") != want {
		t.Errorf("ETag %q, want %s", r.Header.Get("ETag"), want)
	}
	if pos, err := eventstore.ParsePosition(ans.Position); err == nil {
		a.sawPosition(pos)
	}
	return ans
}

// sawPosition remembers the latest position a command answered, which the
// feed may not show yet while an older transaction on the server is open.
func (a *testApp) sawPosition(pos eventstore.Position) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lastPos.Less(pos) {
		a.lastPos = pos
	}
}

func etag(rev uint64) string { return strconv.Quote(strconv.FormatUint(rev, 10)) }

// createProperty creates a property owned by owner.
func (a *testApp) createProperty(t *testing.T, owner user, name string) answer {
	t.Helper()
	return a.command(t, http.MethodPost, "/v1/properties", owner.Token, map[string]string{"name": name}, nil, http.StatusCreated)
}

// invite invites rows ({email, role}) in one request.
func (a *testApp) invite(t *testing.T, by user, pid string, rows ...map[string]string) answer {
	t.Helper()
	return a.command(t, http.MethodPost, "/v1/properties/"+pid+"/invitations", by.Token,
		map[string]any{"invitations": rows}, nil, http.StatusCreated)
}

// accept accepts invitation iid as u from the dashboard.
func (a *testApp) accept(t *testing.T, u user, pid, iid string) answer {
	t.Helper()
	return a.command(t, http.MethodPost, "/v1/properties/"+pid+"/invitations/"+iid+"/accept", u.Token, nil, nil, http.StatusOK)
}

// join makes each user a member with role, invited by owner in one request;
// it returns the position of the last acceptance.
func (a *testApp) join(t *testing.T, owner user, pid, role string, users ...user) string {
	t.Helper()
	var rows []map[string]string
	for _, u := range users {
		rows = append(rows, map[string]string{"email": u.Email, "role": role})
	}
	inv := a.invite(t, owner, pid, rows...)
	var pos string
	for i, u := range users {
		pos = a.accept(t, u, pid, inv.Invitations[i].ID).Position
	}
	return pos
}

// members lists every member of pid (one page of up to 200) as seen by token at pos.
func (a *testApp) members(t *testing.T, pid, token, pos string) []member {
	t.Helper()
	var page memberPage
	a.read(t, "/v1/properties/"+pid+"/members?limit=200", token, pos).want(t, http.StatusOK).into(t, &page)
	return page.Members
}

// invitations lists the invitations of pid with status, as seen by token at
// pos, every page of them.
func (a *testApp) invitations(t *testing.T, pid, status, token, pos string) []invitation {
	t.Helper()
	var all []invitation
	for cursor := ""; ; {
		var page struct {
			Invitations []invitation
			NextCursor  string `json:"next_cursor"`
		}
		a.read(t, "/v1/properties/"+pid+"/invitations?limit=200&status="+status+"&cursor="+url.QueryEscape(cursor), token, pos).
			want(t, http.StatusOK).into(t, &page)
		all = append(all, page.Invitations...)
		if cursor = page.NextCursor; cursor == "" {
			return all
		}
	}
}

// property reads pid as token at pos.
func (a *testApp) property(t *testing.T, pid, token, pos string) (property, reply) {
	t.Helper()
	var p property
	r := a.read(t, "/v1/properties/"+pid, token, pos).want(t, http.StatusOK)
	r.into(t, &p)
	return p, r
}
