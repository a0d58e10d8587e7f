package projections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// newRebuildSchema names a fresh rebuild schema of the projection name.
func newRebuildSchema(name string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return rebuildSchemaStem(name) + hex.EncodeToString(b)
}

// rebuildSchemaStem is what every rebuild schema of name starts with; 16
// hex digits follow it.
func rebuildSchemaStem(name string) string {
	if len(name) > rebuildSchemaNameBytes {
		name = name[:rebuildSchemaNameBytes]
	}
	return rebuildSchemaPrefix + name + "_"
}

// dropLeftovers drops the schemas earlier rebuilds of the projection left
// behind when they could not clean up (a crash, a lost connection). The
// rebuild lock guarantees none of them is in use.
func (r *rebuilder) dropLeftovers(ctx context.Context) error {
	stem := rebuildSchemaStem(r.p.Name)
	rows, err := r.conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, stem)
	if err != nil {
		return fmt.Errorf("rebuild %s: list leftover schemas: %w", r.p.Name, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("rebuild %s: list leftover schemas: %w", r.p.Name, err)
	}
	for _, n := range names {
		if suffix := n[len(stem):]; len(suffix) != 16 || strings.Trim(suffix, "0123456789abcdef") != "" {
			continue // another projection's whose name extends this one's
		}
		if _, err := r.conn.Exec(ctx, `DROP SCHEMA `+ident(n)+` CASCADE`); err != nil {
			return fmt.Errorf("rebuild %s: drop leftover schema %s: %w", r.p.Name, n, err)
		}
		r.cfg.Log.Info().Str("projection", r.p.Name).Str("schema", n).Msg("dropped a schema an earlier rebuild left behind")
	}
	return nil
}

// dropSchema drops the rebuild schema, whatever became of the rebuild and
// of ctx. After a switch-over it is empty. A failure is only logged: the
// live tables are right either way, and the next rebuild drops it.
func (r *rebuilder) dropSchema(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var q interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	} = r.conn
	if r.conn.Conn().IsClosed() {
		q = r.pool // a query cancelled mid-way closes its connection
	}
	if _, err := q.Exec(ctx, `DROP SCHEMA IF EXISTS `+ident(r.schema)+` CASCADE`); err != nil {
		r.cfg.Log.Warn().Err(err).Str("projection", r.p.Name).Str("schema", r.schema).
			Msg("could not drop the rebuild schema; the next rebuild will")
	}
}

