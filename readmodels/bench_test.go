package readmodels_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/readmodels"
)

// scaleRows is how many members, and how many audit rows, the scale
// benchmarks and TestScaleQueriesUseIndexes seed into one property.
const scaleRows = 100_000

// scaleCase is one query of the scale benchmarks; want is how many rows it
// returns, so a benchmark of an empty answer cannot pass for a fast one.
type scaleCase struct {
	name string
	want int
	run  func(ctx context.Context, rm *readmodels.Store) (int, error)
}

// memberCases are the members queries of a 100,000-member property whose
// emails, in page order, are emails.
func memberCases(emails []string) []scaleCase {
	page := func(f readmodels.MemberFilter) func(context.Context, *readmodels.Store) (int, error) {
		return func(ctx context.Context, rm *readmodels.Store) (int, error) {
			p, err := rm.Members(ctx, bigProperty, f)
			return len(p.Members), err
		}
	}
	deep := emails[len(emails)*9/10]
	deepID := "acc-" + deep[len(deep)-18:len(deep)-12] // the number in the email is the account's
	return []scaleCase{
		{"first page", 50, page(readmodels.MemberFilter{})},
		{"deep cursor page at 90%", 50, page(readmodels.MemberFilter{Cursor: readmodels.MemberCursor(deep, deepID)})},
		{"role filter", 50, page(readmodels.MemberFilter{Role: "admin"})},
		{"status filter", 50, page(readmodels.MemberFilter{Status: "disabled"})},
		{"role filter deep cursor page", 50, page(readmodels.MemberFilter{Role: "agent", Cursor: readmodels.MemberCursor(deep, deepID)})},
		{"q prefix", 50, page(readmodels.MemberFilter{Query: "wes.0"})},
		{"q prefix matching few", 1, page(readmodels.MemberFilter{Query: "wes.000022"})},
		{"role, status and q", 50, page(readmodels.MemberFilter{Role: "agent", Status: "enabled", Query: "sam"})},
	}
}

// auditCases are the audit queries of a property with 100,000 audit rows.
func auditCases() []scaleCase {
	page := func(f readmodels.AuditFilter) func(context.Context, *readmodels.Store) (int, error) {
		return func(ctx context.Context, rm *readmodels.Store) (int, error) {
			p, err := rm.Audit(ctx, bigProperty, f)
			return len(p.Entries), err
		}
	}
	at := func(i int) string { return seedAuditAt(i).Format("2006-01-02T15:04:05Z07:00") }
	deep := readmodels.AuditCursor(seedAuditAt(95_000), 95_000)
	return []scaleCase{
		{"first page", 50, page(readmodels.AuditFilter{})},
		{"deep cursor page at 95%", 50, page(readmodels.AuditFilter{Cursor: deep})},
		{"newest first", 50, page(readmodels.AuditFilter{Order: "desc"})},
		{"largest page", 500, page(readmodels.AuditFilter{Limit: readmodels.MaxAuditLimit})},
		{"from and to window in the middle", 50, page(readmodels.AuditFilter{From: at(60_000), To: at(70_000)})},
		{"actor by ID", 50, page(readmodels.AuditFilter{Actor: "acc-admin-07"})},
		{"actor by email, deep cursor", 50, page(readmodels.AuditFilter{Actor: "admin07@example.com", Cursor: deep})},
		{"one common type", 50, page(readmodels.AuditFilter{Types: []string{domain.TypeMemberJoined}})},
		{"one rare type", 10, page(readmodels.AuditFilter{Types: []string{domain.TypeOwnershipTransferred}})},
		{"two types", 50, page(readmodels.AuditFilter{Types: []string{domain.TypeMemberRemoved, domain.TypeInvitationRevoked}})},
		{"two rare types", 11, page(readmodels.AuditFilter{Types: []string{domain.TypeOwnershipTransferred, domain.TypePropertyCreated}})},
		{"a rare and a common type, deep cursor", 50, page(readmodels.AuditFilter{Cursor: deep,
			Types: []string{domain.TypeOwnershipTransferred, domain.TypeMemberRemoved}})},
		{"member by account ID", 5, page(readmodels.AuditFilter{Member: "acc-012345"})},
		{"member by email", 5, page(readmodels.AuditFilter{Member: "user012345@example.com"})},
		{"actor, type and from together", 50, page(readmodels.AuditFilter{Actor: "acc-admin-02",
			Types: []string{domain.TypeMemberJoined}, From: at(50_000)})},
		{"member history", 5, func(ctx context.Context, rm *readmodels.Store) (int, error) {
			h, err := rm.MemberHistory(ctx, bigProperty, "acc-012345")
			return len(h), err
		}},
	}
}

// seedAuditAt is when seeded audit row i happened.
func seedAuditAt(i int) time.Time { at, _, _, _, _, _ := seedAuditRow(i); return at }

// BenchmarkMembersPage100k reads pages of members of a property with
// 100,000 members (and a neighbour with 1,000), seeded once.
func BenchmarkMembersPage100k(b *testing.B) {
	pool := pgtest.NewPool(b)
	emails := seedMembers(b, pool, scaleRows)
	runScale(b, pool, memberCases(emails))
}

// BenchmarkAuditPage reads pages of the audit trail of a property with
// 100,000 rows (and a neighbour with 1,000), seeded once.
func BenchmarkAuditPage(b *testing.B) {
	pool := pgtest.NewPool(b)
	seedAudit(b, pool, scaleRows)
	runScale(b, pool, auditCases())
}

// BenchmarkAuditExport streams the whole 100,000-row trail, as a CSV or
// NDJSON export does: one op is one full export.
func BenchmarkAuditExport(b *testing.B) {
	pool := pgtest.NewPool(b)
	seedAudit(b, pool, scaleRows)
	rm := readmodels.New(pool)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := rm.EachAudit(context.Background(), bigProperty, readmodels.AuditFilter{}, func(readmodels.AuditEntry) error {
			n++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if n != scaleRows {
			b.Fatalf("exported %d rows, want %d", n, scaleRows)
		}
	}
}

func runScale(b *testing.B, pool *pgxpool.Pool, cases []scaleCase) {
	rm := readmodels.New(pool)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n, err := c.run(context.Background(), rm)
				if err != nil {
					b.Fatal(err)
				}
				if n != c.want {
					b.Fatalf("%d rows, want %d", n, c.want)
				}
			}
		})
	}
}
