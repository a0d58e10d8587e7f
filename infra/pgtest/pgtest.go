// Package pgtest gives tests a real, migrated PostgreSQL database of their own.
//
// The server comes from ROSTER_TEST_PG_URL, else ROSTER_PG_URL, else
// postgres://postgres@127.0.0.1:5432/postgres (what `make test` provides).
// Each call creates a fresh database copied from a migrated template, so test
// packages and tests within them can run in parallel without sharing rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/migrations"
)

// ServerURL is the URL of the PostgreSQL server tests use, pointing at its
// maintenance database.
func ServerURL() string {
	for _, k := range []string{"ROSTER_TEST_PG_URL", "ROSTER_PG_URL"} {
		if v := os.Getenv(k); v != "" {
			return withDatabase(v, "postgres")
		}
	}
	return "postgres://postgres@127.0.0.1:5432/postgres"
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// NewDatabase creates a migrated database for this test, drops it when the
// test ends, and returns its URL. It fails the test when no server answers.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx) })
	if templateErr != nil {
		tb.Fatalf("pgtest: prepare template database: %v", templateErr)
	}
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", redact(ServerURL()), err)
	}
	defer admin.Close(ctx)

	name := "roster_t_" + randomSuffix()
	if err := createFromTemplate(ctx, admin, name, templateName); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, ServerURL())
		if err != nil {
			tb.Logf("pgtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Logf("pgtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(ServerURL(), name)
}

// NewPool creates a migrated database for this test and returns a pool on it,
// closed when the test ends.
func NewPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	url := NewDatabase(tb)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		tb.Fatalf("pgtest: open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// ensureTemplate makes sure a database migrated to the current migrations
// exists. Its name carries a hash of the migration files, so a changed
// migration gets a new template and a stale one is never reused.
func ensureTemplate(ctx context.Context) (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "roster_tpl_" + sum
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", redact(ServerURL()), err)
	}
	defer admin.Close(ctx)

	// Several test binaries may race to build the template: a session lock
	// keyed on its name lets one build it while the others wait.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", name); err != nil {
		return "", err
	}
	defer admin.Exec(context.Background(), "SELECT pg_advisory_unlock(hashtext($1))", name)

	var ready bool
	err = admin.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&ready)
	if err == nil && ready {
		return name, nil
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", err
	}
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, withDatabase(ServerURL(), name))
	if err != nil {
		return "", err
	}
	_, err = migrations.Apply(ctx, pool)
	pool.Close()
	if err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return "", err
	}
	// The comment dates the template (the value is digits only), so another
	// checkout testing another migration set at the same time keeps its own.
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	if _, err := admin.Exec(ctx, "COMMENT ON DATABASE "+ident+" IS '"+templateComment+stamp+"'"); err != nil {
		return "", err
	}
	dropStaleTemplates(ctx, admin, name)
	return name, nil
}

// templateComment starts the comment of a template database; the Unix time
// it was built follows.
const templateComment = "roster test template built at "

// staleTemplateAge is how old another migration set's template must be
// before it is dropped: younger ones may belong to a test run of another
// checkout on the same server.
const staleTemplateAge = 12 * time.Hour

// dropStaleTemplates drops the templates of earlier migration sets, which
// would otherwise pile up on a developer's server with every new migration.
// Templates without a date are from before templates were dated, hence old.
// It is best effort: a template still being copied is left for next time.
func dropStaleTemplates(ctx context.Context, admin *pgx.Conn, current string) {
	rows, err := admin.Query(ctx, `SELECT d.datname FROM pg_database d
		LEFT JOIN pg_shdescription s ON s.objoid = d.oid AND s.classoid = 'pg_database'::regclass
		WHERE d.datname LIKE 'roster\_tpl\_%' AND d.datname <> $1
		  AND COALESCE(substring(s.description FROM '^'||$2||'([0-9]+)$')::bigint, 0) < $3`,
		current, templateComment, time.Now().Add(-staleTemplateAge).Unix())
	if err != nil {
		return
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range stale {
		ident := pgx.Identifier{name}.Sanitize()
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident+" WITH IS_TEMPLATE false"); err == nil {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident)
		}
	}
}

func createFromTemplate(ctx context.Context, admin *pgx.Conn, name, tpl string) error {
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{tpl}.Sanitize()
	// PostgreSQL refuses to copy a template while another backend copies it
	// (SQLSTATE 55006); that clears within moments, so try again.
	for attempt := 0; ; attempt++ {
		_, err := admin.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || attempt >= 100 {
			return err
		}
		time.Sleep(time.Duration(20+attempt*10) * time.Millisecond)
	}
}

func migrationsHash() (string, error) {
	h := sha256.New()
	var names []string
	err := fs.WalkDir(migrations.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".sql" {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(migrations.Files, n)
		if err != nil {
			return "", err
		}
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + db
	return u.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the configured server"
	}
	return u.Redacted()
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
