package readmodels_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// InvCatAgain is the invitation Cat accepts to come back to Acme.
const InvCatAgain = "inv-cat-again"

// asOfSteps extends pt.Script on Acme: Ann invites Cat back (step 26), Cat
// accepts (27) and joins again (28), Ann makes Cat an admin (29) and
// disables the first owner (30).
func asOfSteps() []pt.Step {
	by := func(actor, email string, e domain.Event) pt.Step {
		return pt.Step{PropertyID: pt.Acme, ActorID: actor, ActorEmail: email, Event: e}
	}
	return append(pt.Script(),
		/* 26 */ by(pt.Ann, pt.AnnEmail, domain.MemberInvited{Schema: 1, InvitationID: InvCatAgain, Email: pt.CatEmail,
			Role: domain.RoleAgent, InvitedBy: pt.Ann, ExpiresAt: pt.At(26).Add(pt.InviteTTL), TokenNonce: "nonce-again"}),
		/* 27 */ by(pt.Cat, pt.CatEmail, domain.InvitationAccepted{Schema: 1, InvitationID: InvCatAgain, AccountID: pt.Cat}),
		/* 28 */ by(pt.Cat, pt.CatEmail, domain.MemberJoined{Schema: 1, AccountID: pt.Cat, Email: pt.CatEmail,
			Role: domain.RoleAgent, InvitationID: InvCatAgain}),
		/* 29 */ by(pt.Ann, pt.AnnEmail, domain.MemberRoleChanged{Schema: 1, AccountID: pt.Cat, From: domain.RoleAgent, To: domain.RoleAdmin}),
		/* 30 */ by(pt.Ann, pt.AnnEmail, domain.MemberAccessDisabled{Schema: 1, AccountID: pt.Owner}),
	)
}

// asOfNow is the clock of the tests' History: a month after the script,
// so every scripted moment and every invitation's expiry is in the past.
var asOfNow = pt.T0.Add(30 * 24 * time.Hour)

func newHistory(events readmodels.StreamReader) *readmodels.History {
	return readmodels.NewHistory(readmodels.HistoryConfig{Events: events, Now: func() time.Time { return asOfNow }})
}

// member is a row of the members read model.
func member(acc, email string, role domain.Role, status domain.MemberStatus, owner bool, joined, updated int) readmodels.Member {
	return readmodels.Member{AccountID: acc, Email: email, Role: role, Status: status, Owner: owner,
		JoinedAt: pt.At(joined), UpdatedAt: pt.At(updated)}
}

const (
	admin    = domain.RoleAdmin
	agent    = domain.RoleAgent
	enabled  = domain.StatusEnabled
	disabled = domain.StatusDisabled
)

// acmeMembersAt are Acme's members at moments of asOfSteps, in page order.
// A nil list means the property did not exist yet.
var acmeMembersAt = []struct {
	name string
	at   time.Time
	want []readmodels.Member
}{
	{"a moment before the creation is before the property", pt.At(0).Add(-time.Nanosecond), nil},
	{"the instant of creation holds the property and no member yet", pt.At(0), []readmodels.Member{}},
	{"an event counts from its very instant", pt.At(1), []readmodels.Member{
		member(pt.Owner, pt.OwnerEmail, admin, enabled, true, 1, 1)}},
	{"between two events the earlier state holds: accepting is not joining", pt.At(4).Add(30 * time.Second), []readmodels.Member{
		member(pt.Owner, pt.OwnerEmail, admin, enabled, true, 1, 1)}},
	{"an invitee is a member from the instant it joins", pt.At(5), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, agent, enabled, false, 5, 5),
		member(pt.Owner, pt.OwnerEmail, admin, enabled, true, 1, 1)}},
	{"a role change shows from its instant", pt.At(7), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, admin, enabled, false, 5, 7),
		member(pt.Owner, pt.OwnerEmail, admin, enabled, true, 1, 1)}},
	{"a disabled member is listed, disabled", pt.At(8).Add(59 * time.Second), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, admin, disabled, false, 5, 8),
		member(pt.Owner, pt.OwnerEmail, admin, enabled, true, 1, 1)}},
	{"an enabled member is enabled again", pt.At(9), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, admin, enabled, false, 5, 9),
		member(pt.Owner, pt.OwnerEmail, admin, enabled, true, 1, 1)}},
	{"a member later removed was a member until then", pt.At(12), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, admin, enabled, false, 5, 9),
		member(pt.Cat, pt.CatEmail, agent, enabled, false, 12, 12),
		member(pt.Owner, pt.OwnerEmail, admin, enabled, true, 1, 1)}},
	{"a removed member is gone from the instant of removal", pt.At(13), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, admin, enabled, false, 5, 9),
		member(pt.Owner, pt.OwnerEmail, admin, enabled, true, 1, 1)}},
	{"a transfer moves the owner flag and touches both rows", pt.At(14), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, admin, enabled, true, 5, 14),
		member(pt.Owner, pt.OwnerEmail, admin, enabled, false, 1, 14)}},
	{"a member who left is gone", pt.At(20), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, admin, enabled, true, 5, 14),
		member(pt.Owner, pt.OwnerEmail, admin, enabled, false, 1, 14)}},
	{"a re-invited member comes back with a new join time", pt.At(28), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, admin, enabled, true, 5, 14),
		member(pt.Cat, pt.CatEmail, agent, enabled, false, 28, 28),
		member(pt.Owner, pt.OwnerEmail, admin, enabled, false, 1, 14)}},
	{"the last event is in the answer at its instant", pt.At(30), []readmodels.Member{
		member(pt.Ann, pt.AnnEmail, admin, enabled, true, 5, 14),
		member(pt.Cat, pt.CatEmail, admin, enabled, false, 28, 29),
		member(pt.Owner, pt.OwnerEmail, admin, disabled, false, 1, 30)}},
}

