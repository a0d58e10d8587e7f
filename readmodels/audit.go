package readmodels

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/emailaddr"
	"github.com/rosterhq/roster/infra/eventstore"
)

// Page sizes of Audit.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 500
)

// The orders Audit lists entries in.
const (
	OrderAsc  = "asc"
	OrderDesc = "desc"
)

// AuditEntry is one event of a property as the audit trail shows it: who did
// what to whom, when and from where.
type AuditEntry struct {
	OccurredAt time.Time `json:"occurred_at"`
	// Type is the stored event type, such as MemberRoleChanged.
	Type string `json:"type"`
	// Revision is the event's revision in the property's stream.
	Revision uint64 `json:"revision"`
	// Position is the event's place in the global feed, in the form of
	// Roster-Position ("commit.prepare").
	Position string       `json:"position"`
	EventID  string       `json:"event_id"`
	Actor    AuditActor   `json:"actor"`
	Subject  AuditSubject `json:"subject"`
	// Change is the value the event changed, or nil when it changed none.
	Change        *AuditChange `json:"change"`
	CorrelationID string       `json:"correlation_id"`
	CausationID   string       `json:"causation_id"`
	CommandID     string       `json:"command_id"`
}

// AuditActor is who caused an event and where the request came from; IP
// and UserAgent are empty when unknown.
type AuditActor struct {
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
}

// AuditSubject is what an event is about: a member (ID is its account), an
// invitation (ID is the invitation's, Email the invitee's) or the property.
type AuditSubject struct {
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	Email string `json:"email"`
}

// AuditChange is one value before and after an event: role, status, owner
// (account IDs), expires_at (RFC 3339) or name. From is empty for a value
// the event set for the first time.
type AuditChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// AuditFilter selects and pages the audit trail of a property. Every field
// is optional.
type AuditFilter struct {
	// From keeps entries that occurred at or after it (RFC 3339).
	From string
	// To keeps entries that occurred before it (RFC 3339).
	To string
	// Actor keeps entries caused by this account ID or, when it holds an @,
	// this verified email (compared in its normal form).
	Actor string
	// Types keeps entries of these event types.
	Types []string
	// Member keeps entries about this member or invitee: an account ID, or
	// an email when it holds an @. An account's entries include those of the
	// invitation it accepted.
	Member string
	// Order is OrderAsc (oldest first, the default) or OrderDesc.
	Order string
	// Cursor continues after the page that returned it as NextCursor.
	Cursor string
	// Limit is the page size: 0 means DefaultAuditLimit; at most MaxAuditLimit.
	Limit int
}

