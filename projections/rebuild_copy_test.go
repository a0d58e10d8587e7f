package projections_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// A rebuild writes the notifications by COPY, where none can be there yet.
// An invitee's email PostgreSQL text cannot hold (U+0000) fails that COPY
// as it fails the live insert: the rebuild gives up the notifications (and
// every other projection that keeps the email) at that event, leaves their
// tables as they were, and rebuilds the others.
func TestRebuildGivesUpAProjectionWhoseCopyIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := postgres.New(pool)
	h := pt.NewHistory(t, store)
	h.Add(pt.Script()...)
	poisonAt := h.Add(pt.Step{PropertyID: pt.Acme, ActorID: pt.Ann, ActorEmail: pt.AnnEmail,
		Event: domain.MemberInvited{Schema: 1, InvitationID: "inv-nul", Email: "nul\u0000@example.com", Role: domain.RoleAgent,
			InvitedBy: pt.Ann, ExpiresAt: pt.At(40).Add(pt.InviteTTL), TokenNonce: "nonce-nul"}})
	last := h.Add(pt.Step{PropertyID: pt.Beta, ActorID: pt.Other, ActorEmail: pt.OtherEmail,
		Event: domain.MemberRoleChanged{Schema: 1, AccountID: pt.Other, From: domain.RoleAdmin, To: domain.RoleAdmin}})
	poison := eventAt(t, store, poisonAt)
	startQuick(t, pool, store, projections.All()...)
	waitStoppedOrAt(t, pool, last)
	if _, ok := mustStopped(t, pool)[projections.NotificationsName]; !ok {
		t.Fatalf("the live notifications did not stop at the event: the test needs one they cannot apply")
	}

	rows, oids := tableRows(t, pool), tableOIDs(t, pool)
	_, err := projections.RebuildAll(ctx, pool, store, projections.All(), projections.RebuildConfig{BatchSize: 7})
	var partial *projections.PartialRebuildError
	if !errors.As(err, &partial) || !partial.GaveUp(projections.NotificationsName) {
		t.Fatalf("RebuildAll = %v, want the notifications given up", err)
	}
	var gaveUp []string
	for _, f := range partial.Failed {
		gaveUp = append(gaveUp, f.Projection)
		if f.EventID != poison.ID || !f.Poison() {
			t.Errorf("%s given up at %s: %v", f.Projection, f.EventID, f.Err)
		}
		if f.Projection == projections.NotificationsName && !strings.Contains(f.Err.Error(), "copy into rm_notifications") {
			t.Errorf("notifications given up for %v, want their COPY refused", f.Err)
		}
	}
	after := tableOIDs(t, pool)
	for _, p := range projections.All() {
		for _, table := range p.Tables {
			if kept := after[table] == oids[table]; kept != slices.Contains(gaveUp, p.Name) {
				t.Errorf("table %s of %s kept %v", table, p.Name, kept)
			}
		}
	}
	if diff := cmp.Diff(rows, tableRows(t, pool)); diff != "" {
		t.Errorf("rows (-before +after):\n%s", diff)
	}
	if len(gaveUp) == len(projections.All()) {
		t.Errorf("every projection given up: %v", gaveUp)
	}
}

// fillfactors returns the fillfactor set on each table named tables in the
// schemas whose names match like ("" for none).
func fillfactors(t testing.TB, pool *pgxpool.Pool, like string, tables []string) map[string]string {
	t.Helper()
	r, err := pool.Query(context.Background(), `SELECT c.relname::text,
			coalesce((SELECT o FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname LIKE $1 AND c.relkind = 'r' AND c.relname = ANY($2)`, like, tables)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var name, ff string
	if _, err := pgx.ForEachRow(r, []any{&name, &ff}, func() error { out[name] = ff; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// The replay fills the copies whose rows it updates with room for the new
// versions, the append-only ones (the audit trail, its subject index, the
// notifications) packed, and the tables switched in take the default again.
func TestRebuildLeavesRoomWhileItReplaysOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, 3)
	tables := allTables()
	want := map[string]string{}
	for _, table := range tables {
		want[table] = "fillfactor=60"
	}
	for _, table := range []string{"rm_audit", "rm_audit_subjects", "rm_notifications"} {
		want[table] = ""
	}
	var during map[string]string
	cfg := projections.RebuildConfig{BatchSize: 20, Progress: func(int64, int64) {
		if during == nil {
			during = fillfactors(t, w.pool, `rebuild\_%`, tables)
		}
	}}
	if _, err := projections.RebuildAll(ctx, w.pool, w.store, projections.All(), cfg); err != nil {
		t.Fatalf("RebuildAll: %v", err)
	}
	if diff := cmp.Diff(want, during); diff != "" {
		t.Errorf("fillfactors of the copies during the replay (-want +got):\n%s", diff)
	}
	var live string
	if err := w.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	for table, ff := range fillfactors(t, w.pool, live, tables) {
		if ff != "" {
			t.Errorf("%s switched in with %s, want the default", table, ff)
		}
	}
}
