package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// TestALookAlikeEmailNeitherSeesNorAnswersAnotherInvitation: a verified
// token for \u212Aate@example.com (a Kelvin sign, which Unicode lower-casing
// turns into a k) sees nothing of the invitation to kate@example.com and
// can neither accept nor decline it, from the dashboard or with the mailed
// token; kate herself then accepts.
func TestALookAlikeEmailNeitherSeesNorAnswersAnotherInvitation(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner, kate := app.user(t, "owner"), app.user(t, "kate")
	pid := app.createProperty(t, owner, "Acme").PropertyID
	inv := app.invite(t, owner, pid, map[string]string{"email": kate.Email, "role": "admin"})
	iid, token := inv.Invitations[0].ID, app.inviteToken(t, kate.Email)
	pos := inv.Position

	// The same claims a verified token would carry; whether the edge lets
	// it in or turns it away with a 4xx, it must see and answer nothing.
	for _, lookalike := range []string{"\u212Aate@example.com", "\u212AATE@EXAMPLE.COM", "kate@example.com.", "k\u0430te@example.com"} {
		t.Run(lookalike, func(t *testing.T) {
			tok := mint(t, testSecret, "roster", "roster", uuid.NewString(), lookalike, true, time.Hour, time.Now())
			before := len(app.storedEvents(t))

			mine := app.do(t, http.MethodGet, "/v1/me/invitations", tok, nil, map[string]string{"Roster-Min-Position": pos})
			if mine.Status == http.StatusOK {
				if list, _ := mine.Body["invitations"].([]any); len(list) != 0 {
					t.Errorf("GET /v1/me/invitations shows %s kate's invitation: %s", lookalike, mine.Raw)
				}
			} else if mine.Status < 400 || mine.Status >= 500 {
				t.Errorf("GET /v1/me/invitations answered %d: %s", mine.Status, mine.Raw)
			}
			bell := app.do(t, http.MethodGet, "/v1/me/notifications", tok, nil, map[string]string{"Roster-Min-Position": pos})
			if strings.Contains(string(bell.Raw), iid) {
				t.Errorf("GET /v1/me/notifications shows %s kate's invitation: %s", lookalike, bell.Raw)
			}
			for _, rq := range []struct {
				name, path string
				body       any
			}{
				{"accept", "/v1/properties/" + pid + "/invitations/" + iid + "/accept", nil},
				{"decline", "/v1/properties/" + pid + "/invitations/" + iid + "/decline", nil},
				{"accept by token", "/v1/invitations/accept", map[string]string{"token": token}},
			} {
				r := app.do(t, http.MethodPost, rq.path, tok, rq.body, nil)
				if r.Status < 400 || r.Status >= 500 {
					t.Errorf("%s answered %d, want a refusal: %s", rq.name, r.Status, r.Raw)
				}
				if r.Status == http.StatusForbidden && r.str("code") != "not_invitee" {
					t.Errorf("%s answered 403 %q, want not_invitee", rq.name, r.str("code"))
				}
			}
			if got := len(app.storedEvents(t)); got != before {
				t.Errorf("%s's refused answers stored %d events", lookalike, got-before)
			}
		})
	}
	if t.Failed() {
		return
	}
	kateMine := app.read(t, "/v1/me/invitations", kate.Token, pos).want(t, http.StatusOK)
	if list, _ := kateMine.Body["invitations"].([]any); len(list) != 1 {
		t.Fatalf("kate sees %d invitations, want hers: %s", len(list), kateMine.Raw)
	}
	app.command(t, http.MethodPost, "/v1/invitations/accept", kate.Token, map[string]string{"token": token}, nil, http.StatusOK)
}

// TestOutsidersCommandsCannotTellAPropertyExists: an outsider's command on
// a property that exists answers exactly what it answers on one that does
// not, but for the ID: the same status, code and words. A stale If-Match
// changes nothing, so it cannot give away the property nor its revision.
// Answering an invitation is left out: that takes its ID, which only the
// invitation's mail carries.
func TestOutsidersCommandsCannotTellAPropertyExists(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unknown := uuid.NewString()
	before := f.state(t)
	for _, rt := range f.routes() {
		if rt.name == "create property" || strings.Contains(rt.name, "accept") || rt.name == "decline" {
			continue
		}
		for _, ifMatch := range []string{"", `"0"`} {
			name := rt.name
			headers := map[string]string{}
			if ifMatch != "" {
				name += " with a stale If-Match"
				headers["If-Match"] = ifMatch
			}
			t.Run(name, func(t *testing.T) {
				var body any
				if rt.body != "" {
					body = rt.body
				}
				there := f.app.do(t, rt.method, rt.path, f.outsider.Token, body, headers)
				nowhere := f.app.do(t, rt.method, strings.ReplaceAll(rt.path, f.pid, unknown), f.outsider.Token, body, headers)
				there.wantProblem(t, http.StatusNotFound, "property_not_found")
				nowhere.wantProblem(t, http.StatusNotFound, "property_not_found")
				if a, b := strings.ReplaceAll(there.str("detail"), f.pid, "ID"), strings.ReplaceAll(nowhere.str("detail"), unknown, "ID"); a != b {
					t.Errorf("details differ: %q on the property, %q on none", a, b)
				}
			})
		}
	}
	if diff := cmp.Diff(before, f.state(t)); diff != "" {
		t.Errorf("the outsider's commands changed the property (-before +after):\n%s", diff)
	}
}
