package projections_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// sliceFeed is a feed of events held in memory, for rebuilds.
type sliceFeed []eventstore.RecordedEvent

func (f sliceFeed) ReadAll(_ context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for _, r := range f {
		if after.Less(r.Position) && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

// oddSteps are histories the domain would not write but a projection must
// still apply the same way: members and a change of owner before
// PropertyCreated, a second PropertyCreated renaming a property and
// handing it over, an invitation accepted twice, a member removed and
// joining again, changes to members and invitations that do not exist,
// emails in odd case and spacing, an inviter who is not the actor.
func oddSteps() []pt.Step {
	by := func(pid, actor, email string, e domain.Event) pt.Step {
		return pt.Step{PropertyID: pid, ActorID: actor, ActorEmail: email, Event: e}
	}
	inv := func(id, email, by string) domain.MemberInvited {
		return domain.MemberInvited{Schema: 1, InvitationID: id, Email: email, Role: domain.RoleAgent, InvitedBy: by,
			ExpiresAt: pt.At(3).Add(time.Hour + 123456789), TokenNonce: "n"}
	}
	return []pt.Step{
		by("odd", "a", "A@Example.com ", domain.MemberJoined{Schema: 1, AccountID: "a", Email: "a@example.com", Role: domain.RoleAdmin}),
		by("odd", "a", "a@example.com", inv("i1", " Bob@Example.COM", "a")),
		by("odd", "x", "x@example.com", inv("i2", "cy@example.com", "a")),
		by("odd", "b", "bob@example.com", domain.InvitationAccepted{Schema: 1, InvitationID: "i1", AccountID: "b"}),
		by("odd", "b", "bob@example.com", domain.MemberJoined{Schema: 1, AccountID: "b", Email: "bob@example.com", Role: domain.RoleAgent, InvitationID: "i1"}),
		by("odd", "a", "a@example.com", domain.OwnershipTransferred{Schema: 1, From: "a", To: "b"}),
		by("odd", "a", "a@example.com", domain.PropertyCreated{Schema: 1, PropertyID: "odd", Name: "Odd", OwnerID: "a"}),
		by("odd", "a", "a@example.com", domain.InvitationResent{Schema: 1, InvitationID: "i2", ExpiresAt: pt.At(9).Add(987654321)}),
		by("odd", "a", "a@example.com", domain.InvitationResent{Schema: 1, InvitationID: "i2", ExpiresAt: pt.At(10).Add(5)}),
		by("odd", "a", "a@example.com", domain.PropertyCreated{Schema: 1, PropertyID: "odd", Name: "Renamed", OwnerID: "b"}),
		by("odd", "b", "bob@example.com", domain.InvitationAccepted{Schema: 1, InvitationID: "i1", AccountID: "b"}),
		by("odd", "a", "a@example.com", domain.MemberRemoved{Schema: 1, AccountID: "b"}),
		by("odd", "b", "bob@example.com", domain.MemberJoined{Schema: 1, AccountID: "b", Email: "bob@example.com", Role: domain.RoleAdmin}),
		by("odd", "a", "a@example.com", domain.OwnershipTransferred{Schema: 1, From: "b", To: "a"}),
		by("odd", "a", "a@example.com", domain.OwnershipTransferred{Schema: 1, From: "a", To: "b"}),
		by("odd", "a", "a@example.com", domain.MemberRoleChanged{Schema: 1, AccountID: "zz", From: domain.RoleAgent, To: domain.RoleAdmin}),
		by("odd", "a", "a@example.com", domain.MemberAccessDisabled{Schema: 1, AccountID: "a"}),
		by("odd", "a", "a@example.com", inv("i3", "dee@example.com", "a")),
		by("odd", "a", "a@example.com", domain.InvitationRevoked{Schema: 1, InvitationID: "i3"}),
		by("odd", "a", "a@example.com", domain.InvitationRevoked{Schema: 1, InvitationID: "i3"}),
		by("odd", "a", "a@example.com", domain.InvitationDeclined{Schema: 1, InvitationID: "nope"}),
		by("odd2", "o", "o@example.com", domain.OwnershipTransferred{Schema: 1, From: "o", To: "p"}),
		by("odd2", "p", "p@example.com", domain.MemberJoined{Schema: 1, AccountID: "p", Email: "p@example.com", Role: domain.RoleAdmin}),
		by("odd2", "o", "o@example.com", domain.MemberJoined{Schema: 1, AccountID: "o", Email: "o@example.com", Role: domain.RoleAdmin}),
		by("odd2", "o", "o@example.com", domain.OwnershipTransferred{Schema: 1, From: "p", To: "o"}),
		by("odd2", "o", "o@example.com", domain.PropertyCreated{Schema: 1, PropertyID: "odd2", Name: "Two", OwnerID: "p"}),
		by("odd2", "o", "o@example.com", domain.MemberLeft{Schema: 1, AccountID: "o"}),
	}
}

// mixedRecords is a generated feed with oddSteps in the middle, a second
// history over the same property IDs after it (PropertyCreated again,
// invitations of the same IDs), events without metadata, an event of
// another stream and one of a type no projection knows.
func mixedRecords(t testing.TB, n int) []eventstore.RecordedEvent {
	steps := append(pt.Mix(7, n), oddSteps()...)
	steps = append(steps, pt.Mix(8, n/2)...)
	recs := pt.Records(t, steps)
	for i := range recs {
		if i%97 == 5 {
			recs[i].Metadata = nil
		}
	}
	next := func() eventstore.Position {
		p := recs[len(recs)-1].Position
		return eventstore.Position{Commit: p.Commit + 1, Prepare: p.Prepare + 1}
	}
	recs = append(recs, eventstore.RecordedEvent{ID: pt.NewID(), StreamID: "billing-1", Type: domain.TypeMemberJoined,
		Data: []byte(`{"schema":1}`), Position: next(), RecordedAt: pt.At(1)})
	return append(recs, eventstore.RecordedEvent{ID: pt.NewID(), StreamID: "property-odd", Revision: 99, Type: "PropertyArchived",
		Data: []byte(`{"schema":1}`), Position: next(), RecordedAt: pt.At(2)})
}

// applyInBatches gives recs to a handler of each projection, size events
// per message, and returns the database.
func applyInBatches(t testing.TB, recs []eventstore.RecordedEvent, size int) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.NewPool(t)
	for _, p := range projections.All() {
		h := projections.NewHandler(pool, p, zerolog.Nop())
		for i := 0; i < len(recs); i += size {
			if err := h.Handle(feed.ToBatchMessage(recs[i:min(i+size, len(recs))])); err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
		}
	}
	return pool
}

// TestBatchesOfEverySizeGiveTheSameRows: however the feed is cut into
// batches, live or in a rebuild on any number of workers, every table ends
// with the same rows as when each event is applied alone.
func TestBatchesOfEverySizeGiveTheSameRows(t *testing.T) {
	t.Parallel()
	recs := mixedRecords(t, 1500)
	alone := tableRows(t, applyInBatches(t, recs, 1))
	if len(alone["rm_members"]) < 100 || len(alone["rm_audit"]) < len(recs)-10 {
		t.Fatalf("the fixture has %d members and %d audit rows, too few to tell", len(alone["rm_members"]), len(alone["rm_audit"]))
	}
	tests := []struct {
		name string
		rows func(t *testing.T) map[string][]string
	}{
		{"batches of 7", func(t *testing.T) map[string][]string { return tableRows(t, applyInBatches(t, recs, 7)) }},
		{"batches of 500", func(t *testing.T) map[string][]string { return tableRows(t, applyInBatches(t, recs, 500)) }},
		{"a rebuild on one worker", func(t *testing.T) map[string][]string { return rebuilt(t, recs, 1) }},
		{"a rebuild on three workers", func(t *testing.T) map[string][]string { return rebuilt(t, recs, 3) }},
	}
	for _, tt := range tests {
		t.Run(tt.name+" give the rows of one event at a time", func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(alone, tt.rows(t)); diff != "" {
				t.Errorf("rows (-one at a time +%s):\n%s", tt.name, diff)
			}
		})
	}
}

