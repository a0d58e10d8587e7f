package main

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// walkList reads every page of the list at path (which holds a query) as
// u at pos, limit rows at a time, and returns the IDs under idKey of the
// rows under field, in order, and how many pages it took.
func walkList(t *testing.T, app *testApp, path, field, idKey string, limit int, u user, pos string) ([]string, int) {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 1; pages <= 1000; pages++ {
		r := app.read(t, fmt.Sprintf("%s&limit=%d&cursor=%s", path, limit, url.QueryEscape(cursor)), u.Token, pos).
			want(t, http.StatusOK)
		rows, _ := r.Body[field].([]any)
		if len(rows) > limit {
			t.Fatalf("page %d of %s holds %d rows, more than limit %d", pages, path, len(rows), limit)
		}
		for _, row := range rows {
			id, _ := row.(map[string]any)[idKey].(string)
			ids = append(ids, id)
		}
		next, ok := r.Body["next_cursor"].(string)
		if !ok {
			t.Fatalf("page %d of %s has no next_cursor: %s", pages, path, r.Raw)
		}
		if next == "" {
			return ids, pages
		}
		cursor = next
	}
	t.Fatalf("%s: more than 1000 pages", path)
	return nil, 0
}

// TestInvitationListsPageWithCursors: a property's invitations, the
// invitations to an email and an account's properties are answered in
// pages of limit, and walking next_cursor gives every row exactly once,
// ties of a bulk invitation (one instant) included; the default page is
// 50 and the largest 200.
func TestInvitationListsPageWithCursors(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner, invitee := app.user(t, "owner"), app.user(t, "invitee")
	pid := app.createProperty(t, owner, "Paged").PropertyID
	want := map[string]bool{}
	var pos string
	for b := range 3 {
		rows := make([]map[string]string, 50)
		for i := range rows {
			rows[i] = map[string]string{"email": fmt.Sprintf("paged-%d-%d@example.com", b, i), "role": "agent"}
		}
		ans := app.invite(t, owner, pid, rows...)
		for _, inv := range ans.Invitations {
			want[inv.ID] = true
		}
		pos = ans.Position
	}
	for i := range 5 {
		other := app.createProperty(t, owner, fmt.Sprintf("Paged %d", i)).PropertyID
		pos = app.invite(t, owner, other, map[string]string{"email": invitee.Email, "role": "agent"}).Position
	}
	pos = app.join(t, owner, pid, "agent", app.user(t, "member")) // a second member, for a members cursor

	tests := []struct {
		name, path, field, idKey string
		as                       user
		limit, wantRows          int
		wantPages                int
	}{
		{"a property's invitations, seven a page", "/v1/properties/" + pid + "/invitations?status=pending", "invitations", "id", owner, 7, 150, 22},
		{"a property's invitations, the largest page", "/v1/properties/" + pid + "/invitations?status=all", "invitations", "id", owner, 200, 151, 1},
		{"the invitations to an email, two a page", "/v1/me/invitations?", "invitations", "id", invitee, 2, 5, 3},
		{"an account's properties, two a page", "/v1/me/properties?", "properties", "property_id", owner, 2, 6, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, pages := walkList(t, app, tt.path, tt.field, tt.idKey, tt.limit, tt.as, pos)
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Errorf("%s listed twice", id)
				}
				seen[id] = true
			}
			if len(ids) != tt.wantRows || pages != tt.wantPages {
				t.Errorf("%d rows in %d pages, want %d in %d", len(ids), pages, tt.wantRows, tt.wantPages)
			}
			if tt.field == "invitations" && tt.as == owner {
				for id := range want {
					if !seen[id] {
						t.Errorf("invitation %s never listed", id)
					}
				}
			}
		})
	}
	t.Run("the default page is fifty", func(t *testing.T) {
		r := app.read(t, "/v1/properties/"+pid+"/invitations", owner.Token, pos).want(t, http.StatusOK)
		if rows, _ := r.Body["invitations"].([]any); len(rows) != 50 || r.str("next_cursor") == "" {
			t.Errorf("%d invitations, next_cursor %q; want 50 and a cursor", len(rows), r.str("next_cursor"))
		}
	})

	memberCursor := app.read(t, "/v1/properties/"+pid+"/members?limit=1", owner.Token, pos).str("next_cursor")
	invitationCursor := app.read(t, "/v1/properties/"+pid+"/invitations?limit=1", owner.Token, pos).str("next_cursor")
	bad := []struct {
		name, path string
		as         user
		status     int
		code       string
	}{
		{"a limit that is no number", "/v1/properties/" + pid + "/invitations?limit=ten", owner, http.StatusUnprocessableEntity, "invalid_query"},
		{"a limit above 200", "/v1/properties/" + pid + "/invitations?limit=201", owner, http.StatusUnprocessableEntity, "invalid_request"},
		{"a negative limit", "/v1/properties/" + pid + "/invitations?limit=-1", owner, http.StatusUnprocessableEntity, "invalid_request"},
		{"a made-up cursor", "/v1/properties/" + pid + "/invitations?cursor=bm90LWEtY3Vyc29y", owner, http.StatusUnprocessableEntity, "invalid_request"},
		{"a members cursor", "/v1/properties/" + pid + "/invitations?cursor=" + url.QueryEscape(memberCursor), owner, http.StatusUnprocessableEntity, "invalid_request"},
		{"my invitations: a property's invitation cursor", "/v1/me/invitations?cursor=" + url.QueryEscape(invitationCursor), invitee, http.StatusUnprocessableEntity, "invalid_request"},
		{"my invitations: a limit that is no number", "/v1/me/invitations?limit=1.5", invitee, http.StatusUnprocessableEntity, "invalid_query"},
		{"my properties: a limit above 200", "/v1/me/properties?limit=500", owner, http.StatusUnprocessableEntity, "invalid_request"},
		{"my properties: a members cursor", "/v1/me/properties?cursor=" + url.QueryEscape(memberCursor), owner, http.StatusUnprocessableEntity, "invalid_request"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			app.do(t, http.MethodGet, tt.path, tt.as.Token, nil, nil).wantProblem(t, tt.status, tt.code)
		})
	}
}
