package privacy

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/projections"
)

// emailScrub rewrites one column's plaintext copies of an email ($1) with
// its marker ($2); with actor set, also the actor's IP ($3) and user agent
// ($4) on the same rows, where they are not empty (an empty one was never
// sealed, so a rebuild leaves it empty too). %[1]s is the table.
//
// These are every column of the read models (migrations 0002 to 0006, as
// the projections fill them) and of the mail consumer's tables that hold an
// email, an IP or a user agent. Columns written from the domain's events are
// normalized already and compared as they are; those written from a token's
// email (the actor's) are compared trimmed and lower-cased.
type emailScrub struct {
	table, column string
	actor         bool
	sql           string
}

var emailScrubs = []emailScrub{
	{table: "rm_members", column: "email", sql: `UPDATE %[1]s SET email = $2 WHERE email = $1`},
	{table: "rm_invitations", column: "email", sql: `UPDATE %[1]s SET email = $2 WHERE email = $1`},
	{table: "rm_my_invitations", column: "email", sql: `UPDATE %[1]s SET email = $2 WHERE email = $1`},
	{table: "rm_my_invitations", column: "invited_by_email",
		sql: `UPDATE %[1]s SET invited_by_email = $2 WHERE lower(btrim(invited_by_email)) = $1`},
	{table: "rm_audit", column: "actor_email", actor: true, sql: `UPDATE %[1]s SET actor_email = $2,
		client_ip = CASE WHEN client_ip = '' THEN '' ELSE $3 END,
		user_agent = CASE WHEN user_agent = '' THEN '' ELSE $4 END
		WHERE actor_email = $1`},
	{table: "rm_audit", column: "subject_email", sql: `UPDATE %[1]s SET subject_email = $2 WHERE subject_email = $1`},
	// The key is part of the primary key: move the rows rather than
	// update them, so a row filed under both spellings cannot collide.
	{table: "rm_audit_subjects", column: "subject_key", sql: `WITH moved AS (
		DELETE FROM %[1]s WHERE subject_key = $1 RETURNING property_id, occurred_at, revision)
		INSERT INTO %[1]s (property_id, subject_key, occurred_at, revision)
		SELECT property_id, $2, occurred_at, revision FROM moved ON CONFLICT DO NOTHING`},
	{table: "rm_audit_contacts", column: "email", sql: `UPDATE %[1]s SET email = $2 WHERE email = $1`},
	{table: "rm_notifications", column: "details.invited_by_email",
		sql: `UPDATE %[1]s SET details = jsonb_set(details, '{invited_by_email}', to_jsonb($2::text))
		WHERE lower(btrim(details->>'invited_by_email')) = $1`},
	{table: "mail_ledger", column: "recipient", sql: `UPDATE %[1]s SET recipient = $2 WHERE lower(btrim(recipient)) = $1`},
	{table: "mail_invitations", column: "email", sql: `UPDATE %[1]s SET email = $2 WHERE email = $1`},
}

// accountScrub rewrites the copies of an account's actor fields that were
// sealed under the account, not under an email: values rows of the account
// ($1) hold that are not an address. values lists a column's values for
// the account; update rewrites those listed ($2) with the marker ($3) and,
// with actor set, the IP ($4) and user agent ($5).
type accountScrub struct {
	table, column string
	actor         bool
	values        string
	update        string
}

