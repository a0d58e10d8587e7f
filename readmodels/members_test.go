package readmodels_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

const crowd = "p-crowd"

// crowdSteps creates a property with an owner and n more members: every
// third an admin, every fifth disabled, with emails under four prefixes
// (one holding a LIKE wildcard). It returns the members the read model
// should hold, in page order, given that the steps start at step first.
func crowdSteps(first, n int) ([]pt.Step, []readmodels.Member) {
	step := func(e domain.Event) pt.Step {
		return pt.Step{PropertyID: crowd, ActorID: "acc-boss", ActorEmail: "boss@example.com", Event: e}
	}
	steps := []pt.Step{
		step(domain.PropertyCreated{Schema: 1, PropertyID: crowd, Name: "Crowd", OwnerID: "acc-boss"}),
		step(domain.MemberJoined{Schema: 1, AccountID: "acc-boss", Email: "boss@example.com", Role: domain.RoleAdmin}),
	}
	members := []readmodels.Member{{AccountID: "acc-boss", Email: "boss@example.com", Role: domain.RoleAdmin,
		Status: domain.StatusEnabled, Owner: true, JoinedAt: pt.At(first + 1), UpdatedAt: pt.At(first + 1)}}
	prefixes := []string{"amy.", "al_", "alx", "zed"}
	for k := range n {
		m := readmodels.Member{
			AccountID: fmt.Sprintf("acc-%02d", k),
			Email:     fmt.Sprintf("%s%02d@example.com", prefixes[k%4], k),
			Role:      domain.RoleAgent,
			Status:    domain.StatusEnabled,
		}
		if k%3 == 0 {
			m.Role = domain.RoleAdmin
		}
		steps = append(steps, step(domain.MemberJoined{Schema: 1, AccountID: m.AccountID, Email: m.Email, Role: m.Role}))
		m.JoinedAt, m.UpdatedAt = pt.At(first+len(steps)-1), pt.At(first+len(steps)-1)
		if k%5 == 0 {
			steps = append(steps, step(domain.MemberAccessDisabled{Schema: 1, AccountID: m.AccountID}))
			m.Status, m.UpdatedAt = domain.StatusDisabled, pt.At(first+len(steps)-1)
		}
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b readmodels.Member) int { return strings.Compare(a.Email, b.Email) })
	return steps, members
}

// keep returns the members for which ok holds.
func keep(ms []readmodels.Member, ok func(readmodels.Member) bool) []readmodels.Member {
	out := []readmodels.Member{}
	for _, m := range ms {
		if ok(m) {
			out = append(out, m)
		}
	}
	return out
}

// allPages walks every page of f and returns the members and page sizes.
func allPages(t *testing.T, rm *readmodels.Store, f readmodels.MemberFilter) ([]readmodels.Member, []int) {
	t.Helper()
	var (
		got   []readmodels.Member
		sizes []int
	)
	for {
		page, err := rm.Members(context.Background(), crowd, f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Members...)
		sizes = append(sizes, len(page.Members))
		if page.NextCursor == "" {
			return got, sizes
		}
		if len(sizes) > 1000 {
			t.Fatal("paging does not end")
		}
		f.Cursor = page.NextCursor
	}
}

