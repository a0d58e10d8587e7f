package chain_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/pgtest"
)

var owner = domain.Actor{AccountID: "acc-owner", Email: "owner@example.com", EmailVerified: true}

// pgHistory is a property written through the command handlers into the
// PostgreSQL store, with the head signed once it was written.
type pgHistory struct {
	pool   *pgxpool.Pool
	store  *postgres.Store
	pid    string
	stream string
	ids    map[string]int // event ID -> revision as written
	head   chain.Head
	pub    ed25519.PublicKey
}

// newPGHistory creates a property (its creation and its owner joining) and
// invites four agents in a fresh database: six events at revisions 0 to 5,
// each appended and linked by the executor.
func newPGHistory(t *testing.T) *pgHistory {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	h := &pgHistory{pool: pool, store: postgres.New(pool), ids: map[string]int{}}
	handlers := commands.New(commands.Config{Store: h.store, Tokens: invitetoken.New([]byte("chain-test-invitation-key-32-bytes!"))})
	res, err := handlers.CreateProperty.Handle(ctx, commands.Meta{Actor: owner}, commands.CreateProperty{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	h.pid, h.stream = res.PropertyID, domain.StreamName(res.PropertyID)
	for i := range 4 {
		_, err := handlers.Invite.Handle(ctx, commands.Meta{Actor: owner}, commands.Invite{PropertyID: h.pid,
			Rows: []commands.InviteRow{{Email: fmt.Sprintf("agent%d@example.com", i), Role: "agent"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, rec := range h.read(t) {
		h.ids[rec.ID] = int(rec.Revision)
	}
	if len(h.ids) != 6 {
		t.Fatalf("history has %d events, want 6", len(h.ids))
	}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	signer, err := chain.NewSigner(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.head, err = signer.SignHead(ctx, h.store, h.pid); err != nil {
		t.Fatal(err)
	}
	h.pub = key.Public().(ed25519.PublicKey)
	return h
}

func (h *pgHistory) read(t *testing.T) []eventstore.RecordedEvent {
	t.Helper()
	recs, err := h.store.ReadStream(context.Background(), h.stream, 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func (h *pgHistory) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	tag, err := h.pool.Exec(context.Background(), sql, append([]any{h.stream}, args...)...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if tag.RowsAffected() == 0 {
		t.Fatalf("%s changed no row", sql)
	}
}

// rehash rewrites the event at revision with data and chain fields
// recomputed after its stored prev_hash, as someone covering their tracks
// with the chain's own code would.
func (h *pgHistory) rehash(t *testing.T, revision int, data string) {
	t.Helper()
	rec := h.read(t)[revision]
	st, err := chain.Read(rec)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(rec.Metadata, []byte(`,"prev_hash":`))
	e := eventstore.EventData{ID: rec.ID, Type: rec.Type, Data: []byte(data), Metadata: append(bytes.Clone(rec.Metadata[:i]), '}')}
	if _, err := chain.Link(rec.StreamID, rec.Revision, &e, st.Prev); err != nil {
		t.Fatal(err)
	}
	h.exec(t, `UPDATE events SET data = $2::json, metadata = $3::json WHERE stream_id = $1 AND revision = $4`,
		string(e.Data), string(e.Metadata), revision)
}

// outcome is what a tamper test pins down: the first problem Verify names
// (its kind, revision, and the revision its event was written at), and
// what checking the head signed before the tampering says.
type outcome struct {
	Kind      chain.ProblemKind
	Revision  int
	WrittenAt int
	Head      chain.HeadProblemKind
}

// TestTamperingInPostgreSQLIsNamed alters, deletes and reorders stored
// events with SQL, each on a fresh copy of one history, and checks that
// verification names exactly the first bad event and why, and that the
// head signed before the tampering no longer holds.
func TestTamperingInPostgreSQLIsNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(t *testing.T, h *pgHistory)
		want   outcome
	}{
		{"an untouched history verifies and its head holds", func(*testing.T, *pgHistory) {},
			outcome{Kind: "", Revision: -1, WrittenAt: -1}},
		{"altered data", func(t *testing.T, h *pgHistory) {
			h.exec(t, `UPDATE events SET data = replace(data::text, '"agent"', '"admin"')::json WHERE stream_id = $1 AND revision = 2`)
		}, outcome{chain.Altered, 2, 2, chain.ChainBroken}},
		{"altered metadata", func(t *testing.T, h *pgHistory) {
			h.exec(t, `UPDATE events SET metadata = replace(metadata::text, 'owner@example.com', 'mallory@example.com')::json WHERE stream_id = $1 AND revision = 3`)
		}, outcome{chain.Altered, 3, 3, chain.ChainBroken}},
		{"a deleted middle event", func(t *testing.T, h *pgHistory) {
			h.exec(t, `DELETE FROM events WHERE stream_id = $1 AND revision = 2`)
		}, outcome{chain.Missing, 3, 3, chain.ChainBroken}},
		{"a deleted last event, which only the signed head sees", func(t *testing.T, h *pgHistory) {
			h.exec(t, `DELETE FROM events WHERE stream_id = $1 AND revision = 5`)
		}, outcome{"", -1, -1, chain.Truncated}},
		{"every event deleted", func(t *testing.T, h *pgHistory) {
			h.exec(t, `DELETE FROM events WHERE stream_id = $1`)
		}, outcome{chain.Missing, 0, -1, chain.Truncated}},
		{"two events reordered by swapping their revisions", func(t *testing.T, h *pgHistory) {
			// Through a free revision: the (stream, revision) key is checked row by row.
			for _, moves := range [][2]int{{1, 1000}, {3, 1}, {1000, 3}} {
				h.exec(t, `UPDATE events SET revision = $3 WHERE stream_id = $1 AND revision = $2`, moves[0], moves[1])
			}
		}, outcome{chain.Altered, 1, 3, chain.ChainBroken}},
		{"two events reordered by swapping their contents", func(t *testing.T, h *pgHistory) {
			h.exec(t, `UPDATE events e SET data = o.data, metadata = o.metadata FROM events o
				WHERE e.stream_id = $1 AND o.stream_id = $1 AND e.revision + o.revision = 4 AND e.revision IN (1, 3)`)
		}, outcome{chain.Altered, 1, 1, chain.ChainBroken}},
		{"chain fields stripped", func(t *testing.T, h *pgHistory) {
			h.exec(t, `UPDATE events SET metadata = (metadata::jsonb - 'prev_hash' - 'hash')::json WHERE stream_id = $1 AND revision = 4`)
		}, outcome{chain.UnchainedAfterChained, 4, 4, chain.ChainBroken}},
		{"metadata rewritten through jsonb, which reorders its keys", func(t *testing.T, h *pgHistory) {
			h.exec(t, `UPDATE events SET metadata = metadata::jsonb::json WHERE stream_id = $1 AND revision = 2`)
		}, outcome{chain.Malformed, 2, 2, chain.ChainBroken}},
		{"an event altered and re-hashed, caught by the next link", func(t *testing.T, h *pgHistory) {
			h.rehash(t, 2, `{"schema":1,"note":"rewritten"}`)
		}, outcome{chain.BrokenLink, 3, 3, chain.ChainBroken}},
		{"the last event altered and re-hashed, which only the signed head sees", func(t *testing.T, h *pgHistory) {
			h.rehash(t, 5, `{"schema":1,"note":"rewritten"}`)
		}, outcome{"", -1, -1, chain.HashMismatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			h := newPGHistory(t)
			tt.tamper(t, h)
			rep, err := chain.Verify(ctx, h.store, h.stream)
			if err != nil {
				t.Fatal(err)
			}
			got := outcome{Revision: -1, WrittenAt: -1}
			if rep.Problem != nil {
				got.Kind, got.Revision = rep.Problem.Kind, int(rep.Problem.Revision)
				if at, ok := h.ids[rep.Problem.EventID]; ok {
					got.WrittenAt = at
				}
			}
			check, err := chain.CheckHead(ctx, h.store, h.head, h.pub)
			if err != nil {
				t.Fatal(err)
			}
			if check.Problem != nil {
				got.Head = check.Problem.Kind
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s\nreport problem %+v\nhead problem %+v", diff, rep.Problem, check.Problem)
			}
			if rep.OK != (tt.want.Kind == "") || check.OK != (tt.want.Head == "") {
				t.Errorf("report ok %v, head ok %v", rep.OK, check.OK)
			}
		})
	}
}

// TestLegacyEventsThenCommandsVerify: a property written before the chain
// existed keeps working, and the executor links new events after its last
// unchained one.
func TestLegacyEventsThenCommandsVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := postgres.New(pgtest.NewPool(t))
	const pid = "0b9d2a52-5b0f-4a57-8e3e-0d3f1c2b7a10"
	typ, data, err := domain.EncodeEvent(domain.PropertyCreated{Schema: 1, PropertyID: pid, Name: "Old", OwnerID: owner.AccountID})
	if err != nil {
		t.Fatal(err)
	}
	joinedType, joined, err := domain.EncodeEvent(domain.MemberJoined{Schema: 1, AccountID: owner.AccountID, Email: owner.Email, Role: domain.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	meta := func(id string) []byte {
		return []byte(`{"event_id":"` + id + `","actor_id":"acc-owner","actor_email":"owner@example.com","occurred_at":"2025-01-01T00:00:00Z","schema":1}`)
	}
	legacy := []eventstore.EventData{
		{ID: "6f1d3c1e-8d0a-4c7e-9a52-3b2d1e0f9a11", Type: typ, Data: data, Metadata: meta("6f1d3c1e-8d0a-4c7e-9a52-3b2d1e0f9a11")},
		{ID: "6f1d3c1e-8d0a-4c7e-9a52-3b2d1e0f9a12", Type: joinedType, Data: joined, Metadata: meta("6f1d3c1e-8d0a-4c7e-9a52-3b2d1e0f9a12")},
	}
	if _, err := store.Append(ctx, domain.StreamName(pid), eventstore.NoStream(), legacy); err != nil {
		t.Fatal(err)
	}
	handlers := commands.New(commands.Config{Store: store, Tokens: invitetoken.New([]byte("chain-test-invitation-key-32-bytes!"))})
	for _, email := range []string{"a@example.com", "b@example.com"} {
		if _, err := handlers.Invite.Handle(ctx, commands.Meta{Actor: owner},
			commands.Invite{PropertyID: pid, Rows: []commands.InviteRow{{Email: email, Role: "agent"}}}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := chain.Verify(ctx, store, domain.StreamName(pid))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Events != 4 || rep.Unchained != 2 || rep.Chained != 2 || rep.Head.Revision != 3 {
		t.Errorf("report %+v (problem %+v), want 4 events that verify, the first two unchained", rep, rep.Problem)
	}
}
