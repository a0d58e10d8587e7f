package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/privacy"
)

// TestPrivacyForgetErasesAPersonFromTheReadModels: `roster privacy forget`
// destroys the key and rewrites the read models, says so as text or JSON,
// and forgetting again finds nothing left.
func TestPrivacyForgetErasesAPersonFromTheReadModels(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// A member whose key exists: the vault met her email when her join
	// was sealed.
	if _, err := pool.Exec(ctx, `INSERT INTO privacy_subjects (subject_id, email, data_key)
		VALUES (gen_random_uuid(), 'ann@example.com', decode(repeat('ab', 32), 'hex'))`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO rm_members (property_id, account_id, email, role, status, joined_at, updated_at)
		VALUES ('p1', 'acc-ann', 'ann@example.com', 'agent', 'enabled', now(), now())`); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return map[string]string{"ROSTER_PG_URL": url}[k] }

	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"privacy", "forget", "--email", "Ann@Example.com", "-json"}, env, &out, &errOut); code != 0 {
		t.Fatalf("roster privacy forget = %d: %s", code, errOut.String())
	}
	var f privacy.Forgotten
	if err := json.Unmarshal(out.Bytes(), &f); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if f.Email != "ann@example.com" || !f.Erased || f.Scrubbed["rm_members.email"] != 1 {
		t.Errorf("forgotten %+v, want ann@example.com erased and her member row rewritten", f)
	}
	var email string
	if err := pool.QueryRow(ctx, `SELECT email FROM rm_members WHERE account_id = 'acc-ann'`).Scan(&email); err != nil {
		t.Fatal(err)
	}
	if email != f.Marker || !privacy.IsErasedEmail(email) {
		t.Errorf("the member row holds %q, want the marker %q", email, f.Marker)
	}

	out.Reset()
	if code := run(ctx, []string{"privacy", "forget", "-email", "ann@example.com"}, env, &out, &errOut); code != 0 {
		t.Fatalf("roster privacy forget again = %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "ann@example.com has no key and no copy in the read models") {
		t.Errorf("forgetting again printed %q, want that nothing was left", out.String())
	}
}

func TestPrivacyForgetRefusesBadInput(t *testing.T) {
	url := pgtest.NewDatabase(t)
	env := func(k string) string { return map[string]string{"ROSTER_PG_URL": url}[k] }
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", []string{"privacy"}, 2, "usage: roster privacy"},
		{"an unknown command", []string{"privacy", "erase"}, 2, `unknown command "erase"`},
		{"no email", []string{"privacy", "forget"}, 2, "--email is required"},
		{"a blank email", []string{"privacy", "forget", "--email", "  "}, 2, "--email is required"},
		{"a stray argument", []string{"privacy", "forget", "--email", "ann@example.com", "bob@example.com"}, 2, "unexpected arguments"},
		{"an unknown flag", []string{"privacy", "forget", "--mail", "ann@example.com"}, 2, "flag provided but not defined"},
		{"an email that is no address", []string{"privacy", "forget", "--email", "ann at example"}, 1, "is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, env, &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("roster %v = %d, stderr %q; want %d and %q", tt.args, code, errOut.String(), tt.code, tt.want)
			}
		})
	}
}
