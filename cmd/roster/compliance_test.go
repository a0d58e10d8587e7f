package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/privacy"
)

// TestForgetThenRebuildThenVerify is the erasure promise (docs/ARCHITECTURE.md,
// section 7) through the real
// App: personal data never reaches the event store in the clear; after the
// operator forgets a person, every answer shows her erased; a full rebuild
// of the read models from the events gives the same answers; and the hash
// chain and a head signed before the forget still verify.
func TestForgetThenRebuildThenVerify(t *testing.T) {
	t.Parallel()
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	operatorID := "operator-" + strings.ReplaceAll(t.Name(), "/", "-")
	app := startApp(t, "ROSTER_OPERATORS", operatorID, "ROSTER_AUDIT_SIGNING_KEY", base64.StdEncoding.EncodeToString(seed))
	ctx := context.Background()
	owner, ann, bob := app.user(t, "owner"), app.user(t, "ann"), app.user(t, "bob")
	operator := app.user(t, "operator")
	operator.ID = operatorID
	operator.Token = mint(t, testSecret, "roster", "roster", operatorID, operator.Email, true, time.Hour, time.Now())

	pid := app.createProperty(t, owner, "Acme").PropertyID
	app.join(t, owner, pid, "agent", bob)
	inv := app.invite(t, owner, pid, map[string]string{"email": ann.Email, "role": "agent"})
	const annAgent = "AnnBrowser/1.0"
	app.command(t, http.MethodPost, "/v1/properties/"+pid+"/invitations/"+inv.Invitations[0].ID+"/accept", ann.Token,
		nil, map[string]string{"User-Agent": annAgent}, http.StatusOK)
	app.command(t, http.MethodPost, "/v1/properties/"+pid+"/members/"+ann.ID+"/disable", owner.Token, nil, nil, http.StatusOK)
	pos := app.command(t, http.MethodPost, "/v1/properties/"+pid+"/members/"+ann.ID+"/enable", owner.Token, nil, nil, http.StatusOK).Position

	for _, rec := range app.storedEvents(t) {
		for _, secret := range []string{ann.Email, annAgent, bob.Email, owner.Email} {
			if bytes.Contains(rec.Data, []byte(secret)) || bytes.Contains(rec.Metadata, []byte(secret)) {
				t.Fatalf("event %s (%s) holds %q in the clear", rec.ID, rec.Type, secret)
			}
		}
	}
	if got := emailOf(app.members(t, pid, owner.Token, pos), ann.ID); got != ann.Email {
		t.Fatalf("before the forget, Ann's member row says %q, want %s", got, ann.Email)
	}

	head := app.read(t, "/v1/properties/"+pid+"/audit/head", owner.Token, pos).want(t, http.StatusOK)
	var signed chain.Head
	head.into(t, &signed)

	// Only operators may forget.
	app.do(t, http.MethodPost, "/v1/admin/privacy/forget", owner.Token, map[string]string{"email": ann.Email}, nil).
		wantProblem(t, http.StatusForbidden, "forbidden")
	app.do(t, http.MethodPost, "/v1/admin/privacy/forget", operator.Token, map[string]string{"email": "not an email"}, nil).
		want(t, http.StatusUnprocessableEntity)
	app.do(t, http.MethodPost, "/v1/admin/privacy/forget", operator.Token, map[string]string{"email": ann.Email}, nil).
		want(t, http.StatusOK)

	asOf := time.Now().UTC().Format(time.RFC3339Nano)
	answers := func(stage string) map[string][]byte {
		t.Helper()
		out := map[string][]byte{}
		for name, path := range map[string]string{
			"members":  "/v1/properties/" + pid + "/members?limit=200",
			"audit":    "/v1/properties/" + pid + "/audit?limit=200",
			"csv":      "/v1/properties/" + pid + "/audit?format=csv",
			"history":  "/v1/properties/" + pid + "/members/" + ann.ID + "/history",
			"review":   "/v1/properties/" + pid + "/access-review",
			"asof":     "/v1/properties/" + pid + "/members?as_of=" + asOf,
			"property": "/v1/properties/" + pid,
		} {
			r := app.getRaw(t, path, owner.Token, pos)
			if r.Status != http.StatusOK {
				t.Fatalf("%s: GET %s = %d: %s", stage, path, r.Status, r.Raw)
			}
			for _, secret := range []string{ann.Email, annAgent} {
				if bytes.Contains(r.Raw, []byte(secret)) {
					t.Errorf("%s: GET %s still shows %q:\n%s", stage, path, secret, r.Raw)
				}
			}
			if !bytes.Contains(r.Raw, []byte(bob.Email)) && name != "property" && name != "history" {
				t.Errorf("%s: GET %s lost Bob, who was not forgotten:\n%s", stage, path, r.Raw)
			}
			out[name] = r.Raw
		}
		return out
	}
	forgotten := answers("after the forget")
	if got := emailOf(app.members(t, pid, owner.Token, pos), ann.ID); !privacy.IsErasedEmail(got) {
		t.Errorf("after the forget, Ann's member row says %q, want an erased address", got)
	}

	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"projections", "rebuild"}, func(k string) string { return app.env[k] }, &out, &errOut); code != 0 {
		t.Fatalf("roster projections rebuild = %d: %s", code, errOut.String())
	}
	rebuilt := answers("after a full rebuild")
	// The review is left out: it tells pending invitations' age, which grows.
	for _, name := range []string{"members", "asof", "history", "audit"} {
		if !bytes.Equal(forgotten[name], rebuilt[name]) {
			t.Errorf("%s differs after the rebuild:\nbefore %s\nafter  %s", name, forgotten[name], rebuilt[name])
		}
	}

	var rep chain.Report
	app.read(t, "/v1/properties/"+pid+"/audit/verify", owner.Token, pos).want(t, http.StatusOK).into(t, &rep)
	if !rep.OK || rep.Unchained != 0 || rep.Head == nil || rep.Head.Hash != signed.Hash {
		t.Errorf("verify after forget and rebuild = %+v, want ok, all chained, head %s", rep, signed.Hash)
	}
	var key chain.KeyInfo
	app.do(t, http.MethodGet, "/v1/audit/public-key", owner.Token, nil, nil).want(t, http.StatusOK).into(t, &key)
	pub, err := chain.ParsePublicKey(key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	check, err := chain.CheckHead(ctx, app.app.store, signed, pub)
	if err != nil || !check.OK {
		t.Errorf("the head signed before the forget: %+v, %v; want it to hold", check, err)
	}
}

func emailOf(ms []member, accountID string) string {
	for _, m := range ms {
		if m.AccountID == accountID {
			return m.Email
		}
	}
	return ""
}

// getRaw is a GET whose answer may be other than JSON (an export).
func (a *testApp) getRaw(t *testing.T, path, token, pos string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Roster-Min-Position", pos)
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
}
