package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/auth"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
	"github.com/rosterhq/roster/infra/pgtest"
)

// testSecret is the HS256 secret of the test App (at least 32 bytes).
const testSecret = "roster-e2e-test-secret-0123456789abcdef"

// syncBuffer collects the App's log; the App writes from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// e2eStores are the event stores the end-to-end suite runs on, once each
// (TestMain): ROSTER_TEST_EVENT_STORES, a comma-separated list of postgres,
// esdb (through the protocol double) and memory, by default postgres,esdb.
func e2eStores() []string {
	v := os.Getenv("ROSTER_TEST_EVENT_STORES")
	if strings.TrimSpace(v) == "" {
		return []string{config.EventStorePostgres, config.EventStoreESDB}
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// e2eStore is the event store of the pass under way: startApp gives it to
// every App it starts.
var e2eStore = config.EventStorePostgres

// TestMain runs every test of the package once per event store of
// e2eStores, so the whole end-to-end suite, and each test added to it,
// proves the App on each. A failing test's log names the store.
func TestMain(m *testing.M) {
	code := 0
	for _, store := range e2eStores() {
		e2eStore = store
		fmt.Printf("roster end-to-end suite: event store %s\n", store)
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	os.Exit(code)
}

// testApp is the real App serving on a loopback port over its own database.
type testApp struct {
	mu      sync.Mutex
	lastPos eventstore.Position // the latest position a command answered
	app     *App
	base    string
	pgURL   string
	logs    *syncBuffer
	http    *http.Client
	// env is the App's configuration, for running roster's subcommands
	// against the same databases.
	env map[string]string
}

// startApp starts the App on 127.0.0.1:0 with a fresh database and stops it
// when the test ends: cancel, wait for Run to return, Close. Its events go
// to the event store of the pass (e2eStore); for esdb, to a protocol double
// of its own. extra sets more ROSTER_* variables, as pairs of name and
// value, and may name another store.
func startApp(t *testing.T, extra ...string) *testApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return startAppOn(t, ln, extra...)
}

// startAppOn is startApp serving on ln, which it closes when the test
// ends. The App is told ln's address (ROSTER_HTTP_ADDR), so invitation
// mail links to its own accept page unless extra sets ROSTER_ACCEPT_URL.
func startAppOn(t *testing.T, ln net.Listener, extra ...string) *testApp {
	t.Helper()
	pgURL := pgtest.NewDatabase(t)
	// Many apps run at once against one server of 100 connections: each
	// gets a small pool rather than the production default.
	env := map[string]string{"ROSTER_PG_URL": withPoolSize(pgURL, 8), "ROSTER_JWT_SECRET": testSecret, "ROSTER_EVENT_STORE": e2eStore,
		"ROSTER_HTTP_ADDR": ln.Addr().String()}
	// The suite sends bursts from one account and one address that the
	// limits on writes would refuse; the tests of the limits set their own.
	for _, l := range limitVars {
		env[l] = "10000000"
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	if env["ROSTER_EVENT_STORE"] == config.EventStoreESDB && env["ROSTER_ESDB_URL"] == "" {
		srv, err := esdbdouble.Start("127.0.0.1:0")
		if err != nil {
			t.Fatalf("start the EventStoreDB double: %v", err)
		}
		t.Cleanup(srv.Close) // after the App's cleanup below, which runs first
		env["ROSTER_ESDB_URL"] = srv.URL()
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		_ = ln.Close()
		t.Fatalf("config: %v", err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	app, err := NewApp(ctx, cfg, zerolog.New(logs).With().Timestamp().Logger())
	if err != nil {
		cancel()
		_ = ln.Close()
		t.Fatalf("NewApp: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, ln) }()
	transport := &http.Transport{}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("App.Run: %v", err)
		}
		if store := env["ROSTER_EVENT_STORE"]; store != config.EventStorePostgres {
			// The pass proves the other store only if no event took
			// the PostgreSQL route.
			var n int
			if err := app.pool.QueryRow(context.Background(), "SELECT count(*) FROM events").Scan(&n); err != nil || n != 0 {
				t.Errorf("%d events (err %v) in PostgreSQL with the %s event store, want none", n, err, store)
			}
		}
		app.Close()
		transport.CloseIdleConnections()
		if t.Failed() {
			t.Logf("event store %s; app log (last lines):\n%s", env["ROSTER_EVENT_STORE"], tail(logs.String(), 40))
		}
	})
	return &testApp{app: app, base: "http://" + ln.Addr().String(), pgURL: pgURL, logs: logs, env: env,
		http: &http.Client{Transport: validatingTransport(t, transport), Timeout: time.Minute}}
}

// storedEvents reads every event of the app's event store, whichever it is,
// so checks that nothing was written hold on every pass of the suite.
func (a *testApp) storedEvents(t *testing.T) []eventstore.RecordedEvent {
	t.Helper()
	var all []eventstore.RecordedEvent
	after := eventstore.Start
	for {
		batch, err := a.app.store.ReadAll(context.Background(), after, 1000)
		if err != nil {
			t.Fatalf("read the event store: %v", err)
		}
		all = append(all, batch...)
		if len(batch) < 1000 {
			return all
		}
		after = batch[len(batch)-1].Position
	}
}

// withPoolSize sets pool_max_conns on a PostgreSQL URL.
func withPoolSize(raw string, n int) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(n))
	u.RawQuery = q.Encode()
	return u.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// user is an account with a verified email and a valid token.
type user struct {
	ID, Email, Token string
}

// user returns a new account name@example.com holding a verified token.
func (a *testApp) user(t *testing.T, name string) user {
	t.Helper()
	u := user{ID: uuid.NewString(), Email: name + "@example.com"}
	u.Token = mint(t, testSecret, "roster", "roster", u.ID, u.Email, true, time.Hour, time.Now())
	return u
}

// unverified returns u's token with email_verified false.
func (u user) unverified(t *testing.T) string {
	return mint(t, testSecret, "roster", "roster", u.ID, u.Email, false, time.Hour, time.Now())
}

func mint(t *testing.T, secret, iss, aud, sub, email string, verified bool, ttl time.Duration, now time.Time) string {
	t.Helper()
	tok, err := auth.Mint([]byte(secret), iss, aud, sub, email, verified, ttl, now)
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return tok
}

// reply is an HTTP answer with its JSON body decoded.
type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// do sends one request. body is nil (none), a string (sent as is) or a value
// (sent as JSON); a body gets Content-Type application/json unless headers
// say otherwise. token "" sends no Authorization header.
func (a *testApp) do(t *testing.T, method, path, token string, body any, headers map[string]string) reply {
	t.Helper()
	r, err := a.send(method, path, token, body, headers)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// send is do for goroutines other than the test's: it reports errors
// instead of failing the test.
func (a *testApp) send(method, path, token string, body any, headers map[string]string) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return reply{}, fmt.Errorf("encode body: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, fmt.Errorf("read body: %w", err)
	}
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			return r, fmt.Errorf("answer %d is not a JSON object: %w\n%s", resp.StatusCode, err, raw)
		}
	}
	return r, nil
}

// read is a query by u that first waits for the read side to reach pos
// (Roster-Min-Position), asking again while the answer is stale (see
// untilFresh).
func (a *testApp) read(t *testing.T, path, token, pos string) reply {
	t.Helper()
	var r reply
	untilFresh(t, path, pos, func() http.Header {
		r = a.do(t, http.MethodGet, path, token, nil, map[string]string{"Roster-Min-Position": pos})
		return r.Header
	})
	return r
}

// untilFresh calls get until its answer's headers no longer say
// Roster-Consistency: stale. The server waits a bounded time for pos; on a
// loaded machine the read side may take longer, so the test fails only if
// it has not got there in a minute.
func untilFresh(t *testing.T, path, pos string, get func() http.Header) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for get().Get("Roster-Consistency") == "stale" {
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: the read side did not reach position %s in a minute", path, pos)
		}
	}
}

