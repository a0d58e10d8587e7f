package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/infra/pgtest"
)

// smallSendBuffers gives every accepted connection a small kernel send
// buffer, so that a client that stops reading stalls the server's writes
// after kilobytes rather than megabytes: a trail of a thousand rows is then
// far more than the way to the client holds.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// slowReader asks for path as token on a connection of its own, reads the
// answer's head and a few bytes, then stops reading until closed: a
// client on a slow link, or one that means harm.
type slowReader struct {
	conn   net.Conn
	status string
}

func startSlowReader(t *testing.T, app *testApp, path, token string) *slowReader {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(app.base, "http://"), 10*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer " + token + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatalf("send: %v", err)
	}
	// The head and a little of the body; the rest stays unread.
	status, err := bufio.NewReaderSize(conn, 512).ReadString('\n')
	if err != nil {
		t.Fatalf("read the status line of %s: %v", path, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return &slowReader{conn: conn, status: strings.TrimSpace(status)}
}

// seedTrail gives pid a trail of about n events, in bulk invitations.
func seedTrail(t *testing.T, app *testApp, owner user, pid string, n int) string {
	t.Helper()
	var pos string
	for b := 0; b*50 < n; b++ {
		rows := make([]map[string]string, 50)
		for i := range rows {
			rows[i] = map[string]string{"email": fmt.Sprintf("trail-%d-%d@example.com", b, i), "role": "agent"}
		}
		pos = app.invite(t, owner, pid, rows...).Position
	}
	return pos
}

// timed sends one request and returns how long the answer took, failing
// the test if it took longer than the liveness bound or answered otherwise
// than status.
func timed(t *testing.T, app *testApp, method, path string, u user, body any, status int) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan reply, 1)
	start := time.Now()
	go func() {
		r, err := app.send(method, path, u.Token, body, nil)
		if err != nil {
			r.Status, r.Raw = -1, []byte(err.Error())
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r.Status != status {
			t.Fatalf("%s %s answered %d %s, want %d", method, path, r.Status, r.Raw, status)
		}
		return time.Since(start)
	case <-ctx.Done():
		t.Fatalf("%s %s did not answer in 30 s beside the slow exports", method, path)
		return 0
	}
}

// TestSlowExportersLeaveThePoolToOthers: with a pool of four connections
// and three times as many clients holding CSV exports open without
// reading them, the owner still reads the property and sends commands:
// an export holds no connection while it waits for its client.
func TestSlowExportersLeaveThePoolToOthers(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := startAppOn(t, smallSendBuffers{ln}, "ROSTER_PG_URL", withPoolSize(pgtest.NewDatabase(t), 4),
		"ROSTER_LONG_READS_PER_CALLER", "12", "ROSTER_LONG_READS_TOTAL", "12")
	owner, agent := app.user(t, "owner"), app.user(t, "agent")
	pid := app.createProperty(t, owner, "Slow readers").PropertyID
	app.join(t, owner, pid, "agent", agent)
	pos := seedTrail(t, app, owner, pid, 1000)
	app.read(t, "/v1/properties/"+pid, owner.Token, pos).want(t, http.StatusOK)

	var before []time.Duration
	for range 200 {
		before = append(before, timed(t, app, http.MethodGet, "/v1/properties/"+pid, owner, nil, http.StatusOK))
	}
	for i := range 12 {
		r := startSlowReader(t, app, "/v1/properties/"+pid+"/audit?format=csv", agent.Token)
		if !strings.Contains(r.status, " 200 ") {
			t.Fatalf("slow reader %d: %s, want 200", i, r.status)
		}
	}
	var during []time.Duration
	for range 200 {
		during = append(during, timed(t, app, http.MethodGet, "/v1/properties/"+pid, owner, nil, http.StatusOK))
	}
	command := timed(t, app, http.MethodPost, "/v1/properties/"+pid+"/invitations", owner,
		map[string]string{"email": "during@example.com", "role": "agent"}, http.StatusCreated)
	t.Logf("GET /v1/properties/{pid}, pool of 4: without slow exporters p50 %s p99 %s; beside 12 stalled CSV exports p50 %s p99 %s; a command %s",
		percentile(before, 50), percentile(before, 99), percentile(during, 50), percentile(during, 99), command)
}

// percentile is the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

// TestLongReadsPastTheirBoundsAre429: past the bound per account and the
// bound in total, an export, an as_of query and a review are refused with
// 429 too_many_long_reads and Retry-After, while short queries and
// commands go on; once the slow readers leave, their places are free.
func TestLongReadsPastTheirBoundsAre429(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := startAppOn(t, smallSendBuffers{ln}, "ROSTER_LONG_READS_PER_CALLER", "2", "ROSTER_LONG_READS_TOTAL", "3")
	owner, agent, other := app.user(t, "owner"), app.user(t, "agent"), app.user(t, "other")
	pid := app.createProperty(t, owner, "Bounded").PropertyID
	app.join(t, owner, pid, "agent", agent, other)
	pos := seedTrail(t, app, owner, pid, 1000)
	app.read(t, "/v1/properties/"+pid, owner.Token, pos).want(t, http.StatusOK)

	export := "/v1/properties/" + pid + "/audit?format=csv"
	var readers []*slowReader
	hold := func(u user) {
		r := startSlowReader(t, app, export, u.Token)
		if !strings.Contains(r.status, " 200 ") {
			t.Fatalf("a slow export as %s: %s, want 200", u.Email, r.status)
		}
		readers = append(readers, r)
	}
	hold(agent)
	hold(agent)
	long := []string{export, "/v1/properties/" + pid + "/audit?format=ndjson",
		"/v1/properties/" + pid + "/members?as_of=" + time.Now().UTC().Format(time.RFC3339),
		"/v1/properties/" + pid + "/members/" + agent.ID + "/permissions?as_of=" + time.Now().UTC().Format(time.RFC3339),
		"/v1/properties/" + pid + "/access-review"}
	wantRefused := func(u user, why string) {
		t.Helper()
		for _, path := range long {
			r := app.do(t, http.MethodGet, path, u.Token, nil, nil)
			r.wantProblem(t, http.StatusTooManyRequests, "too_many_long_reads")
			if r.Header.Get("Retry-After") == "" || !strings.Contains(r.str("detail"), why) {
				t.Errorf("GET %s as %s: Retry-After %q, detail %q; want one, saying %q", path, u.Email, r.Header.Get("Retry-After"), r.str("detail"), why)
			}
		}
	}
	wantRefused(agent, "as many as one account may")
	hold(owner) // another account still may: the third place in total
	wantRefused(other, "as many as it runs at once")
	for _, path := range []string{"/v1/properties/" + pid, "/v1/properties/" + pid + "/members", "/v1/properties/" + pid + "/audit",
		"/v1/properties/" + pid + "/invitations"} {
		app.do(t, http.MethodGet, path, other.Token, nil, nil).want(t, http.StatusOK)
	}
	app.invite(t, owner, pid, map[string]string{"email": "beside@example.com", "role": "agent"})

	for _, r := range readers {
		_ = r.conn.Close()
	}
	// The server learns that a reader left when its next write fails.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := app.do(t, http.MethodGet, "/v1/properties/"+pid+"/access-review", other.Token, nil, nil)
		if r.Status == http.StatusOK {
			break
		}
		if r.Status != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("after the slow readers left: %d %s, want 200 within 30 s", r.Status, r.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
