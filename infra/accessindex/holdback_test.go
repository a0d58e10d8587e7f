package accessindex_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// TestAHeldBackFeedIsNotTakenForFresh: a transaction left open anywhere on
// the PostgreSQL server holds the feed back, so an event committed after it
// is not given to readers yet. Until the index has that event it must not
// say it holds everything committed before a moment after the commit: no
// answer may allow a member it says is fresh past their disable.
func TestAHeldBackFeedIsNotTakenForFresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := postgres.New(pool)
	history := pt.NewHistory(t, store)
	pt.Start(t, pool, store, zerolog.Nop(), projections.Access())
	pt.Wait(t, pool, history.Add(pt.Script()[:6]...), projections.AccessName) // Ann, an enabled agent

	const staleness = 100 * time.Millisecond
	x := accessindex.New(readmodels.New(pool), store, accessindex.Config{MaxStaleness: staleness, MaxWait: 50 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = x.Run(runCtx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	ann := []accessindex.Item{{PropertyID: pt.Acme, AccountID: pt.Ann, Permission: domain.PermRespondToChats}}
	loaded := time.Now()
	waitFor(t, "the index fresh after it loaded", func() bool { return x.FreshAt().After(loaded) })

	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback(ctx) }()
	if _, err := holder.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	disabled := history.Add(pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail,
		Event: domain.MemberAccessDisabled{Schema: 1, AccountID: pt.Ann}})
	committed := time.Now()

	// Many probes of the head pass while the hold lasts; each answer must
	// be honest about how fresh it is.
	for until := committed.Add(10 * staleness); time.Now().Before(until); time.Sleep(staleness / 4) {
		got, err := x.Check(ctx, ann, nil)
		if err != nil {
			if domain.CodeOf(err) != domain.CodeCheckStale {
				t.Fatalf("Check while the feed is held back: %v, want an answer or check_stale", err)
			}
			continue
		}
		if got[0].Allowed && got[0].FreshAt.After(committed) {
			t.Fatalf("Check says it is fresh at %s, after Ann's disable was committed at %s, and allows her: %+v",
				got[0].FreshAt.Format(time.RFC3339Nano), committed.Format(time.RFC3339Nano), got[0])
		}
	}

	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the index past the disable once the hold ends", func() bool { return !x.Position().Less(disabled) })
	got, err := x.Check(ctx, ann, nil)
	if err != nil || got[0].Allowed || got[0].Status != domain.StatusDisabled {
		t.Fatalf("Check after the hold: %+v, %v, want Ann disabled", got, err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30s: %s", what)
		}
	}
}
