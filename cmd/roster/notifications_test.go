package main

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

type notification struct {
	ID           string         `json:"id"`
	PropertyName string         `json:"property_name"`
	Kind         string         `json:"kind"`
	Details      map[string]any `json:"details"`
	Read         bool           `json:"read"`
}

type notificationPage struct {
	Notifications []notification `json:"notifications"`
	Unread        int            `json:"unread"`
	NextCursor    string         `json:"next_cursor"`
}

func (a *testApp) notifications(t *testing.T, u user, query, pos string) notificationPage {
	t.Helper()
	var p notificationPage
	a.read(t, "/v1/me/notifications"+query, u.Token, pos).want(t, http.StatusOK).into(t, &p)
	return p
}

// TestNotificationsTellAMemberAboutChangesToTheirAccess: the invitee sees
// the invitation by email, then each change to its access, newest first,
// paged; marking read lowers the unread count and is idempotent.
func TestNotificationsTellAMemberAboutChangesToTheirAccess(t *testing.T) {
	a := startApp(t)
	owner, ann := a.user(t, "owner"), a.user(t, "ann")
	pid := a.createProperty(t, owner, "Acme Support").PropertyID
	a.join(t, owner, pid, "agent", ann)
	base := "/v1/properties/" + pid + "/members/" + ann.ID
	a.command(t, http.MethodPut, base+"/role", owner.Token, map[string]string{"role": "admin"}, nil, http.StatusOK)
	a.command(t, http.MethodPost, base+"/disable", owner.Token, nil, nil, http.StatusOK)
	a.command(t, http.MethodPost, base+"/enable", owner.Token, nil, nil, http.StatusOK)
	pos := a.command(t, http.MethodDelete, base, owner.Token, nil, nil, http.StatusOK).Position

	got := a.notifications(t, ann, "", pos)
	var kinds []string
	for _, n := range got.Notifications {
		kinds = append(kinds, n.Kind)
		if n.PropertyName != "Acme Support" || n.Read {
			t.Errorf("notification %+v: want Acme Support, unread", n)
		}
	}
	want := []string{"removed_from_property", "access_enabled", "access_disabled", "role_changed", "invitation_received"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Fatalf("kinds, newest first (-want +got):\n%s", diff)
	}
	if got.Unread != 5 || got.NextCursor != "" {
		t.Errorf("unread %d, next cursor %q; want 5 and none", got.Unread, got.NextCursor)
	}
	if d := got.Notifications[3].Details; d["from"] != "agent" || d["to"] != "admin" {
		t.Errorf("role_changed details = %v", d)
	}
	if unverified := a.do(t, http.MethodGet, "/v1/me/notifications", ann.unverified(t), nil, nil); len(unverified.Body["notifications"].([]any)) != 4 {
		t.Errorf("an unverified email sees the invitation: %s", unverified.Raw)
	}
	if other := a.notifications(t, owner, "", pos); len(other.Notifications) != 0 {
		t.Errorf("the owner sees ann's notifications: %+v", other)
	}

	first := a.notifications(t, ann, "?limit=2", pos)
	second := a.notifications(t, ann, "?limit=2&cursor="+first.NextCursor, pos)
	if len(first.Notifications) != 2 || second.Notifications[0].ID != got.Notifications[2].ID {
		t.Errorf("pages %+v then %+v do not continue the list", first, second)
	}

	mark := func(body any) reply {
		return a.do(t, http.MethodPost, "/v1/me/notifications/read", ann.Token, body, nil)
	}
	ids := []string{got.Notifications[0].ID, got.Notifications[1].ID}
	r := mark(map[string]any{"ids": ids}).want(t, http.StatusOK)
	if r.Body["marked"] != float64(2) || r.Body["unread"] != float64(3) {
		t.Errorf("mark two: %s", r.Raw)
	}
	if r := mark(map[string]any{"ids": ids}).want(t, http.StatusOK); r.Body["marked"] != float64(0) {
		t.Errorf("marking again marked something: %s", r.Raw)
	}
	if r := a.do(t, http.MethodPost, "/v1/me/notifications/read", owner.Token, map[string]any{"all": true}, nil).want(t, http.StatusOK); r.Body["marked"] != float64(0) {
		t.Errorf("another account marked ann's: %s", r.Raw)
	}
	if r := mark(map[string]any{"all": true}).want(t, http.StatusOK); r.Body["marked"] != float64(3) || r.Body["unread"] != float64(0) {
		t.Errorf("mark all: %s", r.Raw)
	}
	if after := a.notifications(t, ann, "", pos); after.Unread != 0 || !after.Notifications[4].Read {
		t.Errorf("after marking all: %+v", after)
	}
}

func TestMarkingNotificationsReadRefusesBadInput(t *testing.T) {
	a := startApp(t)
	ann := a.user(t, "ann")
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"an unknown field", map[string]any{"ids": []string{uuid.NewString()}, "every": true}, http.StatusBadRequest, "unknown_field"},
		{"ids that are no list", map[string]any{"ids": "x"}, http.StatusBadRequest, "malformed_json"},
		{"both ids and all", map[string]any{"ids": []string{uuid.NewString()}, "all": true}, http.StatusUnprocessableEntity, "invalid_request"},
		{"neither ids nor all", map[string]any{}, http.StatusUnprocessableEntity, "invalid_request"},
		{"all false", map[string]any{"all": false}, http.StatusUnprocessableEntity, "invalid_request"},
		{"an empty list of ids", map[string]any{"ids": []string{}}, http.StatusUnprocessableEntity, "invalid_request"},
		{"an id that is no UUID", map[string]any{"ids": []string{"not-a-uuid"}}, http.StatusUnprocessableEntity, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.do(t, http.MethodPost, "/v1/me/notifications/read", ann.Token, tt.body, nil).wantProblem(t, tt.status, tt.code)
		})
	}
	a.do(t, http.MethodGet, "/v1/me/notifications?cursor=bogus", ann.Token, nil, nil).wantProblem(t, http.StatusUnprocessableEntity, "invalid_request")
	a.do(t, http.MethodGet, "/v1/me/notifications?limit=x", ann.Token, nil, nil).wantProblem(t, http.StatusUnprocessableEntity, "invalid_query")
}