// checkMembersAt asks h for Acme's members at each moment of acmeMembersAt.
func checkMembersAt(t *testing.T, h *readmodels.History) {
	t.Helper()
	for _, tt := range acmeMembersAt {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Members(context.Background(), pt.Acme, tt.at, readmodels.MemberFilter{})
			if tt.want == nil {
				wantError(t, err, domain.KindNotFound, domain.CodePropertyNotFound, pt.Acme)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := readmodels.MemberPageAsOf{AsOf: tt.at, MemberPage: readmodels.MemberPage{Members: tt.want}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Members at %s (-want +got):\n%s", tt.at.Format(time.RFC3339Nano), diff)
			}
		})
	}
}

func TestHistoryMembersAtMoments(t *testing.T) {
	t.Parallel()
	store := memory.New()
	pt.NewHistory(t, store).Add(asOfSteps()...)
	checkMembersAt(t, newHistory(store))
}

// TestHistoryOnThePostgreSQLEventStore: the answers are the events', not
// the adapter's: the same moments read the same from PostgreSQL.
func TestHistoryOnThePostgreSQLEventStore(t *testing.T) {
	t.Parallel()
	store := postgres.New(pgtest.NewPool(t))
	pt.NewHistory(t, store).Add(asOfSteps()...)
	checkMembersAt(t, newHistory(store))
}

func TestHistoryAccessAtMoments(t *testing.T) {
	t.Parallel()
	store := memory.New()
	pt.NewHistory(t, store).Add(asOfSteps()...)
	h := newHistory(store)
	agentPerms := domain.Permissions(agent, false, enabled)
	adminPerms := domain.Permissions(admin, false, enabled)
	ownerPerms := domain.Permissions(admin, true, enabled)
	tests := []struct {
		name string
		acc  string
		at   time.Time
		want readmodels.Access
		code string
	}{
		{"an agent had an agent's permissions", pt.Ann, pt.At(6), readmodels.Access{Role: agent, Status: enabled,
			Permissions: agentPerms, UpdatedAt: pt.At(5)}, ""},
		{"after the role change, an admin's", pt.Ann, pt.At(7), readmodels.Access{Role: admin, Status: enabled,
			Permissions: adminPerms, UpdatedAt: pt.At(7)}, ""},
		{"a disabled member had none", pt.Ann, pt.At(8), readmodels.Access{Role: admin, Status: disabled,
			Permissions: []domain.Permission{}, UpdatedAt: pt.At(8)}, ""},
		{"the new owner may transfer ownership from the transfer on", pt.Ann, pt.At(14), readmodels.Access{Role: admin,
			Status: enabled, Owner: true, Permissions: ownerPerms, UpdatedAt: pt.At(14)}, ""},
		{"the old owner may not", pt.Owner, pt.At(14), readmodels.Access{Role: admin, Status: enabled,
			Permissions: adminPerms, UpdatedAt: pt.At(14)}, ""},
		{"the owner before its own join was no member", pt.Owner, pt.At(0), readmodels.Access{}, domain.CodeMemberNotFound},
		{"a removed member was no member", pt.Cat, pt.At(13), readmodels.Access{}, domain.CodeMemberNotFound},
		{"an account of another property was no member", pt.Other, pt.At(30), readmodels.Access{}, domain.CodeMemberNotFound},
		{"before the property there is no property", pt.Ann, pt.T0.Add(-time.Hour), readmodels.Access{}, domain.CodePropertyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Access(context.Background(), pt.Acme, tt.acc, tt.at)
			if tt.code != "" {
				wantError(t, err, domain.KindNotFound, tt.code, pt.Acme)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.PropertyID, tt.want.AccountID = pt.Acme, tt.acc
			if diff := cmp.Diff(readmodels.AccessAsOf{AsOf: tt.at, Access: tt.want}, got); diff != "" {
				t.Errorf("Access (-want +got):\n%s", diff)
			}
		})
	}
}