// prepare creates the rebuild schema and an empty copy of each live table
// in it, under the live names of its indexes and constraints, with the
// foreign keys among them.
//
// A copy the replay updates rows of is filled with room left in each page
// (replayFillfactor): the replay changes a row in every batch that touches
// it, and with its non-key indexes deferred the new version can then stay
// on the row's page with no index entry of its own (a heap-only update),
// which costs PostgreSQL about a third less than one that moves. The
// copies of p.appendOnly are filled packed. finishCopies puts the default
// back for the rows written after it.
func (r *rebuilder) prepare(ctx context.Context) error {
	// Foreign key definitions are printed while the live schema is first on
	// the search_path, so the names they reference are unqualified and
	// resolve to the copies when the rebuild schema comes first.
	fkeys := map[string][][2]string{}
	for _, t := range r.p.Tables {
		rows, err := r.conn.Query(ctx, `SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
			WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY conname`, r.qualified(r.live, t))
		if err != nil {
			return fmt.Errorf("rebuild %s: read foreign keys of %s: %w", r.p.Name, t, err)
		}
		fkeys[t], err = pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
			var fk [2]string
			return fk, row.Scan(&fk[0], &fk[1])
		})
		if err != nil {
			return fmt.Errorf("rebuild %s: read foreign keys of %s: %w", r.p.Name, t, err)
		}
	}
	tx, err := r.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", r.p.Name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `CREATE SCHEMA `+ident(r.schema)); err != nil {
		return fmt.Errorf("rebuild %s: create schema %s: %w", r.p.Name, r.schema, err)
	}
	for _, t := range r.p.Tables {
		if _, err := tx.Exec(ctx, `CREATE TABLE `+r.qualified(r.schema, t)+` (LIKE `+r.qualified(r.live, t)+` INCLUDING ALL)`); err != nil {
			return fmt.Errorf("rebuild %s: copy table %s: %w", r.p.Name, t, err)
		}
		if r.updated(t) {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+r.qualified(r.schema, t)+` SET (fillfactor = `+replayFillfactor+`)`); err != nil {
				return fmt.Errorf("rebuild %s: leave room in the copy of %s: %w", r.p.Name, t, err)
			}
		}
		if err := r.renameIndexes(ctx, tx, t); err != nil {
			return err
		}
		if err := r.deferIndexes(ctx, tx, t); err != nil {
			return err
		}
	}
	if err := r.searchRebuildFirst(ctx, tx); err != nil {
		return err
	}
	for _, t := range r.p.Tables {
		for _, fk := range fkeys[t] {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+r.qualified(r.schema, t)+` ADD CONSTRAINT `+ident(fk[0])+` `+fk[1]); err != nil {
				return fmt.Errorf("rebuild %s: copy foreign key %s of %s: %w", r.p.Name, fk[0], t, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("rebuild %s: create schema %s: %w", r.p.Name, r.schema, err)
	}
	return nil
}

// replayFillfactor is the share of each page, in percent, the replay fills
// in the copies it updates rows of (see prepare).
const replayFillfactor = "60"

// updated reports whether the replay may update rows of the copy of t,
// which prepare then fills with room left (the live tables set no
// fillfactor, and LIKE copies none).
func (r *rebuilder) updated(t string) bool { return !slices.Contains(r.p.appendOnly, t) }

// renameIndexes gives the copy of table t the index names of the live
// table (renaming an index renames the constraint it backs). LIKE names
// them afresh (rm_members_pkey, rm_members_property_id_email_account_id_idx),
// and without this the names would drift from the migrations' at the first
// rebuild, where a later migration could not find them. Indexes are paired
// by their definition after the name.
func (r *rebuilder) renameIndexes(ctx context.Context, tx pgx.Tx, t string) error {
	const q = `SELECT c.relname, i.indisprimary::text || i.indisunique::text ||
			regexp_replace(pg_get_indexdef(i.indexrelid), '^.*? USING ', '')
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = $1::regclass ORDER BY c.relname`
	read := func(schema string) (map[string][]string, error) {
		rows, err := tx.Query(ctx, q, r.qualified(schema, t))
		if err != nil {
			return nil, err
		}
		byDef := map[string][]string{}
		var name, def string
		_, err = pgx.ForEachRow(rows, []any{&name, &def}, func() error {
			byDef[def] = append(byDef[def], name)
			return nil
		})
		return byDef, err
	}
	live, err := read(r.live)
	if err != nil {
		return fmt.Errorf("rebuild %s: read indexes of %s: %w", r.p.Name, t, err)
	}
	fresh, err := read(r.schema)
	if err != nil {
		return fmt.Errorf("rebuild %s: read indexes of the copy of %s: %w", r.p.Name, t, err)
	}
	type rename struct{ from, to string }
	var renames []rename
	for def, names := range fresh {
		if len(live[def]) != len(names) {
			return fmt.Errorf("rebuild %s: the copy of %s has indexes %v where the live table has %v", r.p.Name, t, names, live[def])
		}
		for i, n := range names {
			if n != live[def][i] {
				renames = append(renames, rename{n, live[def][i]})
			}
		}
	}
	// Through temporary names, so a copy's index never takes a name another
	// one still has.
	for i, rn := range renames {
		tmp := fmt.Sprintf("rebuild_tmp_%d", i)
		if _, err := tx.Exec(ctx, `ALTER INDEX `+r.qualified(r.schema, rn.from)+` RENAME TO `+ident(tmp)); err != nil {
			return fmt.Errorf("rebuild %s: rename index %s: %w", r.p.Name, rn.from, err)
		}
	}
	for i, rn := range renames {
		tmp := fmt.Sprintf("rebuild_tmp_%d", i)
		if _, err := tx.Exec(ctx, `ALTER INDEX `+r.qualified(r.schema, tmp)+` RENAME TO `+ident(rn.to)); err != nil {
			return fmt.Errorf("rebuild %s: rename index %s to %s: %w", r.p.Name, rn.from, rn.to, err)
		}
	}
	return nil
}

// deferIndexes drops the indexes of the copy of t that back no constraint
// and no key, noting their definitions (under the live names, on the copy)
// in r.deferred[t] to build them after the replay. The replay's reads and
// upserts go by primary key, which stays.
func (r *rebuilder) deferIndexes(ctx context.Context, tx pgx.Tx, t string) error {
	rows, err := tx.Query(ctx, `SELECT c.relname, pg_get_indexdef(i.indexrelid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = $1::regclass AND NOT i.indisunique
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
		ORDER BY c.relname`, r.qualified(r.schema, t))
	if err != nil {
		return fmt.Errorf("rebuild %s: read indexes of the copy of %s: %w", r.p.Name, t, err)
	}
	defs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var d [2]string
		return d, row.Scan(&d[0], &d[1])
	})
	if err != nil {
		return fmt.Errorf("rebuild %s: read indexes of the copy of %s: %w", r.p.Name, t, err)
	}
	for _, d := range defs {
		if _, err := tx.Exec(ctx, `DROP INDEX `+r.qualified(r.schema, d[0])); err != nil {
			return fmt.Errorf("rebuild %s: drop index %s of the copy of %s: %w", r.p.Name, d[0], t, err)
		}
		if r.deferred == nil {
			r.deferred = map[string][]string{}
		}
		r.deferred[t] = append(r.deferred[t], d[1])
	}
	return nil
}