// The inviter's email of a notification is found through the live
// invitations, which name the inviter's account.
var accountScrubs = []accountScrub{
	{table: "rm_audit", column: "actor_email", actor: true,
		values: `SELECT DISTINCT actor_email FROM %[1]s WHERE actor_id = $1`,
		update: `UPDATE %[1]s SET actor_email = CASE WHEN actor_email = '' THEN '' ELSE $3 END,
			client_ip = CASE WHEN client_ip = '' THEN '' ELSE $4 END,
			user_agent = CASE WHEN user_agent = '' THEN '' ELSE $5 END
			WHERE actor_id = $1 AND actor_email = ANY($2::text[])`},
	{table: "rm_my_invitations", column: "invited_by_email",
		values: `SELECT DISTINCT invited_by_email FROM %[1]s WHERE invited_by = $1`,
		update: `UPDATE %[1]s SET invited_by_email = $3 WHERE invited_by = $1 AND invited_by_email = ANY($2::text[])`},
	{table: "rm_notifications", column: "details.invited_by_email",
		values: `SELECT DISTINCT coalesce(n.details->>'invited_by_email', '') FROM %[1]s n
			JOIN rm_invitations i ON i.property_id = n.property_id AND i.invitation_id = n.details->>'invitation_id'
			WHERE i.invited_by = $1`,
		update: `UPDATE %[1]s n SET details = jsonb_set(n.details, '{invited_by_email}', to_jsonb($3::text))
			FROM rm_invitations i
			WHERE i.property_id = n.property_id AND i.invitation_id = n.details->>'invitation_id'
			AND i.invited_by = $1 AND n.details->>'invited_by_email' = ANY($2::text[])`},
}

// schema is where one set of tables to scrub lives: the live tables (name
// empty: found on the search_path), or the copies a rebuild in progress is
// filling, which would otherwise bring the plaintext back at switch-over.
type schema struct {
	name   string
	tables map[string]bool // the copies it holds; nil for the live schema
}

func (s schema) has(table string) bool { return s.tables == nil || s.tables[table] }

func (s schema) table(t string) string {
	if s.name == "" {
		return t
	}
	return pgx.Identifier{s.name, t}.Sanitize()
}

func (s schema) label(table, column string) string {
	if s.name == "" {
		return table + "." + column
	}
	return s.name + "." + table + "." + column
}

// scrubSchemas lists the live schema and every rebuild schema with the
// tables in it. Rebuild schemas are named rebuild_<projection>_<hex> (see
// projections' rebuild).
func scrubSchemas(ctx context.Context, tx pgx.Tx) ([]schema, error) {
	rows, err := tx.Query(ctx, `SELECT n.nspname, c.relname FROM pg_namespace n
		JOIN pg_class c ON c.relnamespace = n.oid
		WHERE n.nspname LIKE 'rebuild\_%' AND c.relkind IN ('r', 'p')
		ORDER BY n.nspname, c.relname`)
	if err != nil {
		return nil, fmt.Errorf("list rebuild schemas: %w", err)
	}
	out := []schema{{}}
	var ns, rel string
	_, err = pgx.ForEachRow(rows, []any{&ns, &rel}, func() error {
		if last := &out[len(out)-1]; last.name != ns {
			out = append(out, schema{name: ns, tables: map[string]bool{}})
		}
		out[len(out)-1].tables[rel] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list rebuild schemas: %w", err)
	}
	return out, nil
}

// scrubEmail rewrites every copy of email in s with marker, adding the
// counts to counts, and returns how many rows it rewrote.
func (s schema) scrubEmail(ctx context.Context, tx pgx.Tx, email, marker string, counts map[string]int64) (int64, error) {
	var total int64
	for _, sc := range emailScrubs {
		if !s.has(sc.table) {
			continue
		}
		args := []any{email, marker}
		if sc.actor {
			args = append(args, ErasedIP, ErasedUserAgent)
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(sc.sql, s.table(sc.table)), args...)
		if err != nil {
			return total, fmt.Errorf("scrub %s: %w", s.label(sc.table, sc.column), err)
		}
		if n := tag.RowsAffected(); n > 0 {
			counts[s.label(sc.table, sc.column)] += n
			total += n
		}
	}
	if s.has("rm_notifications") {
		n, err := s.readdressNotifications(ctx, tx, email, marker)
		if err != nil {
			return total, fmt.Errorf("scrub %s: %w", s.label("rm_notifications", "email"), err)
		}
		if n > 0 {
			counts[s.label("rm_notifications", "email")] += n
			total += n
		}
	}
	return total, nil
}

// readdressNotifications moves the notifications addressed to email to
// marker. Their ID is derived from the event and the recipient
// (projections.NotificationID), so it changes with the address: the new one
// is what a rebuild will give, and the read markers follow it. The event is
// found among the audit's rows of the invitation, as the one whose ID gives
// the notification's; should the audit not have it yet, the ID stays.
func (s schema) readdressNotifications(ctx context.Context, tx pgx.Tx, email, marker string) (int64, error) {
	type note struct{ id, to, property, invitation string }
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id::text, email, property_id, coalesce(details->>'invitation_id', '')
		FROM %s WHERE email = $1`, s.table("rm_notifications")), email)
	if err != nil {
		return 0, err
	}
	notes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (note, error) {
		var n note
		err := r.Scan(&n.id, &n.to, &n.property, &n.invitation)
		return n, err
	})
	if err != nil {
		return 0, err
	}
	for _, n := range notes {
		rows, err := tx.Query(ctx, `SELECT event_id, revision FROM rm_audit
			WHERE property_id = $1 AND event_type = $2 AND subject_id = $3`, n.property, domain.TypeMemberInvited, n.invitation)
		if err != nil {
			return 0, err
		}
		var (
			eventID  string
			revision int64
			newID    = n.id
		)
		_, err = pgx.ForEachRow(rows, []any{&eventID, &revision}, func() error {
			key := eventID
			if key == "" {
				key = domain.StreamName(n.property) + "@" + strconv.FormatInt(revision, 10)
			}
			if projections.NotificationID(key, "email:"+n.to) == n.id {
				newID = projections.NotificationID(key, "email:"+marker)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET id = $2, email = $3 WHERE id = $1`, s.table("rm_notifications")),
			n.id, newID, marker); err != nil {
			return 0, err
		}
		if newID != n.id {
			if _, err := tx.Exec(ctx, `UPDATE notification_reads SET notification_id = $2 WHERE notification_id = $1`,
				n.id, newID); err != nil {
				return 0, err
			}
		}
	}
	return int64(len(notes)), nil
}