// memberPages walks every page of f, by History at now or by the read
// models, and returns each page with its cursor.
func memberPages(t *testing.T, pid string, f readmodels.MemberFilter,
	page func(readmodels.MemberFilter) (readmodels.MemberPage, error)) []readmodels.MemberPage {
	t.Helper()
	var out []readmodels.MemberPage
	for {
		p, err := page(f)
		if err != nil {
			t.Fatalf("%s %+v: %v", pid, f, err)
		}
		out = append(out, p)
		if p.NextCursor == "" || len(out) > 100 {
			return out
		}
		f.Cursor = p.NextCursor
	}
}

// TestHistoryNowIsWhatTheReadModelsSay: asked of the present, History gives
// the read models' answers exactly: every filter, every page and cursor,
// every account's access and the property itself.
func TestHistoryNowIsWhatTheReadModelsSay(t *testing.T) {
	t.Parallel()
	crowdEvents, _ := crowdSteps(len(asOfSteps()), 30)
	f := newFixture(t, append(asOfSteps(), crowdEvents...)...)
	h := newHistory(f.store)
	ctx := context.Background()

	filters := []readmodels.MemberFilter{
		{}, {Role: "ADMIN"}, {Status: " disabled "}, {Query: "Al_"}, {Query: "a"}, {Query: "nobody"},
		{Limit: 1}, {Limit: 7}, {Role: "agent", Status: "enabled", Limit: 4}, {Query: "al", Limit: 2},
	}
	for _, pid := range []string{pt.Acme, pt.Beta, crowd} {
		for _, flt := range filters {
			t.Run(fmt.Sprintf("members of %s with %+v", pid, flt), func(t *testing.T) {
				live := memberPages(t, pid, flt, func(f2 readmodels.MemberFilter) (readmodels.MemberPage, error) {
					return f.rm.Members(ctx, pid, f2)
				})
				past := memberPages(t, pid, flt, func(f2 readmodels.MemberFilter) (readmodels.MemberPage, error) {
					p, err := h.Members(ctx, pid, asOfNow, f2)
					return p.MemberPage, err
				})
				if diff := cmp.Diff(live, past); diff != "" {
					t.Errorf("pages (-read models +history):\n%s", diff)
				}
			})
		}
	}
	for _, acc := range []string{pt.Ann, pt.Cat, pt.Owner, pt.Fay, pt.Other} {
		t.Run("access of "+acc, func(t *testing.T) {
			live, liveErr := f.rm.Access(ctx, pt.Acme, acc)
			past, pastErr := h.Access(ctx, pt.Acme, acc, asOfNow)
			if domain.CodeOf(liveErr) != domain.CodeOf(pastErr) || (liveErr == nil) != (pastErr == nil) {
				t.Fatalf("errors: read models %v, history %v", liveErr, pastErr)
			}
			if diff := cmp.Diff(live, past.Access); diff != "" {
				t.Errorf("access (-read models +history):\n%s", diff)
			}
		})
	}
	for _, pid := range []string{pt.Acme, pt.Beta, crowd} {
		t.Run("property "+pid, func(t *testing.T) {
			live, err := f.rm.Property(ctx, pid)
			if err != nil {
				t.Fatal(err)
			}
			past, err := h.Snapshot(ctx, pid, asOfNow)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(live, past.Property); diff != "" {
				t.Errorf("property (-read models +history):\n%s", diff)
			}
			all := memberPages(t, pid, readmodels.MemberFilter{Limit: readmodels.MaxMemberLimit},
				func(f2 readmodels.MemberFilter) (readmodels.MemberPage, error) { return f.rm.Members(ctx, pid, f2) })
			if diff := cmp.Diff(all[0].Members, past.Members); diff != "" {
				t.Errorf("snapshot members (-read models +history):\n%s", diff)
			}
		})
	}
}

