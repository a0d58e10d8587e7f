package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// webhooks lists pid's endpoints as token sees them, each as its JSON object.
func (a *testApp) webhooks(t *testing.T, pid, token string) []map[string]any {
	t.Helper()
	var page struct {
		Endpoints []map[string]any `json:"endpoints"`
	}
	r := a.do(t, http.MethodGet, "/v1/properties/"+pid+"/webhooks", token, nil, nil).want(t, http.StatusOK)
	r.into(t, &page)
	return page.Endpoints
}

// TestWebhookEndpointsThroughTheAPI: admins add, list, change, disable,
// rotate and delete endpoints; the secret is shown only when issued and is
// in no event, listing or audit row; each change is in the audit trail.
func TestWebhookEndpointsThroughTheAPI(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	owner, agentU, outsider := a.user(t, "hook-owner"), a.user(t, "hook-agent"), a.user(t, "hook-outsider")
	pid := a.createProperty(t, owner, "Hooks").PropertyID
	a.join(t, owner, pid, "agent", agentU)
	base := "/v1/properties/" + pid + "/webhooks"

	created := a.do(t, http.MethodPost, base, owner.Token, map[string]any{
		"url": "https://hooks.example.com/roster", "event_types": []string{"roster.member.joined.v1"}, "description": "CRM",
	}, nil).want(t, http.StatusCreated)
	secret, wid := created.str("secret"), created.str("endpoint_id")
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 || wid == "" {
		t.Fatalf("create answered secret %q, endpoint %q", secret, wid)
	}

	settled := created.str("position") // the last change so far
	t.Run("a repeat with the same Idempotency-Key shows the same secret", func(t *testing.T) {
		body := map[string]any{"url": "https://hooks.example.com/again"}
		key := map[string]string{"Idempotency-Key": "hook-" + pid}
		first := a.do(t, http.MethodPost, base, owner.Token, body, key).want(t, http.StatusCreated)
		again := a.do(t, http.MethodPost, base, owner.Token, body, key).want(t, http.StatusCreated)
		if again.str("secret") != first.str("secret") || again.str("endpoint_id") != first.str("endpoint_id") || again.Body["repeated"] != true {
			t.Errorf("repeat answered %s, first %s", again.Raw, first.Raw)
		}
		settled = a.command(t, http.MethodDelete, base+"/"+first.str("endpoint_id"), owner.Token, nil, nil, http.StatusOK).Position
	})

	t.Run("bad settings are refused and nothing is stored", func(t *testing.T) {
		// The feed shows an event once every earlier commit is in: wait
		// for the read side to pass the endpoint's creation first.
		a.read(t, "/v1/properties/"+pid+"/audit", owner.Token, settled).want(t, http.StatusOK)
		before := len(a.storedEvents(t))
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"plain http", map[string]any{"url": "http://hooks.example.com/"}, http.StatusUnprocessableEntity, "invalid_webhook_url"},
			{"no url", map[string]any{"event_types": []string{"*"}}, http.StatusUnprocessableEntity, "invalid_webhook_url"},
			{"credentials in the url", map[string]any{"url": "https://u:p@hooks.example.com/"}, http.StatusUnprocessableEntity, "invalid_webhook_url"},
			{"an unknown event type", map[string]any{"url": "https://hooks.example.com/", "event_types": []string{"MemberJoined"}}, http.StatusUnprocessableEntity, "invalid_event_types"},
			{"a description too long", map[string]any{"url": "https://hooks.example.com/", "description": strings.Repeat("x", 501)}, http.StatusUnprocessableEntity, "invalid_description"},
			{"an unknown field", map[string]any{"url": "https://hooks.example.com/", "secret": "mine"}, http.StatusBadRequest, "unknown_field"},
			{"not JSON", "{", http.StatusBadRequest, "malformed_json"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a.do(t, http.MethodPost, base, owner.Token, tc.body, nil).wantProblem(t, tc.status, tc.code)
			})
		}
		a.do(t, http.MethodPatch, base+"/"+wid, owner.Token, map[string]any{"url": "ftp://x"}, nil).
			wantProblem(t, http.StatusUnprocessableEntity, "invalid_webhook_url")
		if evs := a.storedEvents(t); len(evs) != before {
			t.Logf("last: %s", evs[len(evs)-1].Type)
			t.Errorf("refused requests stored %d events", len(evs)-before)
		}
	})

	t.Run("only admins see or change endpoints", func(t *testing.T) {
		a.do(t, http.MethodGet, base, agentU.Token, nil, nil).wantProblem(t, http.StatusForbidden, "forbidden")
		a.do(t, http.MethodPost, base, agentU.Token, map[string]any{"url": "https://x.example.com/"}, nil).wantProblem(t, http.StatusForbidden, "forbidden")
		a.do(t, http.MethodGet, base, outsider.Token, nil, nil).wantProblem(t, http.StatusNotFound, "property_not_found")
		a.do(t, http.MethodPost, base+"/"+wid+"/disable", outsider.Token, nil, nil).wantProblem(t, http.StatusNotFound, "property_not_found")
		a.do(t, http.MethodPost, base+"/nope/disable", owner.Token, nil, nil).wantProblem(t, http.StatusNotFound, "webhook_not_found")
	})

	a.command(t, http.MethodPatch, base+"/"+wid, owner.Token, map[string]any{"event_types": []string{"*"}}, nil, http.StatusOK)
	rotated := a.do(t, http.MethodPost, base+"/"+wid+"/rotate-secret", owner.Token, nil, nil).want(t, http.StatusOK)
	if s := rotated.str("secret"); !strings.HasPrefix(s, "whsec_") || s == secret {
		t.Errorf("rotation answered secret %q (the first was %q)", s, secret)
	}
	a.command(t, http.MethodPost, base+"/"+wid+"/disable", owner.Token, nil, nil, http.StatusOK)
	list := a.webhooks(t, pid, owner.Token)
	if len(list) != 1 || list[0]["status"] != "disabled" || list[0]["disabled_reason"] != "admin" || list[0]["previous_secret_valid_until"] == nil ||
		fmt.Sprint(list[0]["event_types"]) != "[*]" || list[0]["url"] != "https://hooks.example.com/roster" {
		t.Errorf("endpoints = %+v", list)
	}
	a.command(t, http.MethodPost, base+"/"+wid+"/enable", owner.Token, nil, nil, http.StatusOK)
	last := a.command(t, http.MethodDelete, base+"/"+wid, owner.Token, nil, nil, http.StatusOK)
	if got := a.webhooks(t, pid, owner.Token); len(got) != 0 {
		t.Errorf("a deleted endpoint is listed: %+v", got)
	}
	a.do(t, http.MethodDelete, base+"/"+wid, owner.Token, nil, nil).wantProblem(t, http.StatusNotFound, "webhook_not_found")

	audit := a.read(t, "/v1/properties/"+pid+"/audit?type=WebhookEndpointCreated,WebhookEndpointUpdated,WebhookSecretRotated,WebhookEndpointDisabled,WebhookEndpointEnabled,WebhookEndpointDeleted&order=asc",
		owner.Token, last.Position).want(t, http.StatusOK)
	var trail struct {
		Entries []struct {
			Type    string `json:"type"`
			Subject struct {
				Kind, ID string
			} `json:"subject"`
		} `json:"entries"`
	}
	audit.into(t, &trail)
	var types []string
	for _, e := range trail.Entries {
		if e.Subject.Kind != "webhook" {
			t.Errorf("audit row %s is about a %s, want a webhook", e.Type, e.Subject.Kind)
		}
		if e.Subject.ID == wid {
			types = append(types, e.Type)
		}
	}
	want := "WebhookEndpointCreated WebhookEndpointUpdated WebhookSecretRotated WebhookEndpointDisabled WebhookEndpointEnabled WebhookEndpointDeleted"
	if strings.Join(types, " ") != want {
		t.Errorf("audit trail %v, want %s", types, want)
	}
	secrets := []string{strings.TrimPrefix(secret, "whsec_"), strings.TrimPrefix(rotated.str("secret"), "whsec_")}
	for _, s := range secrets {
		if strings.Contains(string(audit.Raw), s) {
			t.Error("the audit trail holds a secret")
		}
		for _, e := range a.storedEvents(t) {
			if strings.Contains(string(e.Data), s) || strings.Contains(string(e.Metadata), s) {
				t.Errorf("event %s holds a secret", e.Type)
			}
		}
	}
}

