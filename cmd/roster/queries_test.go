package main

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// team is a property with six members besides its owner, one of them
// disabled, and invitations in every status but expired.
type team struct {
	app                                 *testApp
	owner, outsider, agent, carl, pat   user
	pid, pos                            string
	pendingIID, revokedIID, declinedIID string
	everyone                            []string // every member's email, in the API's order
}

func newTeam(t *testing.T) *team {
	t.Helper()
	app := startApp(t)
	tm := &team{app: app, owner: app.user(t, "owner"), outsider: app.user(t, "outsider"), pat: app.user(t, "pat")}
	tm.pid = app.createProperty(t, tm.owner, "Queries").PropertyID
	amy, dora := app.user(t, "amy"), app.user(t, "dora")
	anna, eve := app.user(t, "anna"), app.user(t, "eve")
	tm.agent, tm.carl = app.user(t, "bob"), app.user(t, "carl")
	app.join(t, tm.owner, tm.pid, "admin", amy, dora)
	app.join(t, tm.owner, tm.pid, "agent", anna, tm.agent, tm.carl, eve)
	app.command(t, http.MethodPost, "/v1/properties/"+tm.pid+"/members/"+tm.carl.ID+"/disable", tm.owner.Token, nil, nil, http.StatusOK)

	dec := app.user(t, "dec")
	inv := app.invite(t, tm.owner, tm.pid, map[string]string{"email": tm.pat.Email, "role": "agent"},
		map[string]string{"email": "rev@example.com", "role": "admin"}, map[string]string{"email": dec.Email, "role": "agent"})
	tm.pendingIID, tm.revokedIID, tm.declinedIID = inv.Invitations[0].ID, inv.Invitations[1].ID, inv.Invitations[2].ID
	app.command(t, http.MethodDelete, "/v1/properties/"+tm.pid+"/invitations/"+tm.revokedIID, tm.owner.Token, nil, nil, http.StatusOK)
	tm.pos = app.command(t, http.MethodPost, "/v1/properties/"+tm.pid+"/invitations/"+tm.declinedIID+"/decline", dec.Token, nil, nil, http.StatusOK).Position
	tm.everyone = []string{amy.Email, anna.Email, tm.agent.Email, tm.carl.Email, dora.Email, eve.Email, tm.owner.Email}
	return tm
}

func emails(ms []member) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Email)
	}
	return out
}

func TestMemberQueriesFilterAndPage(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	at := func(i ...int) []string {
		out := []string{}
		for _, n := range i {
			out = append(out, tm.everyone[n])
		}
		return out
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"no filter lists everyone by email", "", tm.everyone},
		{"role keeps admins, the owner included", "role=admin", at(0, 4, 6)},
		{"role is read without regard to case", "role=AGENT", at(1, 2, 3, 5)},
		{"status keeps the disabled", "status=disabled", at(3)},
		{"status keeps the enabled", "status=enabled", at(0, 1, 2, 4, 5, 6)},
		{"q matches the start of the email, ignoring case", "q=A", at(0, 1)},
		{"q matches no middle of an email", "q=example", at()},
		{"q takes LIKE wildcards literally", "q=%25", at()},
		{"filters combine", "role=agent&status=enabled&q=e", at(5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var page memberPage
			tm.app.read(t, "/v1/properties/"+tm.pid+"/members?"+tt.query, tm.owner.Token, tm.pos).want(t, http.StatusOK).into(t, &page)
			if diff := cmp.Diff(tt.want, emails(page.Members)); diff != "" || page.NextCursor != "" {
				t.Errorf("members (-want +got), next cursor %q:\n%s", page.NextCursor, diff)
			}
		})
	}
	t.Run("cursor pages visit every member once", func(t *testing.T) {
		var got []string
		pages, cursor := 0, ""
		for {
			var page memberPage
			path := "/v1/properties/" + tm.pid + "/members?limit=3&cursor=" + url.QueryEscape(cursor)
			tm.app.read(t, path, tm.owner.Token, tm.pos).want(t, http.StatusOK).into(t, &page)
			pages++
			got = append(got, emails(page.Members)...)
			if cursor = page.NextCursor; cursor == "" || pages > 10 {
				break
			}
		}
		if diff := cmp.Diff(tm.everyone, got); diff != "" || pages != 3 {
			t.Errorf("%d pages, want 3; members (-want +got):\n%s", pages, diff)
		}
	})
	t.Run("cursor pages keep the filter", func(t *testing.T) {
		var first, second memberPage
		base := "/v1/properties/" + tm.pid + "/members?role=agent&limit=2"
		tm.app.read(t, base, tm.owner.Token, tm.pos).want(t, http.StatusOK).into(t, &first)
		tm.app.read(t, base+"&cursor="+url.QueryEscape(first.NextCursor), tm.owner.Token, tm.pos).want(t, http.StatusOK).into(t, &second)
		if got := append(emails(first.Members), emails(second.Members)...); !slices.Equal(got, at(1, 2, 3, 5)) || second.NextCursor != "" {
			t.Errorf("agents over two pages %v (next %q), want %v and no next page", got, second.NextCursor, at(1, 2, 3, 5))
		}
	})
	bad := []struct{ name, query, code string }{
		{"an unknown role is invalid", "role=owner", "invalid_request"},
		{"an unknown status is invalid", "status=gone", "invalid_request"},
		{"a cursor the API did not give is invalid", "cursor=not-a-cursor", "invalid_request"},
		{"a limit that is no number is invalid", "limit=ten", "invalid_query"},
		{"a limit over 200 is invalid", "limit=201", "invalid_request"},
		{"a negative limit is invalid", "limit=-1", "invalid_request"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			tm.app.do(t, http.MethodGet, "/v1/properties/"+tm.pid+"/members?"+tt.query, tm.owner.Token, nil, nil).
				wantProblem(t, http.StatusUnprocessableEntity, tt.code)
		})
	}
}

