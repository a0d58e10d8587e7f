package projections_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
)

// TestEveryReadModelTableBelongsToOneProjection keeps Projection.Tables true:
// a rebuild recreates exactly those tables, so a table no projection claims
// would never be rebuilt, and one claimed twice would be rebuilt from two.
func TestEveryReadModelTableBelongsToOneProjection(t *testing.T) {
	pool := pgtest.NewPool(t)
	rows, err := pool.Query(context.Background(),
		`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'rm\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	inDB := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		inDB[name] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{}
	for _, p := range projections.All() {
		for _, table := range p.Tables {
			if prev, dup := owner[table]; dup {
				t.Errorf("table %s is claimed by %s and %s", table, prev, p.Name)
			}
			owner[table] = p.Name
			if !inDB[table] {
				t.Errorf("projection %s claims table %s, which no migration creates", p.Name, table)
			}
		}
	}
	for table := range inDB {
		if _, ok := owner[table]; !ok {
			t.Errorf("table %s belongs to no projection", table)
		}
	}
}
