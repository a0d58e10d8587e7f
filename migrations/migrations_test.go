package migrations_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/migrations"
)

// emptyDatabase creates a database with no tables and returns a pool on it;
// the database is dropped when the test ends.
func emptyDatabase(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("roster_migrations_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		admin, err := pgx.Connect(context.Background(), pgtest.ServerURL())
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close(context.Background())
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	return pool
}

// without returns the migrations less the file named name.
func without(t *testing.T, name string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	names, err := fs.Glob(migrations.Files, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n == name {
			continue
		}
		b, err := fs.ReadFile(migrations.Files, n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = &fstest.MapFile{Data: b}
	}
	return out
}

// TestAMigrationThatLandsAfterAHigherOneIsApplied: a database that took a
// higher-numbered migration first (it landed from another branch earlier)
// takes the lower one when it arrives, instead of refusing to start.
func TestAMigrationThatLandsAfterAHigherOneIsApplied(t *testing.T) {
	ctx := context.Background()
	names, err := fs.Glob(migrations.Files, "*.sql")
	if err != nil || len(names) < 3 {
		t.Fatalf("migrations: %v, %v", names, err)
	}
	late := names[len(names)-2] // not the newest: one with a higher number after it
	var version int64
	if _, err := fmt.Sscanf(late, "%d_", &version); err != nil {
		t.Fatal(err)
	}
	pool := emptyDatabase(t)
	first, err := migrations.ApplyFiles(ctx, pool, without(t, late))
	if err != nil {
		t.Fatalf("apply all but %s: %v", late, err)
	}
	if slices.Contains(first, version) || len(first) != len(names)-1 {
		t.Fatalf("applied %v without %s, want every other migration", first, late)
	}
	then, err := migrations.Apply(ctx, pool)
	if err != nil {
		t.Fatalf("apply with %s back: %v", late, err)
	}
	if !slices.Equal(then, []int64{version}) {
		t.Errorf("applied %v once %s arrived, want [%d]", then, late, version)
	}
}
