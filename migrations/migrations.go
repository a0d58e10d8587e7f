// Package migrations holds Roster's SQL schema as numbered goose migrations,
// embedded in the binary and applied by `roster migrate` and at start.
//
// File numbers are taken in order: 0001 event store, 0002 projections and
// read models; a new table is a new file, never an edit of an applied one.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Files holds the migration files, in the layout goose reads.
//
//go:embed *.sql
var Files embed.FS

// Apply brings the database behind pool up to the newest migration. Several
// instances starting at once take turns through a PostgreSQL session lock.
// It returns the versions it applied.
func Apply(ctx context.Context, pool *pgxpool.Pool) ([]int64, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return apply(ctx, db, Files)
}

func apply(ctx context.Context, db *sql.DB, files fs.FS) ([]int64, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	// Work lands from parallel branches, each with the next free number at
	// the time, so a database may hold a higher version before a lower one
	// arrives. Every migration adds a table, an index or a function of its
	// own and none depends on a later number, so a missing lower one is
	// applied then rather than refused.
	provider, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker), goose.WithAllowOutofOrder(true))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}
