package projections_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// emailPattern finds the addresses a history's events carry.
var emailPattern = regexp.MustCompile(`[a-z0-9._+-]+@[a-z0-9.-]+\.[a-z]+`)

// TestEveryTextColumnThatReceivesAnEmailIsDeclaredPersonal: after a history
// whose events carry emails in their payloads and as actors' claims, every
// text or jsonb column of the read models that holds one of those emails is
// declared by its projection as personal (Projection.Personal), since
// forgetting a person rewrites those columns only; and every declared column
// exists.
func TestEveryTextColumnThatReceivesAnEmailIsDeclaredPersonal(t *testing.T) {
	t.Parallel()
	steps := append(pt.Script(), pt.Mix(7, 400)...)
	var emails []string
	for _, s := range steps {
		payload, err := json.Marshal(s.Event)
		if err != nil {
			t.Fatal(err)
		}
		emails = append(emails, emailPattern.FindAllString(string(payload)+" "+s.ActorEmail, -1)...)
	}
	slices.Sort(emails)
	emails = slices.Compact(emails)
	if len(emails) < 10 {
		t.Fatalf("the history carries %d emails; the test proves nothing", len(emails))
	}
	patterns := make([]string, len(emails))
	for i, e := range emails {
		patterns[i] = "%" + e + "%"
	}
	pool := project(t, steps)
	ctx := context.Background()

	declared := map[string]bool{}
	var tables []string
	for _, p := range projections.All() {
		tables = append(tables, p.Tables...)
		for _, c := range p.Personal {
			if !slices.Contains(p.Tables, c.Table) {
				t.Errorf("%s declares %s personal, a column of a table it does not own", p.Name, c.Label())
			}
			declared[c.Table+"."+c.Column] = true
		}
	}
	type column struct{ Table, Column, Type string }
	r, err := pool.Query(ctx, `SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ANY($1::text[])
		ORDER BY table_name, ordinal_position`, tables)
	if err != nil {
		t.Fatal(err)
	}
	columns, err := pgx.CollectRows(r, pgx.RowToStructByPos[column])
	if err != nil {
		t.Fatal(err)
	}
	exists := map[string]bool{}
	holding := 0
	for _, c := range columns {
		exists[c.Table+"."+c.Column] = true
		if c.Type != "text" && c.Type != "character varying" && c.Type != "jsonb" {
			continue
		}
		var n int64
		q := `SELECT count(*) FROM ` + pgx.Identifier{c.Table}.Sanitize() + ` WHERE ` + pgx.Identifier{c.Column}.Sanitize() + `::text LIKE ANY($1::text[])`
		if err := pool.QueryRow(ctx, q, patterns).Scan(&n); err != nil {
			t.Fatalf("%s.%s: %v", c.Table, c.Column, err)
		}
		if n == 0 {
			continue
		}
		holding++
		if !declared[c.Table+"."+c.Column] {
			t.Errorf("%s.%s holds emails in %d rows but no projection declares it personal", c.Table, c.Column, n)
		}
	}
	if holding == 0 {
		t.Fatal("no column holds an email; the test proves nothing")
	}
	for col := range declared {
		if !exists[col] {
			t.Errorf("%s is declared personal but is no column of the read models", col)
		}
	}
}
