package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/privacy"
)

// keysInAppend is the server's write side on PostgreSQL: new people's keys
// stored by the appends of the events they seal.
type keysInAppend struct {
	pool  *pgxpool.Pool
	store *postgres.Store
	vault *privacy.Vault
	h     commands.Handlers
}

func newKeysInAppend(t *testing.T, pool *pgxpool.Pool) *keysInAppend {
	t.Helper()
	f := newFixture(t, nil)
	k := &keysInAppend{pool: pool, store: postgres.New(pool), vault: privacy.NewVault(pool)}
	k.h = commands.New(commands.Config{Store: k.store, InviteTTL: ttl, Tokens: f.tokens, Vault: k.vault,
		Options: []commands.Option{commands.WithKeysInAppend(func() commands.KeyBatch { return k.vault.NewBatch() })}})
	return k
}

func (k *keysInAppend) property(t *testing.T) string {
	t.Helper()
	res, err := k.h.CreateProperty.Handle(context.Background(), as(owner), commands.CreateProperty{Name: "Keys"})
	if err != nil {
		t.Fatal(err)
	}
	return res.PropertyID
}

// invitees reads the property's stream back, opened, and gives the emails
// invited, each stored value checked sealed.
func (k *keysInAppend) invitees(t *testing.T, pid string) []string {
	t.Helper()
	ctx := context.Background()
	recs, err := k.store.ReadStreamPage(ctx, domain.StreamName(pid), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if strings.Contains(string(r.Data)+string(r.Metadata), "@example.com") {
			t.Fatalf("event %s holds an email in the clear: %s %s", r.Type, r.Data, r.Metadata)
		}
	}
	if err := k.vault.Open(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Type != domain.TypeMemberInvited {
			continue
		}
		var inv struct {
			Email string `json:"email"`
		}
		if err := json.Unmarshal(r.Data, &inv); err != nil {
			t.Fatal(err)
		}
		out = append(out, inv.Email)
	}
	return out
}