func rebuilt(t *testing.T, recs []eventstore.RecordedEvent, workers int) map[string][]string {
	pool := pgtest.NewPool(t)
	if _, err := projections.RebuildAll(context.Background(), pool, sliceFeed(recs), projections.All(),
		projections.RebuildConfig{BatchSize: 333, Workers: workers}); err != nil {
		t.Fatal(err)
	}
	return tableRows(t, pool)
}

// TestAFailingEventStopsItsBatchRightBeforeIt: an event that cannot be
// applied fails the message, and the events before it in the batch are
// applied without it, so the checkpoint stops right before it; sent
// again, the batch fails on it again and changes nothing.
func TestAFailingEventStopsItsBatchRightBeforeIt(t *testing.T) {
	t.Parallel()
	recs := pt.Records(t, pt.Script())
	tests := []struct {
		name  string
		spoil func(*eventstore.RecordedEvent)
	}{
		{"a payload that is not JSON", func(r *eventstore.RecordedEvent) { r.Data = []byte(`{"schema":1,`) }},
		{"a schema this build does not read", func(r *eventstore.RecordedEvent) { r.Data = []byte(`{"schema":99}`) }},
		{"metadata that is not an object", func(r *eventstore.RecordedEvent) { r.Metadata = []byte(`[1]`) }},
	}
	const bad = 9 // MemberAccessEnabled, which the members projection handles
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spoilt := append([]eventstore.RecordedEvent{}, recs...)
			tt.spoil(&spoilt[bad])
			pool := pgtest.NewPool(t)
			h := projections.NewHandler(pool, projections.Members(), zerolog.Nop())
			for range 2 {
				if err := h.Handle(feed.ToBatchMessage(spoilt)); err == nil {
					t.Fatal("Handle = nil, want the bad event's error")
				}
				cps, err := projections.Checkpoints(context.Background(), pool)
				if err != nil {
					t.Fatal(err)
				}
				if want := recs[bad-1].Position; cps[projections.MembersName] != want {
					t.Errorf("checkpoint = %s, want %s, right before the bad event", cps[projections.MembersName], want)
				}
			}
			before := applyInBatches(t, recs[:bad], len(recs))
			if diff := cmp.Diff(memberRows(t, before), memberRows(t, pool), equalTimes); diff != "" {
				t.Errorf("members (-the events before it +got):\n%s", diff)
			}
		})
	}
}