// want fails the test unless the answer has the status.
func (r reply) want(t *testing.T, status int) reply {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Raw)
	}
	return r
}

// into decodes the body into v.
func (r reply) into(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Raw, v); err != nil {
		t.Fatalf("decode %s: %v", r.Raw, err)
	}
}

// wantProblem checks an RFC 9457 answer with Roster's stable code.
func (r reply) wantProblem(t *testing.T, status int, code string) {
	t.Helper()
	if r.Status != status || r.str("code") != code {
		t.Fatalf("got %d %q, want %d %q; body: %s", r.Status, r.str("code"), status, code, r.Raw)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if r.str("type") != "urn:roster:problem:"+code || r.Body["status"] != float64(status) ||
		r.str("title") == "" || r.str("detail") == "" || r.str("instance") == "" {
		t.Errorf("incomplete problem document: %s", r.Raw)
	}
	if id := r.str("request_id"); id == "" || id != r.Header.Get("X-Request-ID") {
		t.Errorf("request_id %q, X-Request-ID %q: want the same, not empty", id, r.Header.Get("X-Request-ID"))
	}
}

func (r reply) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

// inviteTokens returns, oldest first, the tokens the log sender mailed to
// email, once the mail consumer has caught up with the feed.
func (a *testApp) inviteTokens(t *testing.T, email string) []string {
	t.Helper()
	a.mailSettled(t)
	var out []string
	sc := bufio.NewScanner(strings.NewReader(a.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			To         string `json:"to"`
			AcceptWith string `json:"accept_with"`
			AcceptLink string `json:"accept_link"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.To != email || (line.AcceptWith == "" && line.AcceptLink == "") {
			continue
		}
		if line.AcceptLink != "" {
			u, err := url.Parse(line.AcceptLink)
			if err != nil || u.Query().Get("token") == "" {
				t.Fatalf("accept_link %q does not carry a token", line.AcceptLink)
			}
			out = append(out, u.Query().Get("token"))
			continue
		}
		var body struct{ Token string }
		raw := strings.TrimPrefix(line.AcceptWith, "POST /v1/invitations/accept ")
		if err := json.Unmarshal([]byte(raw), &body); err != nil || body.Token == "" {
			t.Fatalf("accept_with %q does not carry a token", line.AcceptWith)
		}
		out = append(out, body.Token)
	}
	return out
}

// inviteToken is the latest token mailed to email.
func (a *testApp) inviteToken(t *testing.T, email string) string {
	t.Helper()
	toks := a.inviteTokens(t, email)
	if len(toks) == 0 {
		t.Fatalf("no invitation mail to %s in the log", email)
	}
	return toks[len(toks)-1]
}
