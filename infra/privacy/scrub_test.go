package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	"github.com/rosterhq/roster/projections/projectiontest"
)

// openedFeed is the feed as projections will see it: every batch opened.
type openedFeed struct {
	store *postgres.Store
	vault *Vault
}

func (f openedFeed) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	sub, err := f.store.SubscribeAll(ctx, after)
	return openedSub{Subscription: sub, vault: f.vault}, err
}

type openedSub struct {
	eventstore.Subscription
	vault *Vault
}

func (s openedSub) Next(ctx context.Context) ([]eventstore.RecordedEvent, error) {
	recs, err := s.Subscription.Next(ctx)
	if err != nil {
		return nil, err
	}
	return recs, s.vault.Open(ctx, recs)
}

// whereFrom is the IP and user agent each scripted actor sends from, one
// of each per actor.
func whereFrom(accountID string) (ip, ua string) {
	var sum uint32
	for _, c := range accountID {
		sum = sum*31 + uint32(c)
	}
	return fmt.Sprintf("192.0.2.%d", sum%250+1), "Agent/1.0 (" + accountID + ")"
}

// appendSealed appends the standard script, and one step by Ann whose
// token carried no email, each event sealed as the executor will.
func appendSealed(t *testing.T, store *postgres.Store, v *Vault) eventstore.Position {
	t.Helper()
	ctx := context.Background()
	steps := append(projectiontest.Script(), projectiontest.Step{PropertyID: projectiontest.Acme,
		ActorID: projectiontest.Ann, ActorEmail: "",
		Event: domain.MemberRoleChanged{Schema: 1, AccountID: projectiontest.Owner, From: domain.RoleAdmin, To: domain.RoleAgent}})
	var last eventstore.Position
	for i, s := range steps {
		typ, data, err := domain.EncodeEvent(s.Event)
		if err != nil {
			t.Fatal(err)
		}
		ip, ua := whereFrom(s.ActorID)
		id := uuid.NewString()
		meta, err := json.Marshal(domain.Metadata{EventID: id, CommandID: uuid.NewString(), CorrelationID: uuid.NewString(),
			CausationID: uuid.NewString(), ActorID: s.ActorID, ActorEmail: s.ActorEmail, OccurredAt: projectiontest.At(i),
			ClientIP: ip, UserAgent: ua, Schema: domain.SchemaV1})
		if err != nil {
			t.Fatal(err)
		}
		events := []eventstore.EventData{{ID: id, Type: typ, Data: data, Metadata: meta}}
		if err := v.Seal(ctx, events); err != nil {
			t.Fatalf("seal step %d: %v", i, err)
		}
		res, err := store.Append(ctx, domain.StreamName(s.PropertyID), eventstore.Any(), events)
		if err != nil {
			t.Fatalf("append step %d: %v", i, err)
		}
		last = res.Position
	}
	return last
}

// project runs every projection until it has reached pos.
func project(t *testing.T, pool *pgxpool.Pool, f openedFeed, pos eventstore.Position) {
	t.Run("project", func(t *testing.T) {
		projectiontest.Start(t, pool, f, zerolog.Nop(), projections.All()...)
		projectiontest.Wait(t, pool, pos, projectiontest.Names(projections.All()...)...)
	})
}