// TestHistoryFoldsAStreamLongerThanAPage: the stream is read a page at a
// time, and every page counts.
func TestHistoryFoldsAStreamLongerThanAPage(t *testing.T) {
	t.Parallel()
	steps, want := crowdSteps(0, 1500) // about 1,800 events
	store := memory.New()
	pt.NewHistory(t, store).Add(steps...)
	got := memberPages(t, crowd, readmodels.MemberFilter{Limit: readmodels.MaxMemberLimit},
		func(f readmodels.MemberFilter) (readmodels.MemberPage, error) {
			p, err := newHistory(store).Members(context.Background(), crowd, pt.At(len(steps)-1), f)
			return p.MemberPage, err
		})
	var members []readmodels.Member
	for _, p := range got {
		members = append(members, p.Members...)
	}
	if diff := cmp.Diff(want, members); diff != "" {
		t.Errorf("members of a %d-event stream (-want +got):\n%s", len(steps), diff)
	}
}

func TestSnapshotAtAMoment(t *testing.T) {
	t.Parallel()
	store := memory.New()
	pt.NewHistory(t, store).Add(asOfSteps()...)
	got, err := newHistory(store).Snapshot(context.Background(), pt.Acme, pt.At(15))
	if err != nil {
		t.Fatal(err)
	}
	want := readmodels.Snapshot{AsOf: pt.At(15),
		Property: readmodels.Property{ID: pt.Acme, Name: "Acme", OwnerID: pt.Ann, Revision: 15, MemberCount: 2,
			PendingInvitationCount: 1, CreatedAt: pt.At(0), UpdatedAt: pt.At(15)},
		Members: []readmodels.Member{
			member(pt.Ann, pt.AnnEmail, admin, enabled, true, 5, 14),
			member(pt.Owner, pt.OwnerEmail, admin, enabled, false, 1, 14)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
}

func TestHistoryRefusesWhatItCannotAnswer(t *testing.T) {
	t.Parallel()
	store := memory.New()
	pt.NewHistory(t, store).Add(asOfSteps()...)
	h := newHistory(store)
	tests := []struct {
		name   string
		pid    string
		at     time.Time
		f      readmodels.MemberFilter
		kind   domain.Kind
		code   string
		naming string
	}{
		{"a moment after now is refused, by name", pt.Acme, asOfNow.Add(time.Nanosecond), readmodels.MemberFilter{},
			domain.KindInvalid, domain.CodeInvalidQuery, "as_of"},
		{"an unknown role is refused", pt.Acme, pt.At(5), readmodels.MemberFilter{Role: "owner"},
			domain.KindInvalid, domain.CodeInvalidRequest, "owner"},
		{"an unknown status is refused", pt.Acme, pt.At(5), readmodels.MemberFilter{Status: "gone"},
			domain.KindInvalid, domain.CodeInvalidRequest, "gone"},
		{"a cursor the API did not give out is refused", pt.Acme, pt.At(5), readmodels.MemberFilter{Cursor: "not-a-cursor"},
			domain.KindInvalid, domain.CodeInvalidRequest, "not-a-cursor"},
		{"a negative limit is refused", pt.Acme, pt.At(5), readmodels.MemberFilter{Limit: -1},
			domain.KindInvalid, domain.CodeInvalidRequest, "-1"},
		{"a limit over the maximum is refused", pt.Acme, pt.At(5), readmodels.MemberFilter{Limit: readmodels.MaxMemberLimit + 1},
			domain.KindInvalid, domain.CodeInvalidRequest, "201"},
		{"a bad filter is refused before the property is looked for", "p-none", pt.At(5), readmodels.MemberFilter{Role: "x"},
			domain.KindInvalid, domain.CodeInvalidRequest, `"x"`},
		{"a property that never existed is not found", "p-none", pt.At(5), readmodels.MemberFilter{},
			domain.KindNotFound, domain.CodePropertyNotFound, "p-none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := h.Members(context.Background(), tt.pid, tt.at, tt.f)
			wantError(t, err, tt.kind, tt.code, tt.naming)
			if page.Members != nil {
				t.Errorf("members %v next to the error, want none", page.Members)
			}
		})
	}
	t.Run("every question refuses a moment in the future", func(t *testing.T) {
		future := asOfNow.Add(time.Second)
		_, err := h.Access(context.Background(), pt.Acme, pt.Ann, future)
		wantError(t, err, domain.KindInvalid, domain.CodeInvalidQuery, "as_of")
		_, err = h.Snapshot(context.Background(), pt.Acme, future)
		wantError(t, err, domain.KindInvalid, domain.CodeInvalidQuery, "as_of")
		_, err = h.Review(context.Background(), pt.Acme, future)
		wantError(t, err, domain.KindInvalid, domain.CodeInvalidQuery, "as_of")
	})
}

func TestParseAsOf(t *testing.T) {
	t.Parallel()
	good := []struct {
		raw  string
		want time.Time
	}{
		{"2026-03-02T09:00:00Z", pt.T0},
		{"2026-03-02T10:00:00+01:00", pt.T0},
		{" 2026-03-02T09:00:00Z ", pt.T0},
		{"2026-03-02T09:00:00.000001Z", pt.T0.Add(time.Microsecond)},
	}
	for _, tt := range good {
		t.Run("reads "+tt.raw, func(t *testing.T) {
			got, err := readmodels.ParseAsOf(tt.raw)
			if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseAsOf(%q) = %v, %v; want %v in UTC", tt.raw, got, err, tt.want)
			}
		})
	}
	for _, raw := range []string{"", "yesterday", "2026-03-02", "2026-03-02 09:00:00Z", "1772442000", "2026-13-02T09:00:00Z"} {
		t.Run(fmt.Sprintf("refuses %q", raw), func(t *testing.T) {
			_, err := readmodels.ParseAsOf(raw)
			wantError(t, err, domain.KindInvalid, domain.CodeInvalidQuery, "as_of")
			var de *domain.Error
			if !errors.As(err, &de) || len(de.Problems) != 1 || de.Problems[0].Field != "as_of" || de.Problems[0].Value != raw {
				t.Errorf("problems %+v, want one naming as_of %q", de, raw)
			}
		})
	}
}