func TestInvitationQueriesFilterByStatus(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	ids := func(list []invitation) []string {
		out := []string{}
		for _, i := range list {
			out = append(out, i.ID)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		status string
		want   []string // nil: count only
		count  int
	}{
		{"", []string{tm.pendingIID}, 1},
		{"pending", []string{tm.pendingIID}, 1},
		{"revoked", []string{tm.revokedIID}, 1},
		{"declined", []string{tm.declinedIID}, 1},
		{"expired", []string{}, 0},
		{"accepted", nil, 6},
		{"all", nil, 9},
	}
	for _, tt := range tests {
		t.Run("status "+tt.status+" keeps its own", func(t *testing.T) {
			got := tm.app.invitations(t, tm.pid, tt.status, tm.owner.Token, tm.pos)
			if len(got) != tt.count || (tt.want != nil && !slices.Equal(ids(got), tt.want)) {
				t.Errorf("invitations %+v: want %d, %v", got, tt.count, tt.want)
			}
			want := map[string]string{"": "pending"}[tt.status]
			if want == "" {
				want = tt.status
			}
			for _, inv := range got {
				if want != "all" && inv.Status != want {
					t.Errorf("invitation %s is %s under status %q", inv.ID, inv.Status, tt.status)
				}
			}
		})
	}
	t.Run("an unknown status is invalid", func(t *testing.T) {
		tm.app.do(t, http.MethodGet, "/v1/properties/"+tm.pid+"/invitations?status=lost", tm.owner.Token, nil, nil).
			wantProblem(t, http.StatusUnprocessableEntity, "invalid_request")
	})
	t.Run("an agent reads the invitations too", func(t *testing.T) {
		if got := tm.app.invitations(t, tm.pid, "", tm.agent.Token, tm.pos); len(got) != 1 || got[0].ID != tm.pendingIID {
			t.Errorf("the agent sees %+v, want only %s", got, tm.pendingIID)
		}
	})
}

// TestOnlyEnabledMembersReadAProperty: outsiders, disabled members and
// unknown properties all look the same, 404 (docs/ARCHITECTURE.md, invariant 1).
func TestOnlyEnabledMembersReadAProperty(t *testing.T) {
	t.Parallel()
	tm := newTeam(t)
	unknown := "/v1/properties/" + uuid.NewString()
	p := "/v1/properties/" + tm.pid
	tests := []struct{ name, path, token string }{
		{"an outsider gets no property", p, tm.outsider.Token},
		{"an outsider gets no members", p + "/members", tm.outsider.Token},
		{"an outsider gets no invitations", p + "/invitations", tm.outsider.Token},
		{"a disabled member gets no property", p, tm.carl.Token},
		{"a disabled member gets no members", p + "/members", tm.carl.Token},
		{"a disabled member gets no invitations", p + "/invitations", tm.carl.Token},
		{"an invitee gets no members before accepting", p + "/members", tm.pat.Token},
		{"an unknown property is not found", unknown, tm.owner.Token},
		{"a property ID that is no UUID is not found", "/v1/properties/acme/members", tm.owner.Token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm.app.read(t, tt.path, tt.token, tm.pos).wantProblem(t, http.StatusNotFound, "property_not_found")
		})
	}
}
