package readmodels_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// revisions lists the revisions of entries, in their order.
func revisions(es []readmodels.AuditEntry) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.Revision)
	}
	return out
}

// span is the revisions lo..hi, counting down when lo > hi.
func span(lo, hi uint64) []uint64 {
	out := []uint64{}
	for r := lo; ; {
		out = append(out, r)
		if r == hi {
			return out
		}
		if lo < hi {
			r++
		} else {
			r--
		}
	}
}

// auditPages walks every page of f over pid and returns the entries and
// the number of pages.
func auditPages(t *testing.T, rm *readmodels.Store, pid string, f readmodels.AuditFilter) ([]readmodels.AuditEntry, int) {
	t.Helper()
	var got []readmodels.AuditEntry
	for pages := 1; ; pages++ {
		page, err := rm.Audit(context.Background(), pid, f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Entries...)
		if page.NextCursor == "" {
			return got, pages
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		f.Cursor = page.NextCursor
	}
}

func TestAuditFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	at := func(i int) string { return pt.At(i).Format(time.RFC3339) }
	tests := []struct {
		name   string
		filter readmodels.AuditFilter
		want   []uint64
	}{
		{"no filter lists every event of the property, oldest first", readmodels.AuditFilter{}, span(0, 20)},
		{"desc lists newest first", readmodels.AuditFilter{Order: "desc"}, span(20, 0)},
		{"from keeps events at or after it", readmodels.AuditFilter{From: at(18)}, span(18, 20)},
		{"to keeps events before it", readmodels.AuditFilter{To: at(3)}, span(0, 2)},
		{"from and to keep a window", readmodels.AuditFilter{From: at(5), To: at(10)}, span(5, 9)},
		{"a time with an offset is read as that instant", readmodels.AuditFilter{From: pt.At(18).In(
			time.FixedZone("", -5*3600)).Format(time.RFC3339)}, span(18, 20)},
		{"an unescaped + in an offset is read as +", readmodels.AuditFilter{From: "2026-03-02T10:18:00 01:00"}, span(18, 20)},
		{"actor keeps what an account did", readmodels.AuditFilter{Actor: pt.Ann}, []uint64{4, 5, 15, 16, 17}},
		{"actor may be an email, in any case", readmodels.AuditFilter{Actor: "ANN@Example.com"}, []uint64{4, 5, 15, 16, 17}},
		{"type keeps events of that type", readmodels.AuditFilter{Types: []string{domain.TypeMemberInvited}}, []uint64{2, 3, 10, 15, 17}},
		{"several types keep events of each", readmodels.AuditFilter{Types: []string{domain.TypeMemberInvited, domain.TypeInvitationResent}},
			[]uint64{2, 3, 10, 15, 16, 17}},
		{"blank and repeated types are ignored", readmodels.AuditFilter{Types: []string{" ", domain.TypeMemberLeft, domain.TypeMemberLeft}},
			[]uint64{20}},
		{"member keeps a member's events from its invitation on", readmodels.AuditFilter{Member: pt.Ann}, []uint64{2, 4, 5, 7, 8, 9, 14}},
		{"member may be an email, in any case", readmodels.AuditFilter{Member: "Ann@Example.com"}, []uint64{2, 4, 5, 7, 8, 9, 14}},
		{"member by email finds an invitee who never joined", readmodels.AuditFilter{Member: pt.BobEmail}, []uint64{3, 6}},
		{"member finds both sides of a transfer", readmodels.AuditFilter{Member: pt.Owner}, []uint64{0, 1, 14}},
		{"member in desc order", readmodels.AuditFilter{Member: pt.Ann, Order: "DESC"}, []uint64{14, 9, 8, 7, 5, 4, 2}},
		{"member and actor combine", readmodels.AuditFilter{Member: pt.Ann, Actor: pt.Owner}, []uint64{2, 7, 8, 9, 14}},
		{"every filter combines", readmodels.AuditFilter{Member: pt.Ann, Actor: pt.OwnerEmail,
			Types: []string{domain.TypeMemberAccessDisabled, domain.TypeMemberAccessEnabled}, From: at(8), To: at(9)}, []uint64{8}},
		{"a member of another property has no events here", readmodels.AuditFilter{Member: pt.Other}, []uint64{}},
		{"an actor with no events here has none", readmodels.AuditFilter{Actor: pt.Eve}, []uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.filter.Limit = readmodels.MaxAuditLimit
			page, err := f.rm.Audit(context.Background(), pt.Acme, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, revisions(page.Entries)); diff != "" || page.NextCursor != "" {
				t.Errorf("revisions (-want +got), next cursor %q:\n%s", page.NextCursor, diff)
			}
		})
	}
	t.Run("an unknown property has an empty trail", func(t *testing.T) {
		page, err := f.rm.Audit(context.Background(), "p-none", readmodels.AuditFilter{})
		if err != nil || page.Entries == nil || len(page.Entries) != 0 {
			t.Errorf("Audit = %+v, %v; want an empty list", page, err)
		}
	})
}

