package privacy

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/projections"
)

// personal lists every column to scrub: those the projections declare
// (projections.PersonalColumn), then the mail consumer's tables that hold
// an email.
func personal() []projections.PersonalColumn {
	var out []projections.PersonalColumn
	for _, p := range projections.All() {
		out = append(out, p.Personal...)
	}
	return append(out,
		projections.PersonalColumn{Table: "mail_ledger", Column: "recipient", Claimed: true},
		projections.PersonalColumn{Table: "mail_invitations", Column: "email"})
}

// emailSQL is the statement that rewrites c's copies of an email ($1) in
// table with its marker ($2), and the request's IP ($3) and user agent ($4)
// beside them when c declares those. Rows of a column in the primary key
// are moved instead: deleted and inserted again under the marker.
func emailSQL(c projections.PersonalColumn, table string) string {
	if c.InKey {
		return fmt.Sprintf(`WITH moved AS (DELETE FROM %[1]s WHERE %[2]s = $1 RETURNING *)
			INSERT INTO %[1]s SELECT (jsonb_populate_record(NULL::%[1]s, to_jsonb(m) || jsonb_build_object(%[3]s, $2::text))).*
			FROM moved m ON CONFLICT DO NOTHING`, table, c.Column, quoteLiteral(c.Column))
	}
	return fmt.Sprintf(`UPDATE %s SET %s WHERE %s = $1`, table, setMarker(c, "$2", "$3", "$4"), found(c))
}

// setMarker is the SET list that writes marker into c and, when c declares
// them, ip and ua into the IP and user agent beside it.
func setMarker(c projections.PersonalColumn, marker, ip, ua string) string {
	set := c.Column + " = " + marker
	if c.JSONKey != "" {
		set = fmt.Sprintf("%[1]s = jsonb_set(%[1]s, '{%[2]s}', to_jsonb(%[3]s::text))", c.Column, c.JSONKey, marker)
	}
	for col, v := range map[string]string{c.IP: ip, c.UserAgent: ua} {
		if col != "" {
			set += fmt.Sprintf(", %[1]s = CASE WHEN %[1]s = '' THEN '' ELSE %[2]s END", col, v)
		}
	}
	return set
}

// value is c's value as SQL; found is how a person's email is compared
// with it.
func value(c projections.PersonalColumn) string {
	if c.JSONKey != "" {
		return c.Column + "->>" + quoteLiteral(c.JSONKey)
	}
	return c.Column
}

func found(c projections.PersonalColumn) string {
	if c.Claimed {
		return "lower(btrim(" + value(c) + "))"
	}
	return value(c)
}

// quoteLiteral quotes an identifier of ours as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

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

func (s schema) label(column string) string {
	if s.name == "" {
		return column
	}
	return s.name + "." + column
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
	var recipients []projections.PersonalColumn
	for _, c := range personal() {
		if !s.has(c.Table) {
			continue
		}
		if c.InID {
			recipients = append(recipients, c)
			continue
		}
		args := []any{email, marker}
		if c.IP != "" || c.UserAgent != "" {
			args = append(args, ErasedIP, ErasedUserAgent)
		}
		tag, err := tx.Exec(ctx, emailSQL(c, s.table(c.Table)), args...)
		if err != nil {
			return total, fmt.Errorf("scrub %s: %w", s.label(c.Label()), err)
		}
		if n := tag.RowsAffected(); n > 0 {
			counts[s.label(c.Label())] += n
			total += n
		}
	}
	// A row whose ID derives from the address goes last: finding its new
	// ID reads the audit rows.
	for _, c := range recipients {
		n, err := s.readdressNotifications(ctx, tx, c, email, marker)
		if err != nil {
			return total, fmt.Errorf("scrub %s: %w", s.label(c.Label()), err)
		}
		if n > 0 {
			counts[s.label(c.Label())] += n
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
func (s schema) readdressNotifications(ctx context.Context, tx pgx.Tx, c projections.PersonalColumn, email, marker string) (int64, error) {
	type note struct{ id, to, property, invitation string }
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id::text, %[2]s, property_id, coalesce(details->>'invitation_id', '')
		FROM %[1]s WHERE %[2]s = $1`, s.table(c.Table), c.Column), email)
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
		if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET id = $2, %s = $3 WHERE id = $1`, s.table(c.Table), c.Column),
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
	for _, c := range personal() {
		if c.Account == "" || !s.has(c.Table) {
			continue
		}
		label := s.label(c.Label())
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT DISTINCT coalesce(%s, '') FROM %s WHERE %s = $1`,
			value(c), s.table(c.Table), c.Account), account)
		if err != nil {
			return fmt.Errorf("scrub %s: %w", label, err)
		}
		values, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("scrub %s: %w", label, err)
		}
		// An address was sealed under its own subject, not the account's;
		// an empty email still had the IP and agent beside it sealed.
		withRequest := c.IP != "" || c.UserAgent != ""
		var theirs []string
		for _, v := range values {
			if _, err := domain.NormalizeEmail(v); err != nil && (v != "" || withRequest) {
				theirs = append(theirs, v)
			}
		}
		if len(theirs) == 0 {
			continue
		}
		erased := fmt.Sprintf("(CASE WHEN coalesce(%s, '') = '' THEN '' ELSE $3 END)", value(c))
		args := []any{account, theirs, marker}
		if withRequest {
			args = append(args, ErasedIP, ErasedUserAgent)
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s WHERE %s = $1 AND %s = ANY($2::text[])`,
			s.table(c.Table), setMarker(c, erased, "$4", "$5"), c.Account, value(c)), args...)
		if err != nil {
			return fmt.Errorf("scrub %s: %w", label, err)
		}
		if n := tag.RowsAffected(); n > 0 {
			counts[label] += n
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