func (k *keysInAppend) liveKeys(t *testing.T, email string) int {
	t.Helper()
	var n int
	if err := k.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM privacy_subjects WHERE erased_at IS NULL AND email = $1`, email).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func invite(pid string, emails ...string) commands.Invite {
	rows := make([]commands.InviteRow, len(emails))
	for i, e := range emails {
		rows[i] = commands.InviteRow{Email: e, Role: "agent"}
	}
	return commands.Invite{PropertyID: pid, Rows: rows}
}

// TestKeysInAppendInvitesNewAndKnownPeople: a new invitee gets a key with
// the append, one another instance already made a key for is sealed under
// that key, and both open to their addresses.
func TestKeysInAppendInvitesNewAndKnownPeople(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	k := newKeysInAppend(t, pool)
	pid := k.property(t)
	// Another instance met kim first.
	if err := privacy.NewVault(pool).Prepare(ctx, domain.Actor{}, []string{"kim@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.h.Invite.Handle(ctx, as(owner), invite(pid, "new@example.com", "kim@example.com")); err != nil {
		t.Fatal(err)
	}
	if _, err := k.h.Invite.Handle(ctx, as(owner), invite(pid, "lee@example.com")); err != nil {
		t.Fatal(err)
	}
	got := k.invitees(t, pid)
	if strings.Join(got, " ") != "new@example.com kim@example.com lee@example.com" {
		t.Fatalf("invitees open to %v", got)
	}
	for _, e := range []string{"new@example.com", "kim@example.com", "lee@example.com", owner.Email} {
		if n := k.liveKeys(t, e); n != 1 {
			t.Errorf("%s has %d live keys, want 1", e, n)
		}
	}
}

// TestKeysInAppendOnePersonAtOnceInManyProperties: the same new person
// invited to many properties at once gets one key, whichever append made
// it, and every invitation opens to the address.
func TestKeysInAppendOnePersonAtOnceInManyProperties(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	k := newKeysInAppend(t, pool)
	// Each property on an instance of its own, none knowing the others' keys.
	const n = 8
	instances := make([]*keysInAppend, n)
	pids := make([]string, n)
	for i := range instances {
		instances[i] = newKeysInAppend(t, pool)
		pids[i] = k.property(t)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = instances[i].h.Invite.Handle(ctx, as(owner), invite(pids[i], "mo@example.com"))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if got := k.invitees(t, pid); len(got) != 1 || got[0] != "mo@example.com" {
			t.Fatalf("property %s: invitees open to %v", pid, got)
		}
	}
	if got := k.liveKeys(t, "mo@example.com"); got != 1 {
		t.Fatalf("mo has %d live keys, want 1", got)
	}
}

// TestKeysInAppendGroup: invitations to one property at once go in
// groups, whose appends carry every new invitee's key.
func TestKeysInAppendGroup(t *testing.T) {
	ctx := context.Background()
	k := newKeysInAppend(t, pgtest.NewPool(t))
	pid := k.property(t)
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = k.h.Invite.Handle(ctx, as(owner), invite(pid, fmt.Sprintf("g%d@example.com", i)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got := k.invitees(t, pid)
	if len(got) != n {
		t.Fatalf("%d invitations stored, want %d", len(got), n)
	}
	for i := range n {
		if e := fmt.Sprintf("g%d@example.com", i); k.liveKeys(t, e) != 1 {
			t.Errorf("%s has no key", e)
		}
	}
}

// TestKeysInAppendRefusesBadInvitees: an address that is not one is
// refused as before, and no key is made for anyone in the command.
func TestKeysInAppendRefusesBadInvitees(t *testing.T) {
	ctx := context.Background()
	k := newKeysInAppend(t, pgtest.NewPool(t))
	pid := k.property(t)
	_, err := k.h.Invite.Handle(ctx, as(owner), invite(pid, "ok@example.com", "not-an-email"))
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeInvalidEmail {
		t.Fatalf("invite with a bad address: %v, want %s", err, domain.CodeInvalidEmail)
	}
	if n := k.liveKeys(t, "ok@example.com"); n != 0 {
		t.Errorf("a refused command made %d keys", n)
	}
	if got := k.invitees(t, pid); len(got) != 0 {
		t.Errorf("a refused command stored invitations %v", got)
	}
}

// TestKeysInAppendOnOtherStores: a store that cannot store keys seals
// through the vault as before.
func TestKeysInAppendOnOtherStores(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	f := newFixture(t, nil)
	vault := privacy.NewVault(pool)
	h := commands.New(commands.Config{Store: f.mem, InviteTTL: ttl, Tokens: f.tokens, Vault: vault,
		Options: []commands.Option{commands.WithKeysInAppend(func() commands.KeyBatch { return vault.NewBatch() })}})
	res, err := h.CreateProperty.Handle(ctx, as(owner), commands.CreateProperty{Name: "Memory"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invite.Handle(ctx, as(owner), invite(res.PropertyID, "nia@example.com")); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM privacy_subjects WHERE email = 'nia@example.com'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("nia has %d keys, want the one the vault made", n)
	}
}

// keysAlwaysTaken is a store on which every append with keys finds, each
// round, that some of its people had keys made meanwhile: as when other
// appends make keys for the same people at once, round after round.
type keysAlwaysTaken struct {
	*postgres.Store
	rounds int
}

func (s *keysAlwaysTaken) AppendWithKeys(_ context.Context, stream string, _ eventstore.ExpectedRevision, _ []eventstore.EventData, keys []postgres.Key) (eventstore.AppendResult, error) {
	if len(keys) == 0 {
		return eventstore.AppendResult{}, errors.New("an append with keys without any")
	}
	s.rounds++
	return eventstore.AppendResult{}, &postgres.KeysTakenError{Stream: stream}
}

func TestKeysInAppendGivesTheKeysToTheVaultWhenEveryRoundFindsThemTaken(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	k := newKeysInAppend(t, pool)
	pid := k.property(t)
	taken := &keysAlwaysTaken{Store: k.store}
	f := newFixture(t, nil)
	h := commands.New(commands.Config{Store: taken, InviteTTL: ttl, Tokens: f.tokens, Vault: k.vault,
		Options: []commands.Option{commands.WithKeysInAppend(func() commands.KeyBatch { return k.vault.NewBatch() })}})
	if _, err := h.Invite.Handle(ctx, as(owner), invite(pid, "race@example.com")); err != nil {
		t.Fatalf("the invitation failed after %d rounds: %v", taken.rounds, err)
	}
	if taken.rounds < 2 {
		t.Errorf("%d appends with keys, want the rounds to have been tried first", taken.rounds)
	}
	if got := k.invitees(t, pid); strings.Join(got, " ") != "race@example.com" {
		t.Fatalf("invitees open to %v", got)
	}
	if n := k.liveKeys(t, "race@example.com"); n != 1 {
		t.Errorf("race@example.com has %d live keys, want 1", n)
	}
}