// TestWebhookDeliveriesFromTheRunningApp: an endpoint added through the
// API receives the property's later events, signed under the secret the
// API showed, verified by the Standard Webhooks library.
func TestWebhookDeliveriesFromTheRunningApp(t *testing.T) {
	t.Parallel()
	type got struct {
		id, typ string
		err     error
	}
	hits := make(chan got, 100)
	var wh *standardwebhooks.Webhook
	var mu sync.Mutex
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct{ Type string }
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		err := wh.Verify(body, r.Header)
		mu.Unlock()
		hits <- got{id: r.Header.Get("webhook-id"), typ: ev.Type, err: err}
	}))
	defer rcv.Close()
	a := startApp(t, "ROSTER_WEBHOOK_ALLOW_HTTP", "true", "ROSTER_WEBHOOK_ALLOW_PRIVATE", "true")
	owner, agentU := a.user(t, "wh-owner"), a.user(t, "wh-agent")
	pid := a.createProperty(t, owner, "Hooked").PropertyID
	created := a.do(t, http.MethodPost, "/v1/properties/"+pid+"/webhooks", owner.Token, map[string]any{
		"url": rcv.URL + "/in", "event_types": []string{"roster.member.invited.v1", "roster.member.joined.v1"},
	}, nil).want(t, http.StatusCreated)
	mu.Lock()
	var err error
	wh, err = standardwebhooks.NewWebhook(created.str("secret"))
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	a.join(t, owner, pid, "agent", agentU)
	var types []string
	deadline := time.After(time.Minute)
	for len(types) < 2 {
		select {
		case h := <-hits:
			if h.err != nil {
				t.Errorf("delivery %s does not verify: %v", h.id, h.err)
			}
			types = append(types, h.typ)
		case <-deadline:
			t.Fatalf("got %v in a minute, want the invitation and the join", types)
		}
	}
	if !slices.Equal(types, []string{"roster.member.invited.v1", "roster.member.joined.v1"}) {
		t.Errorf("delivered %v, want the invitation then the join", types)
	}

	// The delivery log, newest first, once both are recorded delivered.
	base := "/v1/properties/" + pid + "/webhooks/" + created.str("endpoint_id")
	type delivery struct {
		ID             int64
		EventType      string `json:"event_type"`
		Status, Origin string
		Attempts       int
		LastStatusCode *int `json:"last_status_code"`
	}
	var page struct {
		Deliveries []delivery `json:"deliveries"`
	}
	for deadline := time.Now().Add(time.Minute); ; {
		a.do(t, http.MethodGet, base+"/deliveries", owner.Token, nil, nil).want(t, http.StatusOK).into(t, &page)
		if len(page.Deliveries) == 2 && page.Deliveries[0].Status == "delivered" && page.Deliveries[1].Status == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log %+v", page.Deliveries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := page.Deliveries[0]; d.EventType != "roster.member.joined.v1" || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 200 {
		t.Errorf("newest delivery %+v", d)
	}
	a.do(t, http.MethodGet, base+"/deliveries", agentU.Token, nil, nil).wantProblem(t, http.StatusForbidden, "forbidden")
	a.do(t, http.MethodGet, base+"/deliveries?before=x", owner.Token, nil, nil).wantProblem(t, http.StatusUnprocessableEntity, "invalid_query")
	a.do(t, http.MethodGet, base+"/deliveries?limit=1000", owner.Token, nil, nil).wantProblem(t, http.StatusUnprocessableEntity, "invalid_query")
	a.do(t, http.MethodGet, "/v1/properties/"+pid+"/webhooks/nope/deliveries", owner.Token, nil, nil).wantProblem(t, http.StatusNotFound, "webhook_not_found")
	a.do(t, http.MethodPost, base+"/deliveries/999999/redeliver", owner.Token, nil, nil).wantProblem(t, http.StatusNotFound, "webhook_delivery_not_found")
	a.do(t, http.MethodPost, base+"/deliveries/x/redeliver", owner.Token, nil, nil).wantProblem(t, http.StatusNotFound, "webhook_delivery_not_found")
	a.do(t, http.MethodPost, base+"/replay", owner.Token, map[string]any{}, nil).wantProblem(t, http.StatusUnprocessableEntity, "invalid_request")
	a.do(t, http.MethodPost, base+"/replay", owner.Token, map[string]any{"since": "yesterday"}, nil).wantProblem(t, http.StatusBadRequest, "malformed_json")
	a.do(t, http.MethodPost, base+"/replay", agentU.Token, map[string]any{"since": time.Now()}, nil).wantProblem(t, http.StatusForbidden, "forbidden")

	// Redeliver the invitation, replay everything: three more, in order.
	a.do(t, http.MethodPost, base+"/deliveries/"+strconv.FormatInt(page.Deliveries[1].ID, 10)+"/redeliver", owner.Token, nil, nil).
		want(t, http.StatusAccepted)
	r := a.do(t, http.MethodPost, base+"/replay", owner.Token, map[string]any{"since": time.Now().Add(-time.Hour)}, nil).want(t, http.StatusAccepted)
	if r.Body["queued"] != float64(2) {
		t.Errorf("replay queued %v, want 2", r.Body["queued"])
	}
	types = nil
	for len(types) < 3 {
		select {
		case h := <-hits:
			types = append(types, h.typ)
		case <-time.After(time.Minute):
			t.Fatalf("got %v in a minute, want three more", types)
		}
	}
	if !slices.Equal(types, []string{"roster.member.invited.v1", "roster.member.invited.v1", "roster.member.joined.v1"}) {
		t.Errorf("redelivered and replayed %v", types)
	}
}
