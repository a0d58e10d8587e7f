package privacy

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
)

// TestBatchSealsWithoutTheDatabase: a batch seals new people under keys it
// makes itself, so it works on a vault whose database cannot be reached,
// and lists each new person's key once.
func TestBatchSealsWithoutTheDatabase(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	v := NewVault(pool)
	b := v.NewBatch()
	events := []eventstore.EventData{event(t, invited("cat@example.com"), ann), event(t, invited("dee@example.com"), ann),
		event(t, joined("acc-cat", "cat@example.com"), ann)}
	if err := b.Seal(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	keys := b.Keys()
	seen := map[string]bool{}
	for _, k := range keys {
		if len(k.Data) != 32 || k.AccountID != "" {
			t.Errorf("key %+v: want an email key of 32 bytes", k)
		}
		seen[k.Email] = true
	}
	if len(keys) != 3 || !seen["cat@example.com"] || !seen["dee@example.com"] || !seen[ann.email] {
		t.Fatalf("keys for %v, want one each for cat, dee and the actor", seen)
	}
	if s := field(t, events[0].Data, "email"); subjectOf(t, s) != subjectOf(t, field(t, events[2].Data, "email")) {
		t.Error("one person sealed under two keys in one batch")
	}
	if len(v.cache) != 0 {
		t.Error("keys not stored yet went into the vault's memory")
	}
	// The vault itself needs the database for the same events.
	if err := v.Seal(context.Background(), []eventstore.EventData{event(t, invited("cat@example.com"), ann)}); err == nil {
		t.Fatal("Vault.Seal without a database succeeded; the test proves nothing")
	}
}

// TestBatchKeysStoredByTheAppend: events sealed by a batch and appended
// with its keys open to their plaintext, and the keys are kept for the
// next commands.
func TestBatchKeysStoredByTheAppend(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	v := NewVault(pool)
	store := postgres.New(pool)
	orig := event(t, invited("fay@example.com"), bob)
	events := []eventstore.EventData{orig}
	b := v.NewBatch()
	if err := b.Seal(ctx, events); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AppendWithKeys(ctx, "property-b1", eventstore.NoStream(), events, b.Keys()); err != nil {
		t.Fatal(err)
	}
	b.Stored()
	recs, err := store.ReadStreamPage(ctx, "property-b1", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Open(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if got := field(t, recs[0].Data, "email"); got != "fay@example.com" {
		t.Errorf("email opens to %q", got)
	}
	if got := field(t, recs[0].Metadata, "client_ip"); got != bob.ip {
		t.Errorf("client_ip opens to %q", got)
	}
	if v.cache[emailKey("fay@example.com")] == nil || v.cache[emailKey(bob.email)] == nil {
		t.Error("the stored keys are not in the vault's memory")
	}
	if b2 := v.NewBatch(); true {
		if err := b2.Seal(ctx, []eventstore.EventData{event(t, invited("fay@example.com"), bob)}); err != nil {
			t.Fatal(err)
		}
		if len(b2.Keys()) != 0 {
			t.Errorf("a batch after the append made keys again: %+v", b2.Keys())
		}
	}
}

// TestBatchFoundSealsUnderTheLiveKey: a person another process made a key
// for is refused by the append with that key; sealed again under it, the
// events land and open, under the one key that person has.
func TestBatchFoundSealsUnderTheLiveKey(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	other := NewVault(pool) // another instance, which met gus first
	if err := other.Prepare(ctx, domain.Actor{AccountID: ann.id, Email: ann.email}, []string{"gus@example.com"}); err != nil {
		t.Fatal(err)
	}
	v := NewVault(pool)
	store := postgres.New(pool)
	plain := []eventstore.EventData{event(t, invited("gus@example.com"), ann)}
	events := append([]eventstore.EventData(nil), plain...)
	b := v.NewBatch()
	if err := b.Seal(ctx, events); err != nil {
		t.Fatal(err)
	}
	_, err := store.AppendWithKeys(ctx, "property-b2", eventstore.NoStream(), events, b.Keys())
	var taken *postgres.KeysTakenError
	if !errors.As(err, &taken) || len(taken.Live) != 2 {
		t.Fatalf("append: %v, want the live keys of gus and ann", err)
	}
	if err := b.Found(taken.Live); err != nil {
		t.Fatal(err)
	}
	events = append(events[:0], plain...)
	if err := b.Seal(ctx, events); err != nil {
		t.Fatal(err)
	}
	if len(b.Keys()) != 0 {
		t.Fatalf("sealed again, the batch still makes keys %+v", b.Keys())
	}
	if _, err := store.AppendWithKeys(ctx, "property-b2", eventstore.NoStream(), events, b.Keys()); err != nil {
		t.Fatal(err)
	}
	b.Stored()
	if got, want := subjectOf(t, field(t, events[0].Data, "email")), other.cache[emailKey("gus@example.com")].id; got != want {
		t.Errorf("gus sealed under %s, want the live key %s", got, want)
	}
	recs, err := store.ReadStreamPage(ctx, "property-b2", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Open(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if got := field(t, recs[0].Data, "email"); got != "gus@example.com" {
		t.Errorf("email opens to %q", got)
	}
}

// TestBatchAfterAFlushKeepsNothing: keys a batch stored after the vault
// was flushed (a forget) are not kept in memory, as Seal's lookups are not.
func TestBatchAfterAFlushKeepsNothing(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	v := NewVault(pool)
	b := v.NewBatch()
	events := []eventstore.EventData{event(t, invited("hal@example.com"), ann)}
	if err := b.Seal(ctx, events); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.New(pool).AppendWithKeys(ctx, "property-b3", eventstore.NoStream(), events, b.Keys()); err != nil {
		t.Fatal(err)
	}
	v.flush()
	b.Stored()
	if len(v.cache) != 0 {
		t.Fatalf("a flush before Stored left %d subjects in memory", len(v.cache))
	}
}

// TestBatchRefusesWhatSealRefuses: bad events are refused as Seal refuses
// them, and left as they were.
func TestBatchRefusesWhatSealRefuses(t *testing.T) {
	v := NewVault(pgtest.NewPool(t))
	bad := event(t, invited("not an address"), ann)
	noActor := event(t, invited("ivy@example.com"), actor{ip: "198.51.100.9"})
	notJSON := event(t, invited("jo@example.com"), ann)
	notJSON.Data = []byte(`["x"]`)
	for name, e := range map[string]eventstore.EventData{"an email that is no address": bad,
		"personal metadata without an actor": noActor, "a payload that is no object": notJSON} {
		t.Run(name, func(t *testing.T) {
			events := []eventstore.EventData{e}
			if err := v.NewBatch().Seal(context.Background(), events); err == nil {
				t.Fatal("sealed")
			}
			if string(events[0].Data) != string(e.Data) || string(events[0].Metadata) != string(e.Metadata) {
				t.Error("a refused event was changed")
			}
		})
	}
}