// unsealOpener opens values stored as "sealed:" and a plaintext, as a
// privacy vault opens its sealed fields, and fails for a stream holding
// "broken", as a vault does whose key is unavailable.
type unsealOpener struct{ calls int }

func (o *unsealOpener) Open(_ context.Context, recs []eventstore.RecordedEvent) error {
	o.calls++
	for i := range recs {
		if bytes.Contains(recs[i].Data, []byte("broken")) {
			return errors.New("key for this property is gone")
		}
		recs[i].Data = bytes.ReplaceAll(recs[i].Data, []byte("sealed:"), nil)
	}
	return nil
}

func TestHistoryOpensSealedFieldsBeforeFolding(t *testing.T) {
	t.Parallel()
	store := memory.New()
	pt.NewHistory(t, store).Add(
		pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, Event: domain.PropertyCreated{Schema: 1, PropertyID: pt.Acme, Name: "Acme", OwnerID: pt.Owner}},
		pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, Event: domain.MemberJoined{Schema: 1, AccountID: pt.Owner,
			Email: "sealed:" + pt.OwnerEmail, Role: admin}},
		pt.Step{PropertyID: pt.Beta, ActorID: pt.Other, Event: domain.PropertyCreated{Schema: 1, PropertyID: pt.Beta, Name: "broken", OwnerID: pt.Other}},
	)
	opener := &unsealOpener{}
	h := readmodels.NewHistory(readmodels.HistoryConfig{Events: store, Opener: opener, Now: func() time.Time { return asOfNow }})
	page, err := h.Members(context.Background(), pt.Acme, pt.At(1), readmodels.MemberFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Members) != 1 || page.Members[0].Email != pt.OwnerEmail || opener.calls != 1 {
		t.Errorf("members %+v after %d opens, want the owner's email opened once", page.Members, opener.calls)
	}
	_, err = h.Members(context.Background(), pt.Beta, pt.At(2), readmodels.MemberFilter{})
	if err == nil || !strings.Contains(err.Error(), "key for this property is gone") || domain.KindOf(err) != domain.KindInternal {
		t.Errorf("error %v, want the opener's failure as an internal error", err)
	}
}

// BenchmarkHistoryMembers folds a stream of b.N-independent size: a
// property with 5,000 members, every fifth disabled (about 6,000 events),
// and answers the first page of its members at the last moment.
func BenchmarkHistoryMembers(b *testing.B) {
	store := memory.New()
	steps, _ := crowdSteps(0, 5000)
	pt.NewHistory(b, store).Add(steps...)
	h := readmodels.NewHistory(readmodels.HistoryConfig{Events: store})
	at := pt.At(len(steps))
	for b.Loop() {
		if _, err := h.Members(context.Background(), crowd, at, readmodels.MemberFilter{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(steps)), "events")
}
