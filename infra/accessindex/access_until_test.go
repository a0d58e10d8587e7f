package accessindex_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// movable is a clock the test sets; safe for concurrent use.
type movable struct {
	mu  sync.Mutex
	now time.Time
}

func (m *movable) Now() time.Time { m.mu.Lock(); defer m.mu.Unlock(); return m.now }

func (m *movable) Set(t time.Time) { m.mu.Lock(); defer m.mu.Unlock(); m.now = t }

// From the moment an access ends, the index refuses it, before any
// MemberAccessExpired: whether it learnt the end from the feed or loaded it
// from the read model; an end cleared gives the access back.
func TestAnAccessEndsInTheIndexAtItsMoment(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	joined := w.add(t, pt.Script()[:6]...) // Acme, with Ann an enabled agent
	clock := &movable{now: time.Now()}
	fromFeed := w.start(t, accessindex.Config{Now: clock.Now})
	ann := accessindex.Item{PropertyID: pt.Acme, AccountID: pt.Ann, Permission: domain.PermRespondToChats}
	check := func(x *accessindex.Index, what string, allowed bool) {
		t.Helper()
		got, err := x.Check(context.Background(), []accessindex.Item{ann}, &joined)
		if err != nil {
			t.Fatal(err)
		}
		want := domain.StatusEnabled
		if !allowed {
			want = domain.StatusDisabled
		}
		if got[0].Allowed != allowed || got[0].Status != want {
			t.Errorf("%s: allowed %v status %s, want %v %s", what, got[0].Allowed, got[0].Status, allowed, want)
		}
	}
	check(fromFeed, "with no end", true)

	end := clock.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	joined = w.add(t, pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail,
		Event: domain.MemberAccessUntilChanged{Schema: 1, AccountID: pt.Ann, AccessUntil: &end, By: pt.Owner}})
	fromReadModel := w.start(t, accessindex.Config{Now: clock.Now})
	for _, x := range []struct {
		name string
		x    *accessindex.Index
	}{{"from the feed", fromFeed}, {"from the read model", fromReadModel}} {
		clock.Set(end.Add(-time.Microsecond))
		check(x.x, x.name+", a microsecond before the end", true)
		clock.Set(end)
		check(x.x, x.name+", at the end", false)
	}
	joined = w.add(t, pt.Step{PropertyID: pt.Acme, ActorID: pt.Owner, ActorEmail: pt.OwnerEmail,
		Event: domain.MemberAccessUntilChanged{Schema: 1, AccountID: pt.Ann, By: pt.Owner}})
	check(fromFeed, "the end cleared", true)
}