// AuditPage is one page of the audit trail.
type AuditPage struct {
	Entries []AuditEntry `json:"entries"`
	// NextCursor fetches the next page; it is empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// Audit returns one page of the audit trail of pid that passes f, ordered by
// when each event occurred then by revision, and paged by that key. An
// unknown property gives an empty page. It returns a *domain.Error of kind
// KindInvalid (CodeInvalidRequest) naming the bad value for a from or to
// that is not RFC 3339, a to not after from, an unknown event type or
// order, a cursor this API did not give out, or a limit outside
// 0..MaxAuditLimit.
func (s *Store) Audit(ctx context.Context, pid string, f AuditFilter) (AuditPage, error) {
	q, err := auditQuery(pid, f)
	if err != nil {
		return AuditPage{}, err
	}
	rows, err := s.pool.Query(ctx, q.sql, q.args...)
	if err != nil {
		return AuditPage{}, fmt.Errorf("read audit of %s: %w", pid, err)
	}
	entries, err := pgx.CollectRows(rows, scanAuditEntry)
	if err != nil {
		return AuditPage{}, fmt.Errorf("read audit of %s: %w", pid, err)
	}
	page := AuditPage{Entries: entries}
	if len(entries) > q.limit {
		page.Entries = entries[:q.limit]
		last := page.Entries[q.limit-1]
		at, rev := last.OccurredAt.UnixMicro(), last.Revision
		page.NextCursor = encodeCursor(auditKey{At: &at, Revision: &rev})
	}
	return page, nil
}

// exportPageRows is how many entries EachAudit reads per query. A
// variable so that tests can walk many pages of a small trail.
var exportPageRows = 500

// EachAudit calls fn with every entry of the audit trail of pid that passes
// f, in the order of Audit, so a trail of any length is exported in
// constant memory. It reads the trail in keyset pages of exportPageRows,
// each its own query, and calls fn only once a page is read and its
// connection is back in the pool: an export to a slow client waits on the
// client, never while holding a connection that commands and other queries
// need. Entries projected while an export runs appear in it when they sort
// after the page last read. f.Cursor and f.Limit page the trail and are
// ignored here. It returns the errors of Audit before calling fn at all, so
// a caller can still answer with one; an error from fn stops the export and
// is returned as is. It is safe for concurrent use.
func (s *Store) EachAudit(ctx context.Context, pid string, f AuditFilter, fn func(AuditEntry) error) error {
	f.Cursor, f.Limit = "", exportPageRows
	for {
		page, err := s.Audit(ctx, pid, f)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		f.Cursor = page.NextCursor
	}
}

// query is a statement with its arguments and, for a page, its size.
type query struct {
	sql   string
	args  []any
	limit int
}

// auditQuery checks f and builds the statement that reads it. Every filter
// and the page key are answered from an index whose last columns are
// (occurred_at, revision), so a page reads only the rows it returns.
func auditQuery(pid string, f AuditFilter) (query, error) {
	args := []any{pid}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	// k holds the key columns: the subjects table drives a member filter,
	// whose rows carry the key too, and rm_audit drives the others.
	source, k := `rm_audit a`, "a"
	where := []string{"a.property_id = $1"}
	if m := strings.TrimSpace(f.Member); m != "" {
		source, k = `rm_audit_subjects s JOIN rm_audit a ON a.property_id = s.property_id AND a.revision = s.revision`, "s"
		where = []string{"s.property_id = $1", "s.subject_key = " + arg(subjectKey(m))}
	}
	if a := strings.TrimSpace(f.Actor); a != "" {
		if strings.Contains(a, "@") {
			// An unverified email is not shown, so it finds nothing either.
			where = append(where, "a.actor_email = "+arg(emailaddr.Key(a))+" AND a.actor_email_verified IS NOT FALSE")
		} else {
			where = append(where, "a.actor_id = "+arg(a))
		}
	}
	types, err := eventTypes(f.Types)
	if err != nil {
		return query{}, err
	}
	fromT, err := parseTime("from", f.From)
	if err != nil {
		return query{}, err
	}
	toT, err := parseTime("to", f.To)
	if err != nil {
		return query{}, err
	}
	if !fromT.IsZero() {
		where = append(where, k+".occurred_at >= "+arg(fromT))
	}
	if !toT.IsZero() {
		if !fromT.IsZero() && !toT.After(fromT) {
			return query{}, invalid("to", f.To, "is not after from "+f.From)
		}
		where = append(where, k+".occurred_at < "+arg(toT))
	}
	dir, op := "", ">"
	switch strings.ToLower(strings.TrimSpace(f.Order)) {
	case "", OrderAsc:
	case OrderDesc:
		dir, op = " DESC", "<"
	default:
		return query{}, invalid("order", f.Order, "is not one of asc, desc")
	}
	if f.Cursor != "" {
		key, err := decodeCursor[auditKey](f.Cursor)
		if err != nil {
			return query{}, invalid("cursor", f.Cursor, "is not a cursor this API gave out")
		}
		where = append(where, fmt.Sprintf("(%s.occurred_at, %s.revision) %s (%s, %s)",
			k, k, op, arg(time.UnixMicro(*key.At).UTC()), arg(int64(*key.Revision))))
	}
	order := ` ORDER BY ` + k + `.occurred_at` + dir + `, ` + k + `.revision` + dir
	limit, err := pageLimit(f.Limit, DefaultAuditLimit, MaxAuditLimit)
	if err != nil {
		return query{}, err
	}
	q := query{limit: limit}
	selectFrom := `SELECT ` + auditColumns + ` FROM ` + source + ` WHERE `
	switch {
	case len(types) > 1:
		// One index scan cannot give several types in page order, so each
		// type reads at most a page from the type index and the pages are
		// merged: a page costs at most a page per type, however rare or
		// common the types are.
		n := arg(q.limit + 1)
		branches := make([]string, len(types))
		for i, t := range types {
			cond := append(slices.Clip(where), "a.event_type = "+arg(t))
			branches[i] = `(` + selectFrom + strings.Join(cond, " AND ") + order + ` LIMIT ` + n + `)`
		}
		q.sql = `SELECT * FROM (` + strings.Join(branches, " UNION ALL ") + `) AS u` +
			` ORDER BY occurred_at` + dir + `, revision` + dir + ` LIMIT ` + n
	default:
		switch len(types) {
		case 0:
		case 1:
			where = append(where, "a.event_type = "+arg(types[0]))
		default:
			where = append(where, "a.event_type = ANY("+arg(types)+")")
		}
		// One row more than the page tells whether another page follows.
		q.sql = selectFrom + strings.Join(where, " AND ") + order + ` LIMIT ` + arg(q.limit+1)
	}
	q.args = args
	return q, nil
}

// subjectKey is the rm_audit_subjects key of a member filter: emails are
// stored in their normal form (domain.EmailKey), IDs as they are.
func subjectKey(s string) string {
	if strings.Contains(s, "@") {
		return emailaddr.Key(s)
	}
	return s
}

// eventTypes checks each type against the stored names and drops blanks
// and repeats. An unknown type is refused by name.
func eventTypes(in []string) ([]string, error) {
	known := domain.EventTypes()
	out := []string{}
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t == "" || slices.Contains(out, t) {
			continue
		}
		if !slices.Contains(known, t) {
			slices.Sort(known)
			return nil, invalid("type", t, "is not an event type; known types are "+strings.Join(known, ", "))
		}
		out = append(out, t)
	}
	return out, nil
}