func TestMembersFilters(t *testing.T) {
	t.Parallel()
	steps, all := crowdSteps(0, 60)
	f := newFixture(t, steps...)
	tests := []struct {
		name   string
		filter readmodels.MemberFilter
		want   []readmodels.Member
	}{
		{"no filter lists every member by email", readmodels.MemberFilter{}, all},
		{"role keeps members with that role", readmodels.MemberFilter{Role: "agent"},
			keep(all, func(m readmodels.Member) bool { return m.Role == domain.RoleAgent })},
		{"role is read without regard to case", readmodels.MemberFilter{Role: "ADMIN"},
			keep(all, func(m readmodels.Member) bool { return m.Role == domain.RoleAdmin })},
		{"status keeps members with that status", readmodels.MemberFilter{Status: "disabled"},
			keep(all, func(m readmodels.Member) bool { return m.Status == domain.StatusDisabled })},
		{"query keeps emails starting with it, ignoring case", readmodels.MemberFilter{Query: " AMY"},
			keep(all, func(m readmodels.Member) bool { return strings.HasPrefix(m.Email, "amy") })},
		{"a wildcard in the query is matched literally", readmodels.MemberFilter{Query: "al_"},
			keep(all, func(m readmodels.Member) bool { return strings.HasPrefix(m.Email, "al_") })},
		{"a query inside the email does not match", readmodels.MemberFilter{Query: "example"}, []readmodels.Member{}},
		{"filters combine", readmodels.MemberFilter{Role: "admin", Status: "enabled", Query: "al"},
			keep(all, func(m readmodels.Member) bool {
				return m.Role == domain.RoleAdmin && m.Status == domain.StatusEnabled && strings.HasPrefix(m.Email, "al")
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.filter.Limit = readmodels.MaxMemberLimit
			page, err := f.rm.Members(context.Background(), crowd, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(readmodels.MemberPage{Members: tt.want}, page); diff != "" {
				t.Errorf("Members (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMembersPaging(t *testing.T) {
	t.Parallel()
	steps, all := crowdSteps(0, 60) // 61 members with the owner
	f := newFixture(t, steps...)
	agents := keep(all, func(m readmodels.Member) bool { return m.Role == domain.RoleAgent })
	tests := []struct {
		name      string
		filter    readmodels.MemberFilter
		want      []readmodels.Member
		wantSizes []int
	}{
		{"pages of one walk every member once", readmodels.MemberFilter{Limit: 1}, all, repeat(1, 61)},
		{"pages of seven end with the remainder", readmodels.MemberFilter{Limit: 7}, all, append(repeat(7, 8), 5)},
		{"the default page holds fifty", readmodels.MemberFilter{}, all, []int{50, 11}},
		{"a page as large as the list has no next cursor", readmodels.MemberFilter{Limit: 61}, all, []int{61}},
		{"filtered pages walk the filtered members", readmodels.MemberFilter{Role: "agent", Limit: 9},
			agents, append(repeat(9, len(agents)/9), len(agents)%9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, sizes := allPages(t, f.rm, tt.filter)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("members over all pages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSizes, sizes); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
		})
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestMembersPagingIsKeyed shows that members joining or leaving between
// pages neither repeat nor hide the others, as offsets would.
func TestMembersPagingIsKeyed(t *testing.T) {
	t.Parallel()
	steps, all := crowdSteps(0, 20)
	f := newFixture(t, steps...)
	ctx := context.Background()
	first, err := f.rm.Members(ctx, crowd, readmodels.MemberFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	// One member before the cursor leaves; one joins before it and one after.
	step := func(e domain.Event) pt.Step { return pt.Step{PropertyID: crowd, ActorID: "acc-boss", Event: e} }
	f.add(t,
		step(domain.MemberLeft{Schema: 1, AccountID: first.Members[0].AccountID}),
		step(domain.MemberJoined{Schema: 1, AccountID: "acc-early", Email: "aaa@example.com", Role: domain.RoleAgent}),
		step(domain.MemberJoined{Schema: 1, AccountID: "acc-late", Email: "zzz@example.com", Role: domain.RoleAgent}))
	rest, _ := allPages(t, f.rm, readmodels.MemberFilter{Limit: 10, Cursor: first.NextCursor})

	var gotIDs, wantIDs []string
	for _, m := range append(first.Members, rest...) {
		gotIDs = append(gotIDs, m.AccountID)
	}
	for _, m := range all {
		wantIDs = append(wantIDs, m.AccountID)
	}
	wantIDs = append(wantIDs, "acc-late")
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("account IDs over the pages (-want +got):\n%s", diff)
	}
}

func TestMembersRejectsBadFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()[:2]...)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		filter readmodels.MemberFilter
		value  string
	}{
		{"owner is not a role", readmodels.MemberFilter{Role: "owner"}, "owner"},
		{"active is not a status", readmodels.MemberFilter{Status: "active"}, "active"},
		{"a cursor must be base64url", readmodels.MemberFilter{Cursor: "not a cursor!"}, "not a cursor!"},
		{"a cursor must hold JSON", readmodels.MemberFilter{Cursor: b64("[1]")}, b64("[1]")},
		{"a cursor must hold a key", readmodels.MemberFilter{Cursor: b64("{}")}, b64("{}")},
		{"a negative limit is refused", readmodels.MemberFilter{Limit: -1}, "-1"},
		{"a limit above the maximum is refused", readmodels.MemberFilter{Limit: readmodels.MaxMemberLimit + 1}, "201"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.rm.Members(context.Background(), pt.Acme, tt.filter)
			wantError(t, err, domain.KindInvalid, domain.CodeInvalidRequest, tt.value)
		})
	}
}