// swap replaces the live tables by the copies. Sequences of serial columns
// belong to the live table, while the copies' defaults draw from them too:
// they are let go before the drop, which would take them along, and then
// given to the copy.
func (r *rebuilder) swap(ctx context.Context, tx pgx.Tx) error {
	type owned struct{ seq, table, column string }
	var seqs []owned
	for _, t := range r.p.Tables {
		rows, err := tx.Query(ctx, `SELECT s.oid::regclass::text, a.attname FROM pg_depend d
			JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
			JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
			WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
			  AND d.refobjid = $1::regclass AND d.deptype = 'a'`, r.qualified(r.live, t))
		if err != nil {
			return fmt.Errorf("rebuild %s: read sequences of %s: %w", r.p.Name, t, err)
		}
		var seq, col string
		_, err = pgx.ForEachRow(rows, []any{&seq, &col}, func() error {
			seqs = append(seqs, owned{seq, t, col})
			return nil
		})
		if err != nil {
			return fmt.Errorf("rebuild %s: read sequences of %s: %w", r.p.Name, t, err)
		}
	}
	for _, s := range seqs {
		if _, err := tx.Exec(ctx, `ALTER SEQUENCE `+s.seq+` OWNED BY NONE`); err != nil {
			return fmt.Errorf("rebuild %s: release sequence %s: %w", r.p.Name, s.seq, err)
		}
	}
	live := make([]string, len(r.p.Tables))
	for i, t := range r.p.Tables {
		live[i] = r.qualified(r.live, t)
	}
	// One statement, so foreign keys among the tables do not order it.
	if _, err := tx.Exec(ctx, `DROP TABLE `+strings.Join(live, ", ")); err != nil {
		return fmt.Errorf("rebuild %s: drop the live tables: %w", r.p.Name, err)
	}
	for _, t := range r.p.Tables {
		if _, err := tx.Exec(ctx, `ALTER TABLE `+r.qualified(r.schema, t)+` SET SCHEMA `+ident(r.live)); err != nil {
			return fmt.Errorf("rebuild %s: move the new %s in: %w", r.p.Name, t, err)
		}
	}
	for _, s := range seqs {
		if _, err := tx.Exec(ctx, `ALTER SEQUENCE `+s.seq+` OWNED BY `+r.qualified(r.live, s.table)+`.`+ident(s.column)); err != nil {
			return fmt.Errorf("rebuild %s: hand sequence %s to the new %s: %w", r.p.Name, s.seq, s.table, err)
		}
	}
	return nil
}

// qualified quotes schema.name for SQL.
func (r *rebuilder) qualified(schema, name string) string {
	return pgx.Identifier{schema, name}.Sanitize()
}

// ident quotes one SQL identifier.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
