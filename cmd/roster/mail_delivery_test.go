package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/pgtest"
)

// testSMTPD is the mail tests' SMTP server (infra/mail/internal/smtpd), a
// process of its own that stores what it accepts in a directory.
type testSMTPD struct {
	t    *testing.T
	addr string
	dir  string
}

// startSMTPD builds and starts the test SMTP server with flags, without
// TLS, and kills it when the test ends.
func startSMTPD(t *testing.T, flags ...string) *testSMTPD {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "smtpd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/rosterhq/roster/infra/mail/internal/smtpd").CombinedOutput(); err != nil {
		t.Fatalf("build the test SMTP server: %v\n%s", err, out)
	}
	s := &testSMTPD{t: t, dir: t.TempDir()}
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-ready", ready, "-dir", s.dir}, flags...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start smtpd: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitUntil(t, 20*time.Second, "smtpd listens", func() bool {
		b, err := os.ReadFile(ready)
		s.addr = string(b)
		return err == nil
	})
	return s
}

// url is the server's address as ROSTER_SMTP_URL.
func (s *testSMTPD) url() string { return "smtp://" + s.addr + "?starttls=none" }

// recipients lists the recipient of every mail accepted, in the order the
// server stored them.
func (s *testSMTPD) recipients() []string {
	s.t.Helper()
	names, err := filepath.Glob(filepath.Join(s.dir, "msg-*.json"))
	if err != nil {
		s.t.Fatal(err)
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		var m struct{ To []string }
		b, err := os.ReadFile(n)
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil || len(m.To) != 1 {
			s.t.Fatalf("%s: %v (to %v)", n, err, m.To)
		}
		out = append(out, m.To[0])
	}
	return out
}

func (s *testSMTPD) has(name string) bool {
	_, err := os.Stat(filepath.Join(s.dir, name))
	return err == nil
}

// waitUntil polls ok until it holds, failing the test after limit: a guard
// against a hang, not a measure of speed.
func waitUntil(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: not yet %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mailApp is an App sending its mail to a test SMTP server started with
// flags; env sets more of its variables, as pairs.
func mailApp(t *testing.T, env []string, flags ...string) (*testApp, *testSMTPD) {
	t.Helper()
	srv := startSMTPD(t, flags...)
	env = append([]string{"ROSTER_SMTP_URL", srv.url(), "ROSTER_MAIL_FROM", "Roster <roster@mail.example.com>"}, env...)
	return startApp(t, env...), srv
}

// ledgerCount counts the ledger's mails matching where.
func (a *testApp) ledgerCount(t *testing.T, where string, args ...any) int {
	t.Helper()
	var n int
	if err := a.app.pool.QueryRow(context.Background(), `SELECT count(*) FROM mail_ledger WHERE `+where, args...).Scan(&n); err != nil {
		return -1
	}
	return n
}

// TestInvitationMailOfAPropertyGoesOutPastAnotherPropertysBacklog: property
// A invites 200 while the mail server holds every mail, then property B
// invites one. B's mail is recorded without waiting for A's backlog, and
// goes out among the first few once the server answers, not after A's.
func TestInvitationMailOfAPropertyGoesOutPastAnotherPropertysBacklog(t *testing.T) {
	release := filepath.Join(t.TempDir(), "release")
	a, srv := mailApp(t, nil, "-hold", release)
	spammer, quiet := a.user(t, "spammer"), a.user(t, "quiet")
	pa := a.createProperty(t, spammer, "Backlog Inc").PropertyID
	const backlog = 200
	for i := 0; i < backlog; i += 50 {
		rows := make([]map[string]string, 50)
		for j := range rows {
			rows[j] = map[string]string{"email": fmt.Sprintf("guest%03d@example.com", i+j), "role": "agent"}
		}
		a.invite(t, spammer, pa, rows...)
	}
	pb := a.createProperty(t, quiet, "Quiet Ltd").PropertyID
	a.invite(t, quiet, pb, map[string]string{"email": "solo@example.com", "role": "agent"})

	waitUntil(t, time.Minute, "B's mail recorded while A's are held at the server", func() bool {
		return a.ledgerCount(t, "recipient = 'solo@example.com'") == 1
	})
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Minute, "every mail accepted", func() bool { return len(srv.recipients()) >= backlog+1 })
	got := srv.recipients()
	pos := slices.Index(got, "solo@example.com") + 1
	t.Logf("B's mail went out %d of %d", pos, len(got))
	if pos < 1 || pos > 16 {
		t.Errorf("B's mail went out %d of %d, want among the first 16", pos, len(got))
	}
	seen := map[string]int{}
	for _, to := range got {
		seen[to]++
	}
	for to, n := range seen {
		if n != 1 {
			t.Errorf("%s got %d mails, want 1", to, n)
		}
	}
	if len(got) != backlog+1 {
		t.Errorf("%d mails accepted, want %d", len(got), backlog+1)
	}
}