// snapshot is every row of the tables, as JSON, sorted, by table.
func snapshot(t *testing.T, pool *pgxpool.Pool, tables ...string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := pool.Query(context.Background(), `SELECT to_jsonb(t)::text FROM `+pgx.Identifier{table}.Sanitize()+` t ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		out[table], err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func projectionTables() []string {
	var out []string
	for _, p := range projections.All() {
		out = append(out, p.Tables...)
	}
	return out
}

// TestForgetScrubsTheReadModelsAsARebuildWould: after Ann is forgotten, no
// read model, consumer table or audit row holds her email, IP or user
// agent, everyone else's data is untouched, her read marker follows her
// notification, and rebuilding every read model from the events gives the
// very same rows.
func TestForgetScrubsTheReadModelsAsARebuildWould(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := postgres.New(pool)
	v := NewVault(pool)
	feed := openedFeed{store: store, vault: v}
	last := appendSealed(t, store, v)
	project(t, pool, feed, last)

	const annEmail = projectiontest.AnnEmail
	var noteID string
	if err := pool.QueryRow(ctx, `SELECT id::text FROM rm_notifications WHERE email = $1`, annEmail).Scan(&noteID); err != nil {
		t.Fatalf("Ann's invitation notification: %v", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO notification_reads (account_id, notification_id) VALUES ($1, $2)`, projectiontest.Ann, noteID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO mail_ledger (event_id, recipient, subject, status) VALUES ($1, $2, 'Join Beta', 'sent');
		`, uuid.New(), annEmail); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO mail_invitations (property_id, invitation_id, email, role) VALUES ($1, $2, $3, 'agent')`,
		projectiontest.Beta, projectiontest.InvAnnBeta, annEmail); err != nil {
		t.Fatal(err)
	}
	consumerTables := []string{"mail_ledger", "mail_invitations", "notification_reads"}
	annIP, annUA := whereFrom(projectiontest.Ann)
	before := fmt.Sprint(snapshot(t, pool, append(projectionTables(), consumerTables...)...))
	for _, s := range []string{annEmail, annIP, annUA} {
		if !strings.Contains(before, s) {
			t.Fatalf("the read models never held %q; the test proves nothing", s)
		}
	}

	f, err := v.Forget(ctx, annEmail)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Erased || len(f.Subjects) != 2 || !IsErasedEmail(f.Marker) {
		t.Errorf("Forgotten %+v, want Ann's email subject and her account's erased, with a marker", f)
	}
	for _, col := range []string{"rm_members.email", "rm_invitations.email", "rm_my_invitations.email",
		"rm_my_invitations.invited_by_email", "rm_audit.actor_email", "rm_audit.subject_email", "rm_audit_subjects.subject_key",
		"rm_audit_contacts.email", "rm_notifications.email", "rm_notifications.details.invited_by_email",
		"mail_ledger.recipient", "mail_invitations.email"} {
		if f.Scrubbed[col] == 0 {
			t.Errorf("Forgotten.Scrubbed has no rows of %s: %v", col, f.Scrubbed)
		}
	}

	scrubbed := snapshot(t, pool, projectionTables()...)
	all := fmt.Sprint(scrubbed, snapshot(t, pool, consumerTables...))
	for _, s := range []string{annEmail, annIP, annUA} {
		if strings.Contains(all, s) {
			t.Errorf("%q is still in the tables after the forget", s)
		}
	}
	for _, s := range []string{projectiontest.OwnerEmail, projectiontest.OtherEmail, projectiontest.DeeEmail, f.Marker, `"erased"`} {
		if !strings.Contains(all, s) {
			t.Errorf("%q is missing from the tables after the forget", s)
		}
	}
	var readMatches bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notification_reads r JOIN rm_notifications n ON n.id = r.notification_id
		WHERE r.account_id = $1 AND n.email = $2)`, projectiontest.Ann, f.Marker).Scan(&readMatches); err != nil {
		t.Fatal(err)
	}
	if !readMatches {
		t.Error("Ann's read marker no longer points at her notification")
	}

	// Rebuild everything from the events.
	for _, table := range projectionTables() {
		if _, err := pool.Exec(ctx, `TRUNCATE `+pgx.Identifier{table}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `DELETE FROM projection_checkpoints`); err != nil {
		t.Fatal(err)
	}
	project(t, pool, feed, last)
	if diff := cmp.Diff(scrubbed, snapshot(t, pool, projectionTables()...)); diff != "" {
		t.Errorf("a rebuild after the forget gives other rows than the scrub (-scrubbed +rebuilt):\n%s", diff)
	}
}