func TestAuditEntryShowsWhoDidWhatToWhom(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	page, err := f.rm.Audit(context.Background(), pt.Acme, readmodels.AuditFilter{Types: []string{domain.TypeMemberRoleChanged}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 {
		t.Fatalf("%d role changes, want 1", len(page.Entries))
	}
	got := page.Entries[0]
	if got.Position == "" || got.EventID == "" || got.CommandID == "" || got.CorrelationID == "" || got.CausationID == "" {
		t.Errorf("entry %+v lacks its position or IDs", got)
	}
	got.Position, got.EventID, got.CommandID, got.CorrelationID, got.CausationID = "", "", "", "", ""
	want := readmodels.AuditEntry{OccurredAt: pt.At(7), Type: domain.TypeMemberRoleChanged, Revision: 7,
		Actor:   readmodels.AuditActor{AccountID: pt.Owner, Email: pt.OwnerEmail},
		Subject: readmodels.AuditSubject{Kind: "member", ID: pt.Ann, Email: pt.AnnEmail},
		Change:  &readmodels.AuditChange{Field: "role", From: "agent", To: "admin"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
}

func TestAuditPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	tests := []struct {
		name      string
		filter    readmodels.AuditFilter
		want      []uint64
		wantPages int
	}{
		{"pages of one walk every entry once", readmodels.AuditFilter{Limit: 1}, span(0, 20), 21},
		{"pages of four end with the remainder", readmodels.AuditFilter{Limit: 4}, span(0, 20), 6},
		{"desc pages walk backwards", readmodels.AuditFilter{Limit: 4, Order: "desc"}, span(20, 0), 6},
		{"the default page holds fifty", readmodels.AuditFilter{}, span(0, 20), 1},
		{"a page as large as the trail has no next cursor", readmodels.AuditFilter{Limit: 21}, span(0, 20), 1},
		{"member pages keep the filter", readmodels.AuditFilter{Limit: 2, Member: pt.Ann}, []uint64{2, 4, 5, 7, 8, 9, 14}, 4},
		{"desc member pages keep the filter", readmodels.AuditFilter{Limit: 3, Member: pt.Ann, Order: "desc"},
			[]uint64{14, 9, 8, 7, 5, 4, 2}, 3},
		{"type pages keep the filter", readmodels.AuditFilter{Limit: 2, Types: []string{domain.TypeMemberInvited}},
			[]uint64{2, 3, 10, 15, 17}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pages := auditPages(t, f.rm, pt.Acme, tt.filter)
			if diff := cmp.Diff(tt.want, revisions(got)); diff != "" || pages != tt.wantPages {
				t.Errorf("%d pages, want %d; revisions (-want +got):\n%s", pages, tt.wantPages, diff)
			}
		})
	}
}

// TestAuditPagingIsKeyed shows that events appended between pages appear
// once, on a later page, and shift nothing, as offsets would.
func TestAuditPagingIsKeyed(t *testing.T) {
	t.Parallel()
	script := pt.Script()
	f := newFixture(t, script[:10]...)
	first, err := f.rm.Audit(context.Background(), pt.Acme, readmodels.AuditFilter{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	f.add(t, script[10:21]...)
	rest, _ := auditPages(t, f.rm, pt.Acme, readmodels.AuditFilter{Limit: 4, Cursor: first.NextCursor})
	if diff := cmp.Diff(span(0, 20), revisions(append(first.Entries, rest...))); diff != "" {
		t.Errorf("revisions over the pages (-want +got):\n%s", diff)
	}
}

func TestEachAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	ctx := context.Background()
	tests := []struct {
		name   string
		filter readmodels.AuditFilter
		want   []uint64
	}{
		{"it visits every entry, past any page size", readmodels.AuditFilter{Limit: 2}, span(0, 20)},
		{"it ignores a cursor", readmodels.AuditFilter{Cursor: "anything"}, span(0, 20)},
		{"it keeps the filters and order", readmodels.AuditFilter{Member: pt.Ann, Order: "desc"}, []uint64{14, 9, 8, 7, 5, 4, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, _ := auditPages(t, f.rm, pt.Acme, readmodels.AuditFilter{Member: tt.filter.Member, Order: tt.filter.Order, Limit: 3})
			var got []readmodels.AuditEntry
			err := f.rm.EachAudit(ctx, pt.Acme, tt.filter, func(e readmodels.AuditEntry) error {
				got = append(got, e)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, revisions(got)); diff != "" {
				t.Errorf("revisions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("entries differ from the pages' (-pages +export):\n%s", diff)
			}
		})
	}
	t.Run("a bad filter fails before the first entry", func(t *testing.T) {
		called := false
		err := f.rm.EachAudit(ctx, pt.Acme, readmodels.AuditFilter{Types: []string{"Nope"}}, func(readmodels.AuditEntry) error {
			called = true
			return nil
		})
		wantError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, "Nope")
		if called {
			t.Error("fn was called before the error")
		}
	})
	t.Run("an error from fn stops the export and is returned", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := f.rm.EachAudit(ctx, pt.Acme, readmodels.AuditFilter{}, func(readmodels.AuditEntry) error {
			n++
			return stop
		})
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("EachAudit = %v after %d calls; want stop after 1", err, n)
		}
	})
}

// TestEachAuditPagesAndHoldsNoConnection: an export reads the trail in
// keyset pages and calls fn with no connection of its pool taken, so a
// slow client holds none; the pages together are the trail, in every
// order and filter. Not parallel: it shrinks the export's page.
func TestEachAuditPagesAndHoldsNoConnection(t *testing.T) {
	readmodels.SetExportPageRows(t, 3)
	f := newFixture(t, pt.Script()...)
	ctx := context.Background()
	pool, err := pgxpool.NewWithConfig(ctx, f.pool.Config().Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	rm := readmodels.New(pool)
	tests := []struct {
		name   string
		filter readmodels.AuditFilter
	}{
		{"the whole trail", readmodels.AuditFilter{}},
		{"newest first", readmodels.AuditFilter{Order: "desc"}},
		{"a member's entries", readmodels.AuditFilter{Member: pt.Ann}},
		{"several types", readmodels.AuditFilter{Types: []string{domain.TypeMemberJoined, domain.TypeMemberRoleChanged}}},
		{"one type of a member's, newest first", readmodels.AuditFilter{Member: pt.Ann, Order: "desc", Types: []string{domain.TypeMemberJoined}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, _ := auditPages(t, rm, pt.Acme, readmodels.AuditFilter{Member: tt.filter.Member, Order: tt.filter.Order,
				Types: tt.filter.Types, Limit: readmodels.MaxAuditLimit})
			var got []readmodels.AuditEntry
			err := rm.EachAudit(ctx, pt.Acme, tt.filter, func(e readmodels.AuditEntry) error {
				if n := pool.Stat().AcquiredConns(); n != 0 {
					t.Errorf("entry %d handed over with %d connections taken, want 0", e.Revision, n)
				}
				got = append(got, e)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("export differs from one page of the trail (-page +export):\n%s", diff)
			}
		})
	}
}

func TestAuditRejectsBadFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()[:2]...)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		filter readmodels.AuditFilter
		value  string
	}{
		{"from must be RFC 3339", readmodels.AuditFilter{From: "yesterday"}, "yesterday"},
		{"to must be a real date", readmodels.AuditFilter{To: "2026-13-01T00:00:00Z"}, "2026-13-01T00:00:00Z"},
		{"a date without a time is refused", readmodels.AuditFilter{From: "2026-03-02"}, "2026-03-02"},
		{"to must be after from", readmodels.AuditFilter{From: "2026-03-02T10:00:00Z", To: "2026-03-02T09:00:00Z"}, "2026-03-02T09:00:00Z"},
		{"an unknown event type is refused by name", readmodels.AuditFilter{Types: []string{domain.TypeMemberJoined, "MemberPromoted"}}, "MemberPromoted"},
		{"event types are case-sensitive stored names", readmodels.AuditFilter{Types: []string{"memberjoined"}}, "memberjoined"},
		{"an unknown order is refused", readmodels.AuditFilter{Order: "sideways"}, "sideways"},
		{"a cursor must be base64url", readmodels.AuditFilter{Cursor: "not a cursor!"}, "not a cursor!"},
		{"a cursor must hold JSON", readmodels.AuditFilter{Cursor: b64("[1]")}, b64("[1]")},
		{"a cursor must hold a time and a revision", readmodels.AuditFilter{Cursor: b64(`{"t":1}`)}, b64(`{"t":1}`)},
		{"a members cursor is not an audit cursor", readmodels.AuditFilter{Cursor: b64(`{"e":"a@b.c","a":"x"}`)}, b64(`{"e":"a@b.c","a":"x"}`)},
		{"a negative limit is refused", readmodels.AuditFilter{Limit: -1}, "-1"},
		{"a limit above the maximum is refused", readmodels.AuditFilter{Limit: readmodels.MaxAuditLimit + 1}, "501"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.rm.Audit(context.Background(), pt.Acme, tt.filter)
			wantError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, tt.value)
		})
	}
}
