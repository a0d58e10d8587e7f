package accessindex_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// world is an event store with the access projection running over it into
// its own database.
type world struct {
	pool    *pgxpool.Pool
	store   *memory.Store
	history *pt.History
	rm      *readmodels.Store
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{pool: pgtest.NewPool(t), store: memory.New()}
	w.history = pt.NewHistory(t, w.store)
	w.rm = readmodels.New(w.pool)
	pt.Start(t, w.pool, w.store, zerolog.Nop(), projections.Access())
	return w
}

// add appends steps and waits until the access read model shows them.
func (w *world) add(t *testing.T, steps ...pt.Step) eventstore.Position {
	t.Helper()
	pos := w.history.Add(steps...)
	pt.Wait(t, w.pool, pos, projections.AccessName)
	return pos
}

// start runs an index over w until the test ends.
func (w *world) start(t *testing.T, cfg accessindex.Config) *accessindex.Index {
	t.Helper()
	x := accessindex.New(w.rm, w.store, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := x.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return x
}

// grant is a row of rm_access, what the read model says of one membership.
type grant struct {
	role   domain.Role
	status domain.MemberStatus
	owner  bool
}

func readModelGrants(t *testing.T, pool *pgxpool.Pool) map[[2]string]grant {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT property_id, account_id, role, status, is_owner FROM rm_access`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]grant{}
	var (
		pid, aid, role, status string
		owner                  bool
	)
	if _, err := pgx.ForEachRow(rows, []any{&pid, &aid, &role, &status, &owner}, func() error {
		out[[2]string{pid, aid}] = grant{domain.Role(role), domain.MemberStatus(status), owner}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

var allPermissions = domain.Permissions(domain.RoleAdmin, true, domain.StatusEnabled)

func TestIndexAnswersAsTheReadModelAfterARandomHistory(t *testing.T) {
	t.Parallel()
	steps := pt.Mix(14, 10_000)
	tests := []struct {
		name string
		// before starts the index before the history, so it follows all
		// of it; otherwise it loads it from the read model.
		before bool
		max    int
	}{
		{"followed from the feed", true, 0},
		{"loaded from the read model", false, 0},
		{"bounded to a few properties, the rest read again when asked", true, 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			cfg := accessindex.Config{MaxEntries: tt.max, Recent: 64}
			var x *accessindex.Index
			if tt.before {
				x = w.start(t, cfg)
			}
			last := w.add(t, steps...)
			if !tt.before {
				x = w.start(t, cfg)
			}
			want := readModelGrants(t, w.pool)
			properties, accounts := map[string]bool{"p-none": true}, map[string]bool{"acc-none": true}
			for _, s := range steps {
				properties[s.PropertyID], accounts[s.ActorID] = true, true
			}
			for k := range want {
				accounts[k[1]] = true
			}
			checked, allowed := 0, 0
			for pid := range properties {
				var items []accessindex.Item
				for aid := range accounts {
					items = append(items, accessindex.Item{PropertyID: pid, AccountID: aid, Permission: allPermissions[len(items)%len(allPermissions)]})
				}
				got, err := x.Check(context.Background(), items, &last)
				if err != nil {
					t.Fatalf("Check on %s: %v", pid, err)
				}
				for i, it := range items {
					g, member := want[[2]string{it.PropertyID, it.AccountID}]
					a := got[i]
					wantAllowed := member && domain.Allowed(g.role, g.owner, g.status, it.Permission)
					if a.Member != member || a.Allowed != wantAllowed || a.Role != g.role || a.Status != g.status || a.Owner != g.owner {
						t.Errorf("%s on %s for %s: index says %+v, read model %+v (member %v)", it.Permission, pid, it.AccountID, a, g, member)
					}
					if a.Position.Less(last) {
						t.Errorf("answer at %s, before the %s asked", a.Position, last)
					}
					checked++
					if a.Allowed {
						allowed++
					}
				}
			}
			if allowed == 0 || allowed == checked {
				t.Errorf("%d of %d checks allowed: the history does not tell yes from no", allowed, checked)
			}
			if tt.max > 0 && x.Entries() > tt.max {
				t.Errorf("the index holds %d entries, over its bound of %d", x.Entries(), tt.max)
			}
		})
	}
}

// TestNoCheckAllowsAMemberAtOrAfterTheyWereDisabled races checks against
// a member being disabled and enabled again and again, then removed: an
// answer taken at a position where the member was disabled or gone never
// allows.
func TestNoCheckAllowsAMemberAtOrAfterTheyWereDisabled(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	joined := w.add(t, pt.Script()[:6]...) // Acme, with Ann an enabled agent
	x := w.start(t, accessindex.Config{})
	ann := accessindex.Item{PropertyID: pt.Acme, AccountID: pt.Ann, Permission: domain.PermRespondToChats}

	var (
		mu      sync.Mutex
		answers []accessindex.Answer
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for c := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var at *eventstore.Position
				if c%2 == 0 {
					at = &joined
				}
				got, err := x.Check(context.Background(), []accessindex.Item{ann}, at)
				if err != nil {
					t.Errorf("Check: %v", err)
					return
				}
				mu.Lock()
				answers = append(answers, got[0])
				mu.Unlock()
			}
		})
	}
	// cut is where access changed: at each, the member may or may not.
	type cut struct {
		at  eventstore.Position
		may bool
	}
	cuts := []cut{{joined, true}}
	for i := range 20 {
		ev := domain.Event(domain.MemberAccessDisabled{Schema: 1, AccountID: pt.Ann})
		may := false
		if i%2 == 1 {
			ev, may = domain.MemberAccessEnabled{Schema: 1, AccountID: pt.Ann}, true
		}
		at := w.history.Add(pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail, Event: ev})
		cuts = append(cuts, cut{at, may})
		// Right after the command, a check at its position must see it.
		got, err := x.Check(context.Background(), []accessindex.Item{ann}, &at)
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Allowed != may {
			t.Errorf("right after the change at %s, a check at it says allowed=%v", at, got[0].Allowed)
		}
	}
	gone := w.history.Add(pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail,
		Event: domain.MemberRemoved{Schema: 1, AccountID: pt.Ann}})
	cuts = append(cuts, cut{gone, false})
	if got, err := x.Check(context.Background(), []accessindex.Item{ann}, &gone); err != nil || got[0].Allowed || got[0].Member {
		t.Errorf("right after the removal, a check at it says %+v, %v", got, err)
	}
	close(stop)
	wg.Wait()
	for _, a := range answers {
		may := false
		for _, c := range cuts {
			if !a.Position.Less(c.at) {
				may = c.may
			}
		}
		if a.Allowed && !may {
			t.Fatalf("a check taken at %s allowed a member disabled or removed by then (changes at %v)", a.Position, cuts)
		}
	}
	if len(answers) == 0 {
		t.Fatal("no check was answered during the race")
	}
}

func TestAtLeastBeyondTheHeadWaitsItsBoundThenSaysSo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	last := w.add(t, pt.Script()...)
	x := w.start(t, accessindex.Config{MaxWait: 50 * time.Millisecond})
	beyond := eventstore.Position{Commit: last.Commit + 1000}
	item := accessindex.Item{PropertyID: pt.Acme, AccountID: pt.Ann, Permission: domain.PermViewMembers}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := x.Check(ctx, []accessindex.Item{item}, &beyond)
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindUnavailable || de.Code != domain.CodePositionNotReached || de.RetryAfter <= 0 {
		t.Fatalf("Check at %s beyond the head %s: %v, want position_not_reached with Retry-After", beyond, last, err)
	}
	if ctx.Err() != nil {
		t.Fatal("the check did not come back within 30s")
	}
}

// TestWithoutTheFeedChecksTurnToThePostgreSQLReadModel: an index that has
// not loaded (its feed is down, say) answers from the read model when the
// read model has what is asked, and says it could not otherwise.
func TestWithoutTheFeedChecksTurnToThePostgreSQLReadModel(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	last := w.add(t, pt.Script()...)
	x := accessindex.New(w.rm, w.store, accessindex.Config{MaxWait: 10 * time.Millisecond}) // never Run
	items := []accessindex.Item{
		{PropertyID: pt.Acme, AccountID: pt.Ann, Permission: domain.PermTransferOwnership},
		{PropertyID: pt.Acme, AccountID: pt.Cat, Permission: domain.PermViewMembers},
	}
	for _, at := range []*eventstore.Position{&last, nil} {
		got, err := x.Check(context.Background(), items, at)
		if err != nil {
			t.Fatalf("Check at %v: %v", at, err)
		}
		if !got[0].Allowed || !got[0].Owner || got[1].Member || got[0].Position.Less(last) {
			t.Errorf("from the read model: %+v, want Ann the owner and Cat gone, at %s or after", got, last)
		}
	}
	beyond := eventstore.Position{Commit: last.Commit + 1}
	if _, err := x.Check(context.Background(), items, &beyond); domain.CodeOf(err) != domain.CodePositionNotReached {
		t.Errorf("Check beyond the read model: %v, want position_not_reached", err)
	}
}

// TestWithoutAFreshAnswerAnywhereAChecksSaysItIsStale: the index has not
// loaded and the read model lags the head of the feed, so no answer within
// the staleness bound can be given.
func TestWithoutAFreshAnswerAnywhereAChecksSaysItIsStale(t *testing.T) {
	t.Parallel()
	pool, store := pgtest.NewPool(t), memory.New()
	pt.NewHistory(t, store).Add(pt.Script()...) // no projection runs
	x := accessindex.New(readmodels.New(pool), store, accessindex.Config{MaxWait: 10 * time.Millisecond})
	_, err := x.Check(context.Background(), []accessindex.Item{{PropertyID: pt.Acme, AccountID: pt.Ann, Permission: domain.PermViewMembers}}, nil)
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeCheckStale || de.Kind != domain.KindUnavailable || de.RetryAfter <= 0 {
		t.Fatalf("Check with nothing fresh: %v, want check_stale with Retry-After", err)
	}
}