// TestInvitationMailSentBeforeADatabaseOutageIsSentOnceAndHoldsNoOtherMail:
// PostgreSQL goes away after the server has the whole mail and before it
// accepts it, so the ledger cannot hear that it went out. Once PostgreSQL
// is back, another property's mail goes out without waiting for the first
// one's lease, and the first is recorded as sent without being sent again.
//
// The events are kept in memory, on every pass: the PostgreSQL store's feed
// subscription does not outlive a database refusing connections (the App
// stops), which is not what this test is about; the ledger is in
// PostgreSQL whichever store keeps the events.
func TestInvitationMailSentBeforeADatabaseOutageIsSentOnceAndHoldsNoOtherMail(t *testing.T) {
	if e2eStore != e2eStores()[0] {
		t.Skip("runs on the first pass only: its events are kept in memory on every pass")
	}
	release := filepath.Join(t.TempDir(), "release")
	a, srv := mailApp(t, []string{"ROSTER_EVENT_STORE", config.EventStoreMemory}, "-hold", release)
	owner := a.user(t, "owner")
	pa := a.createProperty(t, owner, "Acme Support").PropertyID
	a.invite(t, owner, pa, map[string]string{"email": "ann@example.com", "role": "agent"})
	waitUntil(t, time.Minute, "ann's mail at the server", func() bool { return srv.has("holding") })

	cfg, err := pgx.ParseConfig(a.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	db := pgx.Identifier{cfg.Database}.Sanitize()
	admin := func(sql string, args ...any) {
		t.Helper()
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, pgtest.ServerURL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	restore := func() { admin("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true") }
	t.Cleanup(restore)
	admin("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false")
	admin(`SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = $1`, cfg.Database)
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "ann's mail accepted", func() bool { return len(srv.recipients()) == 1 })
	// The ledger is told after the server accepts: wait until the App
	// says it could not be, or long enough for it to have tried.
	tried := time.Now().Add(15 * time.Second)
	waitUntil(t, time.Minute, "the App failing to record the mail", func() bool {
		return strings.Contains(a.logs.String(), "sent but not recorded") || time.Now().After(tried)
	})
	restore()

	other := a.user(t, "other")
	var pb string
	waitUntil(t, time.Minute, "a property created after the outage", func() bool {
		r, err := a.send(http.MethodPost, "/v1/properties", other.Token, map[string]string{"name": "Beta Desk"}, nil)
		pb = r.str("property_id")
		return err == nil && r.Status == http.StatusCreated
	})
	a.invite(t, other, pb, map[string]string{"email": "bob@example.com", "role": "agent"})
	waitUntil(t, time.Minute, "bob's mail sent and both recorded as sent (the first mail's lease is five minutes)", func() bool {
		return slices.Contains(srv.recipients(), "bob@example.com") && a.ledgerCount(t, "status = 'sent'") == 2
	})
	if diff := strings.Join(srv.recipients(), ","); diff != "ann@example.com,bob@example.com" {
		t.Errorf("mails accepted: %s, want ann's and bob's, once each", diff)
	}
}

// TestMailRetrySendsAFailedMailAgain: the server refused the mail for
// good; once the operator has fixed it, `roster mail retry` sends it at
// once, written again from the event the ledger keeps or, for a mail
// recorded before the ledger kept events, from the feed's copy.
func TestMailRetrySendsAFailedMailAgain(t *testing.T) {
	for _, tt := range []struct {
		name     string
		fromFeed bool
	}{
		{"from the event the ledger keeps", false},
		{"from the feed, for a mail recorded before the ledger kept events", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, refusing := mailApp(t, nil, "-refuse-rcpt", "550")
			owner := a.user(t, "owner")
			pid := a.createProperty(t, owner, "Acme Support").PropertyID
			a.invite(t, owner, pid, map[string]string{"email": "ann@example.com", "role": "agent"})
			a.mailSettled(t)
			var eventID string
			if err := a.app.pool.QueryRow(context.Background(),
				`SELECT event_id::text FROM mail_ledger WHERE recipient = 'ann@example.com' AND status = 'failed'`).Scan(&eventID); err != nil {
				t.Fatalf("the refused mail is not failed in the ledger: %v", err)
			}
			if res := roster(a.env, "mail", "status"); res.code != 0 || !strings.Contains(res.stdout, "failed   1") {
				t.Errorf("roster mail status = %d:\n%s%s", res.code, res.stdout, res.stderr)
			}
			if tt.fromFeed {
				if _, err := a.app.pool.Exec(context.Background(),
					`UPDATE mail_ledger SET event = NULL, property_id = NULL WHERE event_id = $1`, eventID); err != nil {
					t.Fatal(err)
				}
			}

			fixed := startSMTPD(t) // the operator points Roster at a server that takes it
			env := map[string]string{}
			for k, v := range a.env {
				env[k] = v
			}
			env["ROSTER_SMTP_URL"] = fixed.url()
			res := roster(env, "mail", "retry", eventID)
			if res.code != 0 || !strings.Contains(res.stdout, "is sent after 1 attempt(s)") {
				t.Fatalf("roster mail retry = %d:\n%s%s", res.code, res.stdout, res.stderr)
			}
			if got := fixed.recipients(); !slices.Equal(got, []string{"ann@example.com"}) {
				t.Errorf("the fixed server received %v, want ann's mail once", got)
			}
			if got := refusing.recipients(); len(got) != 0 {
				t.Errorf("the refusing server stored %v", got)
			}
			if res := roster(env, "mail", "retry", eventID); res.code == 0 || !strings.Contains(res.stdout+res.stderr, "has not failed") {
				t.Errorf("a second retry = %d, want it refused for a sent mail:\n%s%s", res.code, res.stdout, res.stderr)
			}
		})
	}
}