func TestAHandlerRefusesWhatIsNotAFeedMessage(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	h := projections.NewHandler(pool, projections.Members(), zerolog.Nop())
	batch := feed.ToBatchMessage(pt.Records(t, pt.Script()))
	cut := message.NewMessage(batch.UUID, batch.Payload[:len(batch.Payload)/2])
	cut.Metadata = batch.Metadata
	tests := []struct {
		name string
		msg  *message.Message
	}{
		{"a message without the feed's metadata", message.NewMessage("x", []byte(`{}`))},
		{"a batch cut short", cut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := h.Handle(tt.msg); err == nil {
				t.Error("Handle = nil, want an error")
			}
			if cps, err := projections.Checkpoints(context.Background(), pool); err != nil || len(cps) != 0 {
				t.Errorf("checkpoints = %v, %v; want none", cps, err)
			}
		})
	}
}

// sealed stands for an email an Opener turns back into plaintext.
const sealed = "sealed:ann"

// testOpener opens sealed emails, checking each time that it runs inside
// the transaction of the projection it opens for.
type testOpener struct {
	pool *pgxpool.Pool
	// check reports what is wrong with the transaction it is given.
	check func(ctx context.Context, tx pgx.Tx) error
	fail  error
	calls atomic.Int64
	bad   atomic.Value // the first problem check found
}

func (o *testOpener) OpenTx(ctx context.Context, tx pgx.Tx, recs []eventstore.RecordedEvent) error {
	o.calls.Add(1)
	if err := o.check(ctx, tx); err != nil {
		o.bad.CompareAndSwap(nil, err.Error())
	}
	if o.fail != nil {
		return o.fail
	}
	for i := range recs {
		recs[i].Data = bytes.ReplaceAll(recs[i].Data, []byte(sealed), []byte(pt.AnnEmail))
		recs[i].Metadata = bytes.ReplaceAll(recs[i].Metadata, []byte(sealed), []byte(pt.AnnEmail))
	}
	return nil
}

