package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAnUnverifiedInviterIsShownByAccountAndStillForgotten: an admin whose
// token carries an unverified email claim invites; the mail and the audit
// name them by account, never by the claim. The audit keeps the claim out of
// sight, so that forgetting that address still scrubs the client details
// sealed under it, and a rebuild then gives the same audit.
func TestAnUnverifiedInviterIsShownByAccountAndStillForgotten(t *testing.T) {
	t.Parallel()
	const operatorID = "operator-unverified-inviter"
	app := startApp(t, "ROSTER_OPERATORS", operatorID)
	owner, ann := app.user(t, "owner"), app.user(t, "ann")
	operator := mint(t, testSecret, "roster", "roster", operatorID, "operator@example.com", true, time.Hour, time.Now())
	pid := app.createProperty(t, owner, "Acme").PropertyID
	const claim, agent = "ceo@example.com", "ClaimedBrowser/1.0"
	unverified := mint(t, testSecret, "roster", "roster", owner.ID, claim, false, time.Hour, time.Now())
	pos := app.command(t, http.MethodPost, "/v1/properties/"+pid+"/invitations", unverified,
		map[string]string{"email": ann.Email, "role": "agent"}, map[string]string{"User-Agent": agent}, http.StatusCreated).Position

	app.mailSettled(t)
	mailed := false
	for _, line := range strings.Split(app.logs.String(), "\n") {
		var mail struct{ To, Subject string }
		if json.Unmarshal([]byte(line), &mail) != nil || mail.To != ann.Email {
			continue
		}
		mailed = true
		if strings.Contains(line, claim) || !strings.Contains(mail.Subject, "An admin (account "+owner.ID+") invited you") {
			t.Errorf("the invitation mail should name the inviter by account, not %s: %s", claim, line)
		}
	}
	if !mailed {
		t.Errorf("no invitation mail to %s in the log", ann.Email)
	}
	audit := func(stage string) []byte {
		t.Helper()
		r := app.getRaw(t, "/v1/properties/"+pid+"/audit?type=MemberInvited", owner.Token, pos)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: audit = %d: %s", stage, r.Status, r.Raw)
		}
		if bytes.Contains(r.Raw, []byte(claim)) || !bytes.Contains(r.Raw, []byte(owner.ID)) {
			t.Errorf("%s: the audit should name the inviter by account %s, not %s:\n%s", stage, owner.ID, claim, r.Raw)
		}
		return r.Raw
	}
	if before := audit("before the forget"); !bytes.Contains(before, []byte(agent)) {
		t.Fatalf("the audit lacks the inviter's user agent:\n%s", before)
	}
	app.do(t, http.MethodPost, "/v1/admin/privacy/forget", operator, map[string]string{"email": claim}, nil).want(t, http.StatusOK)
	forgotten := audit("after the forget")
	if bytes.Contains(forgotten, []byte(agent)) {
		t.Errorf("after forgetting %s, the audit still shows the user agent sealed under it:\n%s", claim, forgotten)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"projections", "rebuild"}, func(k string) string { return app.env[k] }, &out, &errOut); code != 0 {
		t.Fatalf("roster projections rebuild = %d: %s", code, errOut.String())
	}
	if rebuilt := audit("after a rebuild"); !bytes.Equal(forgotten, rebuilt) {
		t.Errorf("the audit differs after the rebuild:\nbefore %s\nafter  %s", forgotten, rebuilt)
	}
}
