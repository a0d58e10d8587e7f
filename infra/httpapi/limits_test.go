package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/limits"
)

// wantLimited checks a 429 of the limit's code with its headers.
func wantLimited(t *testing.T, w *httptest.ResponseRecorder, code, policy, current, retryAfter string) {
	t.Helper()
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	h := w.Header()
	if w.Code != http.StatusTooManyRequests || p.Code != code || p.Status != 429 ||
		h.Get("Content-Type") != "application/problem+json" || h.Get("Retry-After") != retryAfter ||
		h.Get("RateLimit-Policy") != policy || h.Get("RateLimit") != current {
		t.Errorf("answer %d %s, headers %v; want 429 %s, Retry-After %s, RateLimit-Policy %s, RateLimit %s",
			w.Code, w.Body, h, code, retryAfter, policy, current)
	}
}

func TestCommandsPastTheAccountsLimitAre429(t *testing.T) {
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	m, err := limits.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.CommandsPerAccount, Quota: 2, Window: time.Second,
		Now: func() time.Time { return now }, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran++ })
	send := func(method, account string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, "/v1/properties/p1/leave", nil)
		r = r.WithContext(context.WithValue(r.Context(), actorKey, domain.Actor{AccountID: account}))
		limitCommands(k, method, next).ServeHTTP(w, r)
		return w
	}
	for range 2 {
		if w := send(http.MethodPost, "a1"); w.Code != http.StatusOK {
			t.Fatalf("a command within the limit: %d %s", w.Code, w.Body)
		}
	}
	w := send(http.MethodPost, "a1")
	wantLimited(t, w, limits.CodeCommandRateLimited, `"commands_per_account";q=2;w=1`, `"commands_per_account";r=0;t=1`, "1")
	if ran != 2 {
		t.Errorf("the handler ran %d times, want 2: a refused command must not reach it", ran)
	}
	if w := send(http.MethodGet, "a1"); w.Code != http.StatusOK {
		t.Errorf("a query was limited as a command: %d", w.Code)
	}
	if w := send(http.MethodDelete, "a2"); w.Code != http.StatusOK {
		t.Errorf("another account was limited: %d", w.Code)
	}
	now = now.Add(time.Second)
	if w := send(http.MethodPut, "a1"); w.Code != http.StatusOK {
		t.Errorf("a second later: %d %s", w.Code, w.Body)
	}
	if got := testutil.ToFloat64(m.Counter(limits.CommandsPerAccount)); got != 1 {
		t.Errorf("refusals counted %v, want 1", got)
	}
}

func TestAnAddressPastItsTokenFailuresIs429EvenWithAGoodToken(t *testing.T) {
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	k, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.TokenFailuresPerIP, Quota: 2, Window: time.Minute,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	check := func(_ context.Context, raw string) (domain.Actor, error) {
		if raw == "good" {
			return domain.Actor{AccountID: "a1"}, nil
		}
		return domain.Actor{}, errors.New("bad signature")
	}
	send := func(ip, header string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
		r.RemoteAddr = ip + ":4242"
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		authenticate(check, k)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, r)
		return w
	}
	// No token guesses nothing: it is not counted.
	for range 5 {
		if w := send("10.0.0.1", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("no token: %d", w.Code)
		}
	}
	for range 2 {
		if w := send("10.0.0.1", "Bearer bad"); w.Code != http.StatusUnauthorized {
			t.Fatalf("a bad token: %d", w.Code)
		}
	}
	w := send("10.0.0.1", "Bearer good")
	wantLimited(t, w, limits.CodeTokenFailureLimit, `"token_failures_per_ip";q=2;w=60`, `"token_failures_per_ip";r=0;t=30`, "30")
	if w := send("10.0.0.2", "Bearer good"); w.Code != http.StatusOK {
		t.Errorf("another address: %d", w.Code)
	}
	now = now.Add(30 * time.Second)
	if w := send("10.0.0.1", "Bearer good"); w.Code != http.StatusOK {
		t.Errorf("30s later: %d %s", w.Code, w.Body)
	}
}
