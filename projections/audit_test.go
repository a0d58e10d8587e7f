package projections_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// projectStore runs the projections ps over what store holds, up to last,
// in a fresh database, as a rebuild of those projections would.
func projectStore(t *testing.T, store *memory.Store, last eventstore.Position, ps ...projections.Projection) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.NewPool(t)
	pt.Start(t, pool, store, zerolog.Nop(), ps...)
	pt.Wait(t, pool, last, pt.Names(ps...)...)
	return pool
}

type auditRow struct {
	PropertyID          string
	Revision            int64
	Type                string
	OccurredAt          time.Time
	ActorID, ActorEmail string
	Kind, ID, Email     string
	Field, From, To     string
}

func auditRows(t testing.TB, pool *pgxpool.Pool) []auditRow {
	return rows[auditRow](t, pool, `SELECT property_id, revision, event_type, occurred_at, actor_id, actor_email,
		subject_kind, subject_id, subject_email, change_field, before_value, after_value
		FROM rm_audit ORDER BY occurred_at, revision`)
}

// scriptAudit is the audit row of every step of pt.Script, in order.
func scriptAudit() []auditRow {
	const member, invitation, property = projections.SubjectMember, projections.SubjectInvitation, projections.SubjectProperty
	emails := map[string]string{pt.Owner: pt.OwnerEmail, pt.Ann: pt.AnnEmail, pt.Cat: pt.CatEmail,
		pt.Fay: pt.FayEmail, pt.Other: pt.OtherEmail, pt.Eve: pt.EveEmail}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	// Step i happens at At(i); Beta's stream starts at step 21.
	row := func(i int, typ, actor, kind, id, email, field, from, to string) auditRow {
		pid, rev := pt.Acme, i
		if i >= 21 {
			pid, rev = pt.Beta, i-21
		}
		return auditRow{pid, int64(rev), typ, pt.At(i), actor, emails[actor], kind, id, email, field, from, to}
	}
	return []auditRow{
		row(0, domain.TypePropertyCreated, pt.Owner, property, pt.Acme, "", "name", "", "Acme"),
		row(1, domain.TypeMemberJoined, pt.Owner, member, pt.Owner, pt.OwnerEmail, "role", "", "admin"),
		row(2, domain.TypeMemberInvited, pt.Owner, invitation, pt.InvAnn, pt.AnnEmail, "role", "", "agent"),
		row(3, domain.TypeMemberInvited, pt.Owner, invitation, pt.InvBob, pt.BobEmail, "role", "", "admin"),
		row(4, domain.TypeInvitationAccepted, pt.Ann, invitation, pt.InvAnn, pt.AnnEmail, "status", "pending", "accepted"),
		row(5, domain.TypeMemberJoined, pt.Ann, member, pt.Ann, pt.AnnEmail, "role", "", "agent"),
		row(6, domain.TypeInvitationRevoked, pt.Owner, invitation, pt.InvBob, pt.BobEmail, "status", "pending", "revoked"),
		row(7, domain.TypeMemberRoleChanged, pt.Owner, member, pt.Ann, pt.AnnEmail, "role", "agent", "admin"),
		row(8, domain.TypeMemberAccessDisabled, pt.Owner, member, pt.Ann, pt.AnnEmail, "status", "enabled", "disabled"),
		row(9, domain.TypeMemberAccessEnabled, pt.Owner, member, pt.Ann, pt.AnnEmail, "status", "disabled", "enabled"),
		row(10, domain.TypeMemberInvited, pt.Owner, invitation, pt.InvCat, pt.CatEmail, "role", "", "agent"),
		row(11, domain.TypeInvitationAccepted, pt.Cat, invitation, pt.InvCat, pt.CatEmail, "status", "pending", "accepted"),
		row(12, domain.TypeMemberJoined, pt.Cat, member, pt.Cat, pt.CatEmail, "role", "", "agent"),
		row(13, domain.TypeMemberRemoved, pt.Owner, member, pt.Cat, pt.CatEmail, "", "", ""),
		row(14, domain.TypeOwnershipTransferred, pt.Owner, member, pt.Ann, pt.AnnEmail, "owner", pt.Owner, pt.Ann),
		row(15, domain.TypeMemberInvited, pt.Ann, invitation, pt.InvDee, pt.DeeEmail, "role", "", "agent"),
		row(16, domain.TypeInvitationResent, pt.Ann, invitation, pt.InvDee, pt.DeeEmail, "expires_at",
			stamp(pt.At(15).Add(pt.InviteTTL)), stamp(pt.At(16).Add(2*pt.InviteTTL))),
		row(17, domain.TypeMemberInvited, pt.Ann, invitation, pt.InvFay, pt.FayEmail, "role", "", "agent"),
		row(18, domain.TypeInvitationAccepted, pt.Fay, invitation, pt.InvFay, pt.FayEmail, "status", "pending", "accepted"),
		row(19, domain.TypeMemberJoined, pt.Fay, member, pt.Fay, pt.FayEmail, "role", "", "agent"),
		row(20, domain.TypeMemberLeft, pt.Fay, member, pt.Fay, pt.FayEmail, "", "", ""),
		row(21, domain.TypePropertyCreated, pt.Other, property, pt.Beta, "", "name", "", "Beta"),
		row(22, domain.TypeMemberJoined, pt.Other, member, pt.Other, pt.OtherEmail, "role", "", "admin"),
		row(23, domain.TypeMemberInvited, pt.Other, invitation, pt.InvAnnBeta, pt.AnnEmail, "role", "", "agent"),
		row(24, domain.TypeMemberInvited, pt.Other, invitation, pt.InvEveBeta, pt.EveEmail, "role", "", "agent"),
		row(25, domain.TypeInvitationDeclined, pt.Eve, invitation, pt.InvEveBeta, pt.EveEmail, "status", "pending", "declined"),
	}
}

