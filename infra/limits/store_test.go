package limits_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/limits"
	"github.com/rosterhq/roster/infra/pgtest"
)

func counter(t *testing.T, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT name || '/' || key, count FROM limit_counters`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

func newStore(t *testing.T, l limits.InviteLimits) (*limits.Store, *pgxpool.Pool, *clock) {
	t.Helper()
	pool := pgtest.NewPool(t)
	c := &clock{t: time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)}
	m, err := limits.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return limits.NewStore(limits.StoreConfig{Pool: pool, Limits: l, Now: c.Now, Metrics: m}), pool, c
}

func TestInvitationsPerActorHourReachedAndReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool, c := newStore(t, limits.InviteLimits{PerActorHour: 5})
	if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", emails("a", 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveInvitations(ctx, "", "p2", "alice", emails("b", 2)); err != nil {
		t.Fatal(err)
	}
	before := counter(t, pool)
	_, err := s.ReserveInvitations(ctx, "", "p3", "alice", emails("c", 1))
	r := refusedBy(t, err, limits.InvitationsPerActor, limits.CodeInvitationRateLimited)
	if r.Quota != 5 || r.Remaining != 0 || r.Window != time.Hour || r.Reset != 30*time.Minute {
		t.Errorf("refusal = %+v, want quota 5, none left, reset in 30m", r)
	}
	if policy, cur := r.RateLimitFields(); policy != `"invitations_per_actor";q=5;w=3600` || cur != `"invitations_per_actor";r=0;t=1800` {
		t.Errorf("fields = %s | %s", policy, cur)
	}
	if after := counter(t, pool); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refusal changed the counters: %v, then %v", before, after)
	}
	// Another account is not held back.
	if _, err := s.ReserveInvitations(ctx, "", "p3", "bob", emails("c", 1)); err != nil {
		t.Fatal(err)
	}
	c.Add(30 * time.Minute) // the next hour
	if _, err := s.ReserveInvitations(ctx, "", "p3", "alice", emails("d", 5)); err != nil {
		t.Fatalf("after the hour: %v", err)
	}
}

func TestInvitationsPerPropertyDayCountBulkRowByRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := newStore(t, limits.InviteLimits{PerPropertyDay: 10})
	if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", emails("a", 8)); err != nil {
		t.Fatal(err)
	}
	// Three rows would make 11: the bulk is refused whole...
	_, err := s.ReserveInvitations(ctx, "", "p1", "bob", emails("b", 3))
	r := refusedBy(t, err, limits.InvitationsPerProperty, limits.CodePropertyInvitationLimit)
	if r.Remaining != 2 || r.Reset != 13*time.Hour+30*time.Minute {
		t.Errorf("refusal = %+v, want 2 left, reset at midnight UTC", r)
	}
	// ...and took nothing from bob's hour or the new emails: two still fit.
	if _, err := s.ReserveInvitations(ctx, "", "p1", "bob", emails("b", 2)); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReserveInvitations(ctx, "", "p1", "carol", emails("c", 1))
	refusedBy(t, err, limits.InvitationsPerProperty, limits.CodePropertyInvitationLimit)
	// A single request larger than the whole limit is refused too.
	_, err = s.ReserveInvitations(ctx, "", "p2", "carol", emails("c", 11))
	refusedBy(t, err, limits.InvitationsPerProperty, limits.CodePropertyInvitationLimit)
	c.Add(14 * time.Hour) // the next UTC day
	if _, err := s.ReserveInvitations(ctx, "", "p1", "carol", emails("c", 10)); err != nil {
		t.Fatalf("the next day: %v", err)
	}
}

func TestDistinctNewEmailsPerPropertyDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := newStore(t, limits.InviteLimits{NewEmailsPerPropertyDay: 3})
	if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", []string{"a@example.com", "B@Example.com", "b@example.com"}); err != nil {
		t.Fatal(err) // two addresses: b@ twice in two spellings
	}
	// The same addresses again count no more...
	for range 3 {
		if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", []string{"a@example.com", "b@EXAMPLE.com"}); err != nil {
			t.Fatal(err)
		}
	}
	// ...one more fits, the one after does not.
	if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", []string{"c@example.com"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.ReserveInvitations(ctx, "", "p1", "alice", []string{"a@example.com", "d@example.com"})
	refusedBy(t, err, limits.NewEmailsPerProperty, limits.CodeNewEmailLimit)
	// Refused whole: a@ was not counted again, d@ not recorded.
	_, err = s.ReserveInvitations(ctx, "", "p1", "alice", []string{"d@example.com"})
	refusedBy(t, err, limits.NewEmailsPerProperty, limits.CodeNewEmailLimit)
	// Another property has its own.
	if _, err := s.ReserveInvitations(ctx, "", "p2", "alice", []string{"d@example.com"}); err != nil {
		t.Fatal(err)
	}
	c.Add(14 * time.Hour)
	if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", emails("n", 3)); err != nil {
		t.Fatalf("the next day: %v", err)
	}
}

func TestAReleasedReservationGivesItsQuotaBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := newStore(t, limits.InviteLimits{PerActorHour: 3, PerPropertyDay: 3, NewEmailsPerPropertyDay: 3})
	res, err := s.ReserveInvitations(ctx, "", "p1", "alice", emails("a", 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", emails("b", 1)); err == nil {
		t.Fatal("a fourth invitation was allowed")
	}
	if err := res.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Every limit has its three again, new emails included.
	if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", emails("b", 3)); err != nil {
		t.Fatalf("after the release: %v", err)
	}
}

func TestAnOverrideRaisesAPropertysLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool, _ := newStore(t, limits.InviteLimits{PerActorHour: 1000, PerPropertyDay: 2, NewEmailsPerPropertyDay: 2})
	if _, err := pool.Exec(ctx, `INSERT INTO rm_properties (property_id, name, owner_id, revision, created_at, updated_at)
		VALUES ('p1', 'Acme', 'o', 1, now(), now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", emails("a", 3)); err == nil {
		t.Fatal("three invitations passed a limit of two")
	}
	five, eight := 5, 8
	if _, err := limits.SetOverride(ctx, pool, limits.OverrideRequest{PropertyID: "p1", InvitationsPerDay: &eight,
		NewEmailsPerDay: &five, Operator: "ops", Reason: "big launch, OPS-7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveInvitations(ctx, "", "p1", "alice", emails("a", 5)); err != nil {
		t.Fatalf("with the override: %v", err)
	}
	_, err := s.ReserveInvitations(ctx, "", "p1", "alice", emails("b", 1))
	refusedBy(t, err, limits.NewEmailsPerProperty, limits.CodeNewEmailLimit)
	// Setting one limit keeps the other; zero returns to the default.
	zero := 0
	o, err := limits.SetOverride(ctx, pool, limits.OverrideRequest{PropertyID: "p1", NewEmailsPerDay: &zero, Operator: "ops", Reason: "over"})
	if err != nil || o.InvitationsPerDay == nil || *o.InvitationsPerDay != 8 || o.NewEmailsPerDay != nil {
		t.Fatalf("override = %+v, %v; want 8 invitations and the default new emails", o, err)
	}
	var actions int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM ops_audit WHERE action = 'limits.set' AND target = 'p1' AND operator = 'ops'`).Scan(&actions); err != nil || actions != 2 {
		t.Errorf("ops_audit has %d limits.set rows (%v), want 2", actions, err)
	}
	all, err := limits.Overrides(ctx, pool, "")
	if err != nil || len(all) != 1 || all[0].Reason != "over" {
		t.Errorf("overrides = %+v, %v", all, err)
	}
}

func TestBadOverridesAreRefusedAndStoreNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO rm_properties (property_id, name, owner_id, revision, created_at, updated_at)
		VALUES ('p1', 'Acme', 'o', 1, now(), now())`); err != nil {
		t.Fatal(err)
	}
	n := func(v int) *int { return &v }
	for _, tt := range []struct {
		name string
		req  limits.OverrideRequest
		want string
	}{
		{"nothing to set", limits.OverrideRequest{PropertyID: "p1", Operator: "ops", Reason: "r"}, "nothing to set"},
		{"a negative limit", limits.OverrideRequest{PropertyID: "p1", InvitationsPerDay: n(-1), Operator: "ops", Reason: "r"}, "invitations per day -1 is not from 0"},
		{"a limit too large", limits.OverrideRequest{PropertyID: "p1", NewEmailsPerDay: n(limits.MaxOverride + 1), Operator: "ops", Reason: "r"}, "new emails per day 10000001 is not from 0"},
		{"no reason", limits.OverrideRequest{PropertyID: "p1", InvitationsPerDay: n(5), Operator: "ops", Reason: "  "}, "reason is blank"},
		{"a reason with a line break", limits.OverrideRequest{PropertyID: "p1", InvitationsPerDay: n(5), Operator: "ops", Reason: "a\nb"}, "reason holds a control"},
		{"a reason that is not UTF-8", limits.OverrideRequest{PropertyID: "p1", InvitationsPerDay: n(5), Operator: "ops", Reason: "a\xff"}, "reason is not UTF-8"},
		{"no operator", limits.OverrideRequest{PropertyID: "p1", InvitationsPerDay: n(5), Reason: "r"}, "operator is blank"},
		{"an unknown property", limits.OverrideRequest{PropertyID: "p9", InvitationsPerDay: n(5), Operator: "ops", Reason: "r"}, `no property "p9"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := limits.SetOverride(ctx, pool, tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM limit_overrides) + (SELECT count(*) FROM ops_audit)`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d rows stored (%v), want none", rows, err)
	}
}

func TestARetriedCommandIsCountedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _ := newStore(t, limits.InviteLimits{PerPropertyDay: 2})
	if _, err := s.ReserveInvitations(ctx, "cmd-1", "p1", "alice", emails("a", 2)); err != nil {
		t.Fatal(err)
	}
	// The property is at its limit, yet the retry of cmd-1 passes, counted
	// by its first attempt, and releasing it gives nothing back.
	again, err := s.ReserveInvitations(ctx, "cmd-1", "p1", "alice", emails("a", 2))
	if err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if err := again.Release(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReserveInvitations(ctx, "cmd-2", "p1", "alice", emails("b", 1))
	refusedBy(t, err, limits.InvitationsPerProperty, limits.CodePropertyInvitationLimit)
	// A released first attempt is counted afresh when retried.
	first, err := s.ReserveInvitations(ctx, "cmd-3", "p2", "alice", emails("c", 2))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveInvitations(ctx, "cmd-3", "p2", "alice", emails("c", 2)); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReserveInvitations(ctx, "cmd-3", "p2", "alice", emails("c", 2))
	if err != nil {
		t.Fatalf("a retry after it was counted again: %v", err)
	}
	_, err = s.ReserveInvitations(ctx, "cmd-4", "p2", "alice", emails("d", 1))
	refusedBy(t, err, limits.InvitationsPerProperty, limits.CodePropertyInvitationLimit)
}

// A refusal at any of the three limits leaves every counter, recorded
// address and command as it was, and its message gives the counts.
func TestARefusalAtAnyLimitChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		limits limits.InviteLimits
		code   string
		limit  limits.Name
		msg    string
	}{
		{"account's hour", limits.InviteLimits{PerActorHour: 4}, limits.CodeInvitationRateLimited, limits.InvitationsPerActor,
			"you sent 3 invitations this hour; 2 more would pass the limit of 4 an hour per account"},
		{"property's day", limits.InviteLimits{PerPropertyDay: 4}, limits.CodePropertyInvitationLimit, limits.InvitationsPerProperty,
			"this property sent 3 invitations today (UTC); 2 more would pass its limit of 4 a day"},
		{"new addresses", limits.InviteLimits{NewEmailsPerPropertyDay: 4}, limits.CodeNewEmailLimit, limits.NewEmailsPerProperty,
			"this property invited 3 new addresses today (UTC); 2 more would pass its limit of 4 a day"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, pool, _ := newStore(t, tt.limits)
			if _, err := s.ReserveInvitations(ctx, "cmd-1", "p1", "alice", emails("a", 3)); err != nil {
				t.Fatal(err)
			}
			before := counter(t, pool)
			// Two new addresses: each limit would count two more.
			_, err := s.ReserveInvitations(ctx, "cmd-2", "p1", "alice", []string{"b0@example.com", "b1@example.com"})
			r := refusedBy(t, err, tt.limit, tt.code)
			if !strings.HasPrefix(r.Error(), tt.msg) {
				t.Errorf("message = %q, want it to start %q", r.Error(), tt.msg)
			}
			if after := counter(t, pool); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("counters = %v after the refusal, want %v", after, before)
			}
			var addresses, commands int
			if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM limit_new_emails),
				(SELECT count(*) FROM limit_reservations WHERE command_id = 'cmd-2')`).Scan(&addresses, &commands); err != nil {
				t.Fatal(err)
			}
			if addresses != 3 || commands != 0 {
				t.Errorf("%d addresses and %d reservations of cmd-2 stored, want 3 and 0", addresses, commands)
			}
		})
	}
}
