package migrations

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// ApplyFiles applies the migrations in files, as Apply applies Files.
func ApplyFiles(ctx context.Context, pool *pgxpool.Pool, files fs.FS) ([]int64, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return apply(ctx, db, files)
}