func TestAuditProjection(t *testing.T) {
	t.Parallel()
	all := scriptAudit()
	tests := []struct {
		name  string
		steps int
		want  []auditRow
	}{
		{"creation is the first row, naming the property", 1, all[:1]},
		{"an invitation names the invitee's email and the role offered", 4, all[:4]},
		{"accepting and revoking move the invitation's status; the join names the member", 7, all[:7]},
		{"role and access changes show before and after with the member's email", 10, all[:10]},
		{"a removal names the removed member's email", 14, all[:14]},
		{"a transfer shows the old and new owner", 15, all[:15]},
		{"a resend shows the old and new expiry", 17, all[:17]},
		{"every event of every property is one row", len(pt.Script()), all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool := project(t, pt.Script()[:tt.steps])
			if diff := cmp.Diff(tt.want, auditRows(t, pool), equalTimes); diff != "" {
				t.Errorf("rm_audit (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuditSubjectKeys checks what each row is filed under: the member
// filter and a member's history read these keys.
func TestAuditSubjectKeys(t *testing.T) {
	t.Parallel()
	pool := project(t, pt.Script())
	type key struct {
		Key       string
		Revisions []int64
	}
	got := rows[key](t, pool, `SELECT subject_key, array_agg(revision ORDER BY revision)
		FROM rm_audit_subjects WHERE property_id = 'p-acme' GROUP BY subject_key ORDER BY subject_key`)
	tests := []struct {
		name string
		key  string
		want []int64
	}{
		{"a member's account has its invitation, acceptance, join, changes and the transfer to it", pt.Ann, []int64{2, 4, 5, 7, 8, 9, 14}},
		{"a member's email finds the same rows", pt.AnnEmail, []int64{2, 4, 5, 7, 8, 9, 14}},
		{"the creator has the creation, its join and the transfer away from it", pt.Owner, []int64{0, 1, 14}},
		{"the creator's email is known from its join on", pt.OwnerEmail, []int64{1, 14}},
		{"a removed member keeps its rows up to the removal", pt.Cat, []int64{10, 11, 12, 13}},
		{"a member who left keeps its rows up to leaving", pt.Fay, []int64{17, 18, 19, 20}},
		{"an invitee never accepted is found by email", pt.BobEmail, []int64{3, 6}},
		{"an invitation is found by its ID", pt.InvDee, []int64{15, 16}},
	}
	byKey := map[string][]int64{}
	for _, k := range got {
		byKey[k.Key] = k.Revisions
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, byKey[tt.key]); diff != "" {
				t.Errorf("revisions under %s (-want +got):\n%s", tt.key, diff)
			}
		})
	}
	t.Run("an account of another property is not filed here", func(t *testing.T) {
		if revs, ok := byKey[pt.Other]; ok {
			t.Errorf("%s is filed under p-acme at %v", pt.Other, revs)
		}
	})
}

// TestAuditKeepsTheRequestsMetadata appends an event with every metadata
// field set and checks that its row carries them and its global position.
func TestAuditKeepsTheRequestsMetadata(t *testing.T) {
	t.Parallel()
	store := memory.New()
	pt.NewHistory(t, store).Add(pt.Script()[:2]...)
	meta := domain.Metadata{EventID: pt.NewID(), CommandID: pt.NewID(), CorrelationID: "req-42", CausationID: pt.NewID(),
		ActorID: pt.Owner, ActorEmail: " Owner@Example.COM", OccurredAt: pt.At(2), ClientIP: "203.0.113.7",
		UserAgent: "Mozilla/5.0 (X11) \"quoted\", comma", Schema: domain.SchemaV1}
	typ, data, err := domain.EncodeEvent(domain.MemberInvited{Schema: 1, InvitationID: pt.InvAnn, Email: pt.AnnEmail,
		Role: domain.RoleAgent, InvitedBy: pt.Owner, ExpiresAt: pt.At(2).Add(pt.InviteTTL), TokenNonce: "nonce-secret"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.Append(context.Background(), domain.StreamName(pt.Acme), eventstore.Any(),
		[]eventstore.EventData{{ID: meta.EventID, Type: typ, Data: data, Metadata: raw}})
	if err != nil {
		t.Fatal(err)
	}
	pool := projectStore(t, store, res.Position, projections.Audit())

	type row struct {
		EventID, CommandID, CorrelationID, CausationID string
		ActorEmail, ClientIP, UserAgent                string
		Commit, Prepare                                int64
	}
	got := rows[row](t, pool, `SELECT event_id, command_id, correlation_id, causation_id, actor_email, client_ip,
		user_agent, commit_position, prepare_position FROM rm_audit WHERE revision = 2`)
	want := []row{{meta.EventID, meta.CommandID, "req-42", meta.CausationID, "owner@example.com", "203.0.113.7",
		meta.UserAgent, int64(res.Position.Commit), int64(res.Position.Prepare)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metadata of the row (-want +got):\n%s", diff)
	}
}

// TestReadSideProjectionsRebuildAlone runs each projection of the read side
// by itself, as a rebuild does, and checks it writes what it writes beside
// the others: none of them reads another projection's tables.
func TestReadSideProjectionsRebuildAlone(t *testing.T) {
	t.Parallel()
	store := memory.New()
	last := pt.NewHistory(t, store).Add(pt.Script()...)
	together := projectStore(t, store, last, projections.All()...)
	tests := []struct {
		name  string
		p     projections.Projection
		query string
	}{
		{"the audit alone", projections.Audit(), `SELECT row_to_json(a)::text FROM rm_audit a ORDER BY property_id, revision`},
		{"the audit's subject keys alone", projections.Audit(), `SELECT row_to_json(s)::text FROM rm_audit_subjects s
			ORDER BY property_id, subject_key, revision`},
		{"my properties alone", projections.MyProperties(), `SELECT row_to_json(m)::text FROM rm_my_properties m
			ORDER BY account_id, property_id`},
		{"access alone", projections.Access(), `SELECT row_to_json(a)::text FROM rm_access a ORDER BY property_id, account_id`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alone := projectStore(t, store, last, tt.p)
			type line struct{ JSON string }
			want, got := rows[line](t, together, tt.query), rows[line](t, alone, tt.query)
			if len(want) == 0 {
				t.Fatal("no rows to compare")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("alone (-together +alone):\n%s", diff)
			}
		})
	}
}