// scrubAccount rewrites, in s, the actor fields of account that were sealed
// under the account itself, with marker.
func (s schema) scrubAccount(ctx context.Context, tx pgx.Tx, account, marker string, counts map[string]int64) error {
	for _, sc := range accountScrubs {
		if !s.has(sc.table) {
			continue
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(sc.values, s.table(sc.table)), account)
		if err != nil {
			return fmt.Errorf("scrub %s: %w", s.label(sc.table, sc.column), err)
		}
		values, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("scrub %s: %w", s.label(sc.table, sc.column), err)
		}
		// An address was sealed under its own subject, not the account's;
		// an empty actor email still had the IP and agent beside it sealed.
		var theirs []string
		for _, v := range values {
			if _, err := domain.NormalizeEmail(v); err != nil && (v != "" || sc.actor) {
				theirs = append(theirs, v)
			}
		}
		if len(theirs) == 0 {
			continue
		}
		args := []any{account, theirs, marker}
		if sc.actor {
			args = append(args, ErasedIP, ErasedUserAgent)
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(sc.update, s.table(sc.table)), args...)
		if err != nil {
			return fmt.Errorf("scrub %s: %w", s.label(sc.table, sc.column), err)
		}
		if n := tag.RowsAffected(); n > 0 {
			counts[s.label(sc.table, sc.column)] += n
		}
	}
	return nil
}

// dropSnapshots deletes the snapshots of the fold (readmodels' History,
// migration 0014) that hold the email or one of the accounts in plain.
// They are a cache of the events, so deleting loses nothing: the next fold
// opens the events afresh, with the markers, and writes new ones. Moving
// the epoch first tells a fold running now, which may have opened this
// person's data before the keys went, not to write what it took; a fold
// writing at this instant holds the epoch row, so the update waits for it
// and the delete below sees what it wrote.
func dropSnapshots(ctx context.Context, tx pgx.Tx, email string, accounts []string, counts map[string]int64) error {
	if _, err := tx.Exec(ctx, `UPDATE history_snapshot_epoch SET epoch = epoch + 1`); err != nil {
		return fmt.Errorf("scrub history_snapshots: %w", err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM history_snapshots WHERE emails && $1::text[] OR accounts && $2::text[]`,
		[]string{email}, accounts)
	if err != nil {
		return fmt.Errorf("scrub history_snapshots: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		counts["history_snapshots.state"] += n
	}
	return nil
}
