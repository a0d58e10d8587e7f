package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/config"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/pgtest"
)

// TestAuditCommands runs `roster audit` against two properties written
// through the command handlers into the PostgreSQL event store, then
// tampers with their rows. Steps rely on the ones before them.
func TestAuditCommands(t *testing.T) {
	if e2eStore != config.EventStorePostgres {
		t.Skipf("runs in the postgres pass only; this pass is %s", e2eStore)
	}
	ctx := context.Background()
	pgURL := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	handlers := commands.New(commands.Config{Store: postgres.New(pool), Tokens: invitetoken.New([]byte(testSecret))})
	owner := commands.Meta{Actor: domain.Actor{AccountID: "acc-owner", Email: "owner@example.com", EmailVerified: true}}
	var pids []string
	for _, name := range []string{"Alpha", "Beta"} {
		res, err := handlers.CreateProperty.Handle(ctx, owner, commands.CreateProperty{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := handlers.Invite.Handle(ctx, owner, commands.Invite{PropertyID: res.PropertyID,
			Rows: []commands.InviteRow{{Email: "ann@example.com", Role: "agent"}}}); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, res.PropertyID)
	}
	alpha, beta := pids[0], pids[1]
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, ed25519.SeedSize))
	keyB64 := base64.StdEncoding.EncodeToString(key.Seed())
	pubB64 := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	env := map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_EVENT_STORE": "postgres"}
	signing := map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_EVENT_STORE": "postgres", "ROSTER_AUDIT_SIGNING_KEY": keyB64}
	dir := t.TempDir()
	headFile := filepath.Join(dir, "alpha-head.json")
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	wantRun := func(t *testing.T, res cliResult, code int, stdout, stderr []string) {
		t.Helper()
		if res.code != code {
			t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", res.code, code, res.stdout, res.stderr)
		}
		for _, s := range stdout {
			if !strings.Contains(res.stdout, s) {
				t.Errorf("stdout lacks %q:\n%s", s, res.stdout)
			}
		}
		for _, s := range stderr {
			if !strings.Contains(res.stderr, s) {
				t.Errorf("stderr lacks %q:\n%s", s, res.stderr)
			}
		}
	}

	t.Run("every intact property verifies", func(t *testing.T) {
		res := roster(env, "audit", "verify")
		wantRun(t, res, 0, []string{"ok    " + alpha + "  3 events (3 chained, 0 unchained), head revision 2",
			"ok    " + beta + "  3 events", "2 properties checked, 0 do not verify"}, nil)
	})
	t.Run("one property as JSON", func(t *testing.T) {
		res := roster(env, "audit", "verify", "-property", alpha, "-json")
		wantRun(t, res, 0, nil, nil)
		var rep chain.Report
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil || !rep.OK || rep.PropertyID != alpha || rep.Events != 3 {
			t.Errorf("report %s (%v), want alpha's 3 events verified", res.stdout, err)
		}
	})
	t.Run("a signed head is printed and checks", func(t *testing.T) {
		res := roster(signing, "audit", "head", "-property", alpha)
		wantRun(t, res, 0, []string{`"property_id": "` + alpha + `"`, `"revision": 2`}, nil)
		if err := os.WriteFile(headFile, []byte(res.stdout), 0o600); err != nil {
			t.Fatal(err)
		}
		wantRun(t, roster(signing, "audit", "check-head", headFile), 0, []string{"ok    head of property " + alpha + " at revision 2 holds"}, nil)
		wantRun(t, roster(env, "audit", "check-head", headFile, "-public-key", pubB64), 0, []string{"holds"}, nil)
	})
	t.Run("the public key is printed for reviewers", func(t *testing.T) {
		res := roster(signing, "audit", "public-key")
		wantRun(t, res, 0, []string{`"public_key":"` + pubB64 + `"`, `"algorithm":"Ed25519"`}, nil)
	})
	t.Run("a deleted last event verifies but fails the stored head", func(t *testing.T) {
		exec(`DELETE FROM events WHERE stream_id = $1 AND revision = 2`, domain.StreamName(alpha))
		wantRun(t, roster(env, "audit", "verify", "-property", alpha), 0, []string{"ok    " + alpha + "  2 events"}, nil)
		wantRun(t, roster(signing, "audit", "check-head", headFile), 1,
			[]string{"FAIL  head of property " + alpha + " at revision 2: truncated"}, []string{"roster audit: head of property " + alpha + ": truncated"})
	})
	t.Run("an altered event fails verification and names the event", func(t *testing.T) {
		exec(`UPDATE events SET data = replace(data::text, 'agent', 'admin')::json WHERE stream_id = $1 AND revision = 2`, domain.StreamName(beta))
		wantRun(t, roster(env, "audit", "verify"), 1,
			[]string{"ok    " + alpha, "FAIL  " + beta + "  altered at revision 2: event ", "2 properties checked, 1 do not verify"},
			[]string{"roster audit: 1 of 2 properties: the chain does not verify"})
		wantRun(t, roster(signing, "audit", "head", "-property", beta), 1, nil, []string{"does not verify, so its head is not signed"})
	})
	t.Run("a property whose every event was deleted is named from the read model", func(t *testing.T) {
		exec(`INSERT INTO rm_properties (property_id, name, owner_id, revision, created_at, updated_at) VALUES ('wiped', 'Gone', 'acc-owner', 4, now(), now())`)
		wantRun(t, roster(env, "audit", "verify"), 1,
			[]string{"FAIL  wiped  missing at revision 0: stream property-wiped has no events", "3 properties checked, 2 do not verify"}, nil)
	})

	tampered := filepath.Join(dir, "tampered-head.json")
	raw, err := os.ReadFile(headFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tampered, bytes.Replace(raw, []byte(`"signed_at": "20`), []byte(`"signed_at": "19`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	notHead := filepath.Join(dir, "not-a-head.json")
	if err := os.WriteFile(notHead, []byte(`{"property_id":"x","extra":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"no subcommand", env, []string{"audit"}, 2, "usage: roster audit"},
		{"an unknown subcommand", env, []string{"audit", "prove"}, 2, `unknown command "prove"`},
		{"verify with an argument", env, []string{"audit", "verify", "extra"}, 2, "unexpected arguments"},
		{"head without a property", signing, []string{"audit", "head"}, 2, "-property ID is required"},
		{"head without a signing key", env, []string{"audit", "head", "-property", alpha}, 1, "signing key not configured"},
		{"head with a key that is no base64", env, []string{"audit", "head", "-property", alpha, "-audit-signing-key", "!!"}, 1, "ROSTER_AUDIT_SIGNING_KEY: is not base64"},
		{"check-head without a file", signing, []string{"audit", "check-head"}, 2, "give one FILE"},
		{"check-head with two files", signing, []string{"audit", "check-head", headFile, headFile}, 2, "give one FILE"},
		{"check-head without any key", env, []string{"audit", "check-head", headFile}, 1, "no public key"},
		{"check-head with a bad public key", env, []string{"audit", "check-head", headFile, "-public-key", "bad!"}, 1, "not standard base64"},
		{"check-head of a missing file", signing, []string{"audit", "check-head", filepath.Join(dir, "none.json")}, 1, "no such file"},
		{"check-head of a file that holds no head", signing, []string{"audit", "check-head", notHead}, 1, "does not hold a signed head"},
		{"check-head of an edited head", signing, []string{"audit", "check-head", tampered}, 1, "bad_signature"},
		{"check-head with another key", env, []string{"audit", "check-head", headFile, "-public-key",
			base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{6}, 32)).Public().(ed25519.PublicKey))}, 1, "wrong_key"},
		{"the memory event store", map[string]string{"ROSTER_PG_URL": pgURL, "ROSTER_EVENT_STORE": "memory"}, []string{"audit", "verify"}, 1, "memory event store"},
		{"public-key without a signing key", env, []string{"audit", "public-key"}, 1, "signing key not configured"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			wantRun(t, roster(tt.env, tt.args...), tt.code, nil, []string{tt.stderr})
		})
	}
}
