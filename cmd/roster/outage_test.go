package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/infra/pgtest"
)

// tcpProxy forwards connections to target until Stop, which closes the
// listener and every connection at once, as PostgreSQL going away would;
// Start listens again on the same address.
type tcpProxy struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
	wg           sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, addr: "127.0.0.1:0", conns: map[net.Conn]bool{}}
	if err := p.Start(); err != nil {
		t.Fatalf("start the proxy: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// Start listens on the proxy's address (a free one the first time).
func (p *tcpProxy) Start() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.pipe(c)
			}()
		}
	}()
	return nil
}

func (p *tcpProxy) pipe(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	done := make(chan struct{}, 2)
	copyThen := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go copyThen(server, client)
	go copyThen(client, server)
	<-done
	p.untrack(client, server)
}

// track registers the pair, or closes it when the proxy has stopped.
func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

func (p *tcpProxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Stop closes the listener and every connection, and waits for the
// proxy's goroutines. It may be called more than once.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// untilAnswered repeats a request while it answers 503, as a client
// honouring Retry-After would (without waiting so long), and returns the
// first other answer. It gives up after a minute: the pool drops the
// connections the outage broke as it meets them.
func (a *testApp) untilAnswered(t *testing.T, method, path, token string, body any) reply {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r := a.do(t, method, path, token, body, nil)
		if r.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestADatabaseOutageAnswers503AndRecovers: while PostgreSQL cannot be
// reached, commands and queries answer 503 unavailable with Retry-After
// (never 500), /readyz answers 503 naming postgresql, and once the
// database answers again so does everything else.
func TestADatabaseOutageAnswers503AndRecovers(t *testing.T) {
	t.Parallel()
	pgURL := pgtest.NewDatabase(t)
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	u.Host = proxy.addr
	q := u.Query()
	q.Set("connect_timeout", "5")
	u.RawQuery = q.Encode()
	app := startApp(t, "ROSTER_PG_URL", withPoolSize(u.String(), 8))
	owner := app.user(t, "owner")
	created := app.createProperty(t, owner, "Before")
	app.read(t, "/v1/properties/"+created.PropertyID, owner.Token, created.Position).want(t, http.StatusOK)
	app.do(t, http.MethodGet, "/readyz", "", nil, nil).want(t, http.StatusOK)

	// With EventStoreDB or memory holding the events, a command whose
	// personal keys are in memory needs no PostgreSQL and still succeeds;
	// a newcomer's key, like a new invitee's, must be stored first.
	newcomer := app.user(t, "newcomer")
	proxy.Stop()
	logsBefore := len(app.logs.String())
	down := []struct {
		name, method, path string
		caller             user
		body               any
	}{
		{"a command", http.MethodPost, "/v1/properties", newcomer, map[string]string{"name": "During"}},
		{"a command on a property", http.MethodPost, "/v1/properties/" + created.PropertyID + "/invitations", owner, map[string]string{"email": "new@example.com", "role": "agent"}},
		{"a query", http.MethodGet, "/v1/properties/" + created.PropertyID, owner, nil},
		{"a list", http.MethodGet, "/v1/properties/" + created.PropertyID + "/members", owner, nil},
		{"the caller's own list", http.MethodGet, "/v1/me/properties", owner, nil},
	}
	for _, rq := range down {
		t.Run(rq.name+" answers 503 while the database is down", func(t *testing.T) {
			r := app.do(t, rq.method, rq.path, rq.caller.Token, rq.body, nil)
			r.wantProblem(t, http.StatusServiceUnavailable, "unavailable")
			if r.Header.Get("Retry-After") != "5" {
				t.Errorf("Retry-After %q, want 5", r.Header.Get("Retry-After"))
			}
			if strings.Contains(r.str("detail"), "127.0.0.1") || strings.Contains(r.str("detail"), "user=") {
				t.Errorf("detail %q gives away where the database is", r.str("detail"))
			}
		})
	}
	ready := app.do(t, http.MethodGet, "/readyz", "", nil, nil)
	ready.wantProblem(t, http.StatusServiceUnavailable, "not_ready")
	if !strings.Contains(ready.str("detail"), "postgresql") || ready.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz = %s (Retry-After %q), want it to name postgresql and say when to retry", ready.Raw, ready.Header.Get("Retry-After"))
	}
	if errs, _ := ready.Body["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "postgresql" {
		t.Errorf("/readyz errors %v, want one naming postgresql", ready.Body["errors"])
	}
	if logs := app.logs.String()[logsBefore:]; strings.Contains(logs, `"internal error"`) {
		t.Errorf("the outage was logged as an internal error (a 500):\n%s", tail(logs, 10))
	}

	if err := proxy.Start(); err != nil {
		t.Fatalf("restart the proxy on %s: %v", proxy.addr, err)
	}
	app.untilAnswered(t, http.MethodGet, "/readyz", "", nil).want(t, http.StatusOK)
	after := app.untilAnswered(t, http.MethodPost, "/v1/properties", owner.Token, map[string]string{"name": "After"}).want(t, http.StatusCreated)
	var ans answer
	after.into(t, &ans)
	app.read(t, "/v1/properties/"+ans.PropertyID, owner.Token, ans.Position).want(t, http.StatusOK)
	app.read(t, "/v1/properties/"+created.PropertyID, owner.Token, ans.Position).want(t, http.StatusOK)
}
