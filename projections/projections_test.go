package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// equalTimes compares instants, whatever location PostgreSQL gave them.
var equalTimes = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// project runs every projection over steps in a fresh database and returns
// it once they have all caught up.
func project(t *testing.T, steps []pt.Step) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.NewPool(t)
	store := memory.New()
	last := pt.NewHistory(t, store).Add(steps...)
	pt.Start(t, pool, store, zerolog.Nop(), projections.All()...)
	pt.Wait(t, pool, last, pt.Names(projections.All()...)...)
	return pool
}

// rows reads every row of query into T, field by field in column order.
func rows[T any](t testing.TB, pool *pgxpool.Pool, query string) []T {
	t.Helper()
	r, err := pool.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	out, err := pgx.CollectRows(r, pgx.RowToStructByPos[T])
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

type propertyRow struct {
	ID, Name, OwnerID    string
	Revision             int64
	Members, Pending     int
	CreatedAt, UpdatedAt time.Time
}

func TestPropertiesProjection(t *testing.T) {
	t.Parallel()
	acme := func(rev int64, owner string, members, pending int, updated int) propertyRow {
		return propertyRow{pt.Acme, "Acme", owner, rev, members, pending, pt.At(0), pt.At(updated)}
	}
	tests := []struct {
		name  string
		steps int
		want  []propertyRow
	}{
		{"creation sets name, owner and revision 0 with nothing counted", 1,
			[]propertyRow{acme(0, pt.Owner, 0, 0, 0)}},
		{"the owner joining counts one member", 2,
			[]propertyRow{acme(1, pt.Owner, 1, 0, 1)}},
		{"each new invitation counts as pending", 4,
			[]propertyRow{acme(3, pt.Owner, 1, 2, 3)}},
		{"accepting ends pending and the join counts a member; revoking ends pending", 7,
			[]propertyRow{acme(6, pt.Owner, 2, 0, 6)}},
		{"role and access changes move only the revision", 10,
			[]propertyRow{acme(9, pt.Owner, 2, 0, 9)}},
		{"a removal uncounts the member", 14,
			[]propertyRow{acme(13, pt.Owner, 2, 0, 13)}},
		{"a transfer moves the owner", 15,
			[]propertyRow{acme(14, pt.Ann, 2, 0, 14)}},
		{"a resend keeps one pending invitation", 17,
			[]propertyRow{acme(16, pt.Ann, 2, 1, 16)}},
		{"a member leaving uncounts it; each property counts apart", len(pt.Script()),
			[]propertyRow{
				acme(20, pt.Ann, 2, 1, 20),
				{pt.Beta, "Beta", pt.Other, 4, 1, 1, pt.At(21), pt.At(25)},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := project(t, pt.Script()[:tt.steps])
			got := rows[propertyRow](t, pool, `SELECT property_id, name, owner_id, revision, member_count,
				pending_invitation_count, created_at, updated_at FROM rm_properties ORDER BY property_id`)
			if diff := cmp.Diff(tt.want, got, equalTimes); diff != "" {
				t.Errorf("rm_properties (-want +got):\n%s", diff)
			}
		})
	}
}

type memberRow struct {
	PropertyID, AccountID, Email, Role, Status string
	Owner                                      bool
	JoinedAt, UpdatedAt                        time.Time
}

func TestMembersProjection(t *testing.T) {
	t.Parallel()
	owner := memberRow{pt.Acme, pt.Owner, pt.OwnerEmail, "admin", "enabled", true, pt.At(1), pt.At(1)}
	ann := memberRow{pt.Acme, pt.Ann, pt.AnnEmail, "agent", "enabled", false, pt.At(5), pt.At(5)}
	with := func(m memberRow, f func(*memberRow)) memberRow { f(&m); return m }
	tests := []struct {
		name  string
		steps int
		want  []memberRow
	}{
		{"the creator joins as the enabled owner", 2, []memberRow{owner}},
		{"an invitee who accepts joins with the invited role", 6, []memberRow{ann, owner}},
		{"a role change sets the role", 8,
			[]memberRow{with(ann, func(m *memberRow) { m.Role, m.UpdatedAt = "admin", pt.At(7) }), owner}},
		{"disabling sets the status", 9,
			[]memberRow{with(ann, func(m *memberRow) { m.Role, m.Status, m.UpdatedAt = "admin", "disabled", pt.At(8) }), owner}},
		{"enabling restores the status", 10,
			[]memberRow{with(ann, func(m *memberRow) { m.Role, m.UpdatedAt = "admin", pt.At(9) }), owner}},
		{"a joined member is listed until removed", 13,
			[]memberRow{
				with(ann, func(m *memberRow) { m.Role, m.UpdatedAt = "admin", pt.At(9) }),
				{pt.Acme, pt.Cat, pt.CatEmail, "agent", "enabled", false, pt.At(12), pt.At(12)},
				owner,
			}},
		{"a removed member's row is deleted", 14,
			[]memberRow{with(ann, func(m *memberRow) { m.Role, m.UpdatedAt = "admin", pt.At(9) }), owner}},
		{"a transfer moves the owner flag", 15, []memberRow{
			with(ann, func(m *memberRow) { m.Role, m.Owner, m.UpdatedAt = "admin", true, pt.At(14) }),
			with(owner, func(m *memberRow) { m.Owner, m.UpdatedAt = false, pt.At(14) }),
		}},
		{"a member who leaves is deleted; each property has its own members", len(pt.Script()), []memberRow{
			with(ann, func(m *memberRow) { m.Role, m.Owner, m.UpdatedAt = "admin", true, pt.At(14) }),
			with(owner, func(m *memberRow) { m.Owner, m.UpdatedAt = false, pt.At(14) }),
			{pt.Beta, pt.Other, pt.OtherEmail, "admin", "enabled", true, pt.At(22), pt.At(22)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := project(t, pt.Script()[:tt.steps])
			if diff := cmp.Diff(tt.want, memberRows(t, pool), equalTimes); diff != "" {
				t.Errorf("rm_members (-want +got):\n%s", diff)
			}
		})
	}
}

func memberRows(t testing.TB, pool *pgxpool.Pool) []memberRow {
	return rows[memberRow](t, pool, `SELECT property_id, account_id, email, role, status, is_owner,
		joined_at, updated_at FROM rm_members ORDER BY property_id, email`)
}

type invitationRow struct {
	PropertyID, ID, Email, Role, Status, InvitedBy string
	CreatedAt, ExpiresAt, UpdatedAt                time.Time
}

func TestInvitationsProjection(t *testing.T) {
	t.Parallel()
	inv := func(pid string, i int, id, email, role, status, by string, updated int) invitationRow {
		return invitationRow{pid, id, email, role, status, by, pt.At(i), pt.At(i).Add(pt.InviteTTL), pt.At(updated)}
	}
	dee := inv(pt.Acme, 15, pt.InvDee, pt.DeeEmail, "agent", "pending", pt.Ann, 16)
	dee.ExpiresAt = pt.At(16).Add(2 * pt.InviteTTL)
	tests := []struct {
		name  string
		steps int
		want  []invitationRow
	}{
		{"an invitation is stored pending", 4, []invitationRow{
			inv(pt.Acme, 2, pt.InvAnn, pt.AnnEmail, "agent", "pending", pt.Owner, 2),
			inv(pt.Acme, 3, pt.InvBob, pt.BobEmail, "admin", "pending", pt.Owner, 3),
		}},
		{"accepting and revoking set the status", 7, []invitationRow{
			inv(pt.Acme, 2, pt.InvAnn, pt.AnnEmail, "agent", "accepted", pt.Owner, 4),
			inv(pt.Acme, 3, pt.InvBob, pt.BobEmail, "admin", "revoked", pt.Owner, 6),
		}},
		{"a resend moves the expiry and keeps it pending; declining sets the status", len(pt.Script()), []invitationRow{
			inv(pt.Acme, 2, pt.InvAnn, pt.AnnEmail, "agent", "accepted", pt.Owner, 4),
			inv(pt.Acme, 3, pt.InvBob, pt.BobEmail, "admin", "revoked", pt.Owner, 6),
			inv(pt.Acme, 10, pt.InvCat, pt.CatEmail, "agent", "accepted", pt.Owner, 11),
			dee,
			inv(pt.Acme, 17, pt.InvFay, pt.FayEmail, "agent", "accepted", pt.Ann, 18),
			inv(pt.Beta, 23, pt.InvAnnBeta, pt.AnnEmail, "agent", "pending", pt.Other, 23),
			inv(pt.Beta, 24, pt.InvEveBeta, pt.EveEmail, "agent", "declined", pt.Other, 25),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := project(t, pt.Script()[:tt.steps])
			got := rows[invitationRow](t, pool, `SELECT property_id, invitation_id, email, role, status,
				invited_by, created_at, expires_at, updated_at FROM rm_invitations ORDER BY property_id, created_at`)
			if diff := cmp.Diff(tt.want, got, equalTimes); diff != "" {
				t.Errorf("rm_invitations (-want +got):\n%s", diff)
			}
		})
	}
}

type myInvitationRow struct {
	Email, PropertyID, ID, PropertyName, Role, InvitedBy, InvitedByEmail string
	CreatedAt, ExpiresAt                                                 time.Time
}

func TestMyInvitationsProjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps int
		want  []myInvitationRow
	}{
		{"a pending invitation is listed under the invitee's email with the property name and inviter", 4, []myInvitationRow{
			{pt.AnnEmail, pt.Acme, pt.InvAnn, "Acme", "agent", pt.Owner, pt.OwnerEmail, pt.At(2), pt.At(2).Add(pt.InviteTTL)},
			{pt.BobEmail, pt.Acme, pt.InvBob, "Acme", "admin", pt.Owner, pt.OwnerEmail, pt.At(3), pt.At(3).Add(pt.InviteTTL)},
		}},
		{"accepting or revoking removes it", 7, []myInvitationRow{}},
		{"a resend moves the expiry; declining removes it", len(pt.Script()), []myInvitationRow{
			{pt.AnnEmail, pt.Beta, pt.InvAnnBeta, "Beta", "agent", pt.Other, pt.OtherEmail, pt.At(23), pt.At(23).Add(pt.InviteTTL)},
			{pt.DeeEmail, pt.Acme, pt.InvDee, "Acme", "agent", pt.Ann, pt.AnnEmail, pt.At(15), pt.At(16).Add(2 * pt.InviteTTL)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := project(t, pt.Script()[:tt.steps])
			got := rows[myInvitationRow](t, pool, `SELECT email, property_id, invitation_id, property_name, role,
				invited_by, invited_by_email, created_at, expires_at FROM rm_my_invitations ORDER BY email, created_at`)
			if diff := cmp.Diff(tt.want, got, equalTimes); diff != "" {
				t.Errorf("rm_my_invitations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadModelsHoldNoTokenNonce checks every read-model table, row by row,
// for the nonces the script's invitations carry.
func TestReadModelsHoldNoTokenNonce(t *testing.T) {
	t.Parallel()
	pool := project(t, pt.Script())
	tables := rows[struct{ Name string }](t, pool, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = 'public' AND table_name LIKE 'rm\_%'`)
	if len(tables) == 0 {
		t.Fatal("no rm_ tables found")
	}
	for _, tb := range tables {
		var n int
		q := `SELECT count(*) FROM ` + pgx.Identifier{tb.Name}.Sanitize() + ` t WHERE row_to_json(t)::text LIKE '%nonce%'`
		if err := pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n != 0 {
			t.Errorf("table %s has %d rows holding a token nonce", tb.Name, n)
		}
	}
}
