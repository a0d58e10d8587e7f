package readmodels_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
)

// The property the scale tests and benchmarks fill, and its neighbour.
const (
	bigProperty   = "p-big"
	smallProperty = "p-small"
)

// seedT0 is when the first seeded audit row happened; row i is i seconds later.
var seedT0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// bigMember is member i of the seeded property: every third an admin, every
// fifth disabled, emails under 26 first names so a prefix keeps about 1/26.
func bigMember(i int) (id, email, role, status string) {
	names := []string{"amy", "bob", "cat", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "lou", "max",
		"ned", "oli", "pam", "quinn", "ray", "sam", "tom", "uma", "vic", "wes", "xia", "yan", "zoe"}
	id, email = fmt.Sprintf("acc-%06d", i), fmt.Sprintf("%s.%06d@example.com", names[i%len(names)], i)
	role, status = string(domain.RoleAgent), string(domain.StatusEnabled)
	if i%3 == 0 {
		role = string(domain.RoleAdmin)
	}
	if i%5 == 0 {
		status = string(domain.StatusDisabled)
	}
	return id, email, role, status
}

// seedMembers writes n members of bigProperty and 1,000 of smallProperty
// straight into rm_members and returns the big property's emails in page
// order (the account ID breaks no tie: emails are unique).
func seedMembers(tb testing.TB, pool *pgxpool.Pool, n int) []string {
	tb.Helper()
	emails := make([]string, 0, n)
	rows := func(pid string, n int) [][]any {
		out := make([][]any, 0, n)
		for i := range n {
			id, email, role, status := bigMember(i)
			if pid == bigProperty {
				emails = append(emails, email)
			}
			at := seedT0.Add(time.Duration(i) * time.Second)
			out = append(out, []any{pid, id, email, role, status, i == 0, at, at})
		}
		return out
	}
	cols := []string{"property_id", "account_id", "email", "role", "status", "is_owner", "joined_at", "updated_at"}
	for _, part := range []struct {
		pid string
		n   int
	}{{bigProperty, n}, {smallProperty, 1000}} {
		copyRows(tb, pool, "rm_members", cols, rows(part.pid, part.n))
	}
	analyze(tb, pool, "rm_members")
	slices.Sort(emails)
	return emails
}

// seedTypes is the event type of audit row i: invitations, joins, role
// and access changes and removals in turn, with a creation first and an
// ownership transfer every 10,000 rows, the rare type.
func seedType(i int) string {
	types := []string{domain.TypeMemberInvited, domain.TypeInvitationAccepted, domain.TypeMemberJoined,
		domain.TypeMemberRoleChanged, domain.TypeMemberAccessDisabled, domain.TypeMemberAccessEnabled,
		domain.TypeMemberInvited, domain.TypeInvitationResent, domain.TypeInvitationRevoked, domain.TypeMemberRemoved}
	switch {
	case i == 0:
		return domain.TypePropertyCreated
	case i%10000 == 5000:
		return domain.TypeOwnershipTransferred
	}
	return types[i%len(types)]
}

// seedAuditRow describes audit row i: twenty admins act in turn, and each
// run of five rows concerns one member (so 20,000 members for 100,000 rows).
func seedAuditRow(i int) (at time.Time, typ, actor, actorEmail, member, memberEmail string) {
	at = seedT0.Add(time.Duration(i) * time.Second)
	actor, actorEmail = fmt.Sprintf("acc-admin-%02d", i%20), fmt.Sprintf("admin%02d@example.com", i%20)
	member, memberEmail = fmt.Sprintf("acc-%06d", i/5), fmt.Sprintf("user%06d@example.com", i/5)
	return at, seedType(i), actor, actorEmail, member, memberEmail
}

// seedAudit writes n audit rows of bigProperty and 1,000 of smallProperty
// straight into rm_audit and rm_audit_subjects, as the audit projection
// would have filed them.
func seedAudit(tb testing.TB, pool *pgxpool.Pool, n int) {
	tb.Helper()
	var audit, subjects [][]any
	for _, part := range []struct {
		pid string
		n   int
	}{{bigProperty, n}, {smallProperty, 1000}} {
		audit, subjects = audit[:0], subjects[:0]
		for i := range part.n {
			at, typ, actor, actorEmail, member, memberEmail := seedAuditRow(i)
			kind, id := "member", member
			if typ == domain.TypeMemberInvited || typ == domain.TypeInvitationAccepted ||
				typ == domain.TypeInvitationResent || typ == domain.TypeInvitationRevoked {
				kind, id = "invitation", fmt.Sprintf("inv-%06d", i/5)
				subjects = append(subjects, []any{part.pid, id, at, int64(i)})
			}
			audit = append(audit, []any{part.pid, int64(i), int64(i + 1), int64(i + 1), fmt.Sprintf("evt-%s-%d", part.pid, i), typ, at,
				actor, actorEmail, "203.0.113.7", "bench/1.0", kind, id, memberEmail, "", "", "",
				fmt.Sprintf("req-%d", i), fmt.Sprintf("cmd-%d", i), fmt.Sprintf("cmd-%d", i)})
			subjects = append(subjects, []any{part.pid, member, at, int64(i)}, []any{part.pid, memberEmail, at, int64(i)})
		}
		copyRows(tb, pool, "rm_audit", []string{"property_id", "revision", "commit_position",
			"prepare_position", "event_id", "event_type", "occurred_at", "actor_id", "actor_email", "client_ip", "user_agent",
			"subject_kind", "subject_id", "subject_email", "change_field", "before_value", "after_value",
			"correlation_id", "causation_id", "command_id"}, audit)
		copyRows(tb, pool, "rm_audit_subjects", []string{"property_id", "subject_key", "occurred_at", "revision"}, subjects)
	}
	analyze(tb, pool, "rm_audit", "rm_audit_subjects")
}

// copyChunk is how many rows one COPY writes. Each COPY is a transaction,
// and the PostgreSQL event store's feed waits for every transaction older
// than an event (server-wide) to end before it delivers the event: short
// ones keep the seeding from stalling tests running beside it.
const copyChunk = 2000

// copyRows writes rows into table with COPY, copyChunk rows at a time.
func copyRows(tb testing.TB, pool *pgxpool.Pool, table string, cols []string, rows [][]any) {
	tb.Helper()
	for chunk := range slices.Chunk(rows, copyChunk) {
		if _, err := pool.CopyFrom(context.Background(), pgx.Identifier{table}, cols, pgx.CopyFromRows(chunk)); err != nil {
			tb.Fatalf("seed %s: %v", table, err)
		}
	}
}

// analyze refreshes the planner's statistics, as autovacuum would soon
// after a bulk load.
func analyze(tb testing.TB, pool *pgxpool.Pool, tables ...string) {
	tb.Helper()
	for _, t := range tables {
		if _, err := pool.Exec(context.Background(), "VACUUM ANALYZE "+pgx.Identifier{t}.Sanitize()); err != nil {
			tb.Fatalf("analyze %s: %v", t, err)
		}
	}
}