// parseTime reads an RFC 3339 time; "" is the zero time. A "+" in an
// offset reaches here as a space when the caller forgot to escape it in the
// query string, so a space is read as "+".
func parseTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.ReplaceAll(s, " ", "+"))
	if err != nil {
		return time.Time{}, invalid(field, s, "is not an RFC 3339 time such as 2026-03-02T09:00:00Z")
	}
	return t, nil
}

// shownActorEmail is the actor's email as the audit shows it: only one the
// token verified (see domain.Metadata.ShownActorEmail); rows of events from
// before verification was recorded show theirs as they did.
const shownActorEmail = `CASE WHEN a.actor_email_verified IS FALSE THEN '' ELSE a.actor_email END`

const auditColumns = `a.occurred_at, a.event_type, a.revision, a.commit_position, a.prepare_position, a.event_id,
	a.actor_id, ` + shownActorEmail + `, a.client_ip, a.user_agent, a.subject_kind, a.subject_id, a.subject_email,
	a.change_field, a.before_value, a.after_value, a.correlation_id, a.causation_id, a.command_id`

func scanAuditEntry(row pgx.CollectableRow) (AuditEntry, error) {
	var (
		e                    AuditEntry
		rev, commit, prepare int64
		change               AuditChange
	)
	err := row.Scan(&e.OccurredAt, &e.Type, &rev, &commit, &prepare, &e.EventID,
		&e.Actor.AccountID, &e.Actor.Email, &e.Actor.IP, &e.Actor.UserAgent,
		&e.Subject.Kind, &e.Subject.ID, &e.Subject.Email,
		&change.Field, &change.From, &change.To, &e.CorrelationID, &e.CausationID, &e.CommandID)
	e.Revision = uint64(rev)
	e.Position = eventstore.Position{Commit: uint64(commit), Prepare: uint64(prepare)}.String()
	if change.Field != "" {
		e.Change = &change
	}
	utc(&e.OccurredAt)
	return e, err
}

// auditKey is the sort key of the last entry of a page, which the opaque
// cursor carries as base64url JSON: the time in Unix microseconds (what
// PostgreSQL keeps) and the revision.
type auditKey struct {
	At       *int64  `json:"t"`
	Revision *uint64 `json:"r"`
}

// check refuses an audit cursor that lacks a part: a cursor is opaque to
// clients, so one that decodes but is incomplete was made up or cut.
func (k auditKey) check() error {
	if k.At == nil || k.Revision == nil || *k.Revision > 1<<62 {
		return fmt.Errorf("cursor lacks its time or revision")
	}
	return nil
}