// sealedCopy is recs with Ann's email sealed wherever it is.
func sealedCopy(recs []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	out := append([]eventstore.RecordedEvent{}, recs...)
	for i := range out {
		out[i].Data = bytes.ReplaceAll(out[i].Data, []byte(pt.AnnEmail), []byte(sealed))
		out[i].Metadata = bytes.ReplaceAll(out[i].Metadata, []byte(pt.AnnEmail), []byte(sealed))
	}
	return out
}

// TestTheOpenerOpensEachBatchInItsTransaction: the handler calls its
// Opener once per batch, while its transaction holds the checkpoint, and
// the projection writes what the Opener gave; an Opener that fails fails
// the batch, which then changes nothing.
func TestTheOpenerOpensEachBatchInItsTransaction(t *testing.T) {
	t.Parallel()
	clear := pt.Records(t, pt.Script())
	recs := sealedCopy(clear)
	pool := pgtest.NewPool(t)
	// The row exists beforehand, so another connection sees it locked.
	if _, err := pool.Exec(context.Background(), `INSERT INTO projection_checkpoints (name) VALUES ($1)`, projections.MembersName); err != nil {
		t.Fatal(err)
	}
	heldByTx := func(ctx context.Context, tx pgx.Tx) error {
		// Another connection cannot take the checkpoint row: tx holds it.
		_, err := pool.Exec(ctx, `SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE NOWAIT`, projections.MembersName)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
			return errors.New("the checkpoint is not locked while opening: " + errString(err))
		}
		return nil
	}

	failing := &testOpener{pool: pool, check: heldByTx, fail: errors.New("no key")}
	h := projections.NewHandler(pool, projections.Members(), zerolog.Nop(), projections.WithOpener(failing))
	if err := h.Handle(feed.ToBatchMessage(recs)); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("Handle with a failing opener = %v, want its error", err)
	}
	if rows := memberRows(t, pool); len(rows) != 0 {
		t.Errorf("members after a failed opening = %+v, want none", rows)
	}

	o := &testOpener{pool: pool, check: heldByTx}
	h = projections.NewHandler(pool, projections.Members(), zerolog.Nop(), projections.WithOpener(o))
	for _, batch := range [][]eventstore.RecordedEvent{recs[:10], recs[10:]} {
		if err := h.Handle(feed.ToBatchMessage(batch)); err != nil {
			t.Fatal(err)
		}
	}
	if n := o.calls.Load(); n != 2 {
		t.Errorf("the opener was called %d times, want once per batch (2)", n)
	}
	if bad := o.bad.Load(); bad != nil {
		t.Error(bad)
	}
	if diff := cmp.Diff(memberRows(t, applyInBatches(t, clear, 100)), memberRows(t, pool), equalTimes); diff != "" {
		t.Errorf("members (-projected in the clear +opened):\n%s", diff)
	}
}

// TestARebuildOpensTheEvents: a rebuild opens every batch inside the
// transaction that writes it to the copies, and the rebuilt tables hold
// what the Opener gave.
func TestARebuildOpensTheEvents(t *testing.T) {
	t.Parallel()
	clear := pt.Records(t, pt.Script())
	pool := pgtest.NewPool(t)
	inRebuild := func(ctx context.Context, tx pgx.Tx) error {
		var path string
		if err := tx.QueryRow(ctx, `SELECT current_setting('search_path')`).Scan(&path); err != nil {
			return err
		}
		if !strings.HasPrefix(path, `"rebuild_`) && !strings.HasPrefix(path, "rebuild_") {
			return errors.New("opened outside a transaction on the copies: search_path " + path)
		}
		return nil
	}
	o := &testOpener{pool: pool, check: inRebuild}
	if _, err := projections.RebuildAll(context.Background(), pool, sliceFeed(sealedCopy(clear)), projections.All(),
		projections.RebuildConfig{BatchSize: 10, Opener: o}); err != nil {
		t.Fatal(err)
	}
	if o.calls.Load() == 0 {
		t.Error("the opener was never called")
	}
	if bad := o.bad.Load(); bad != nil {
		t.Error(bad)
	}
	if diff := cmp.Diff(tableRows(t, applyInBatches(t, clear, 100)), tableRows(t, pool)); diff != "" {
		t.Errorf("rows (-projected in the clear +rebuilt from sealed events):\n%s", diff)
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
