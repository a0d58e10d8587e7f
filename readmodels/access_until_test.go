package readmodels_test

import (
	"context"
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// endingSteps extends asOfSteps: Ann sets Cat's access to end half a
// minute after step 32 (step 31), and the scheduler's MemberAccessExpired
// comes only at step 34, after the moment.
func endingSteps() (steps []pt.Step, end time.Time) {
	end = pt.At(32).Add(30 * time.Second)
	steps = append(asOfSteps(),
		/* 31 */ pt.Step{PropertyID: pt.Acme, ActorID: pt.Ann, ActorEmail: pt.AnnEmail,
			Event: domain.MemberAccessUntilChanged{Schema: 1, AccountID: pt.Cat, AccessUntil: &end, By: pt.Ann}},
		/* 32 */ pt.Step{PropertyID: pt.Beta, ActorID: pt.Ann, ActorEmail: pt.AnnEmail,
			Event: domain.MemberAccessDisabled{Schema: 1, AccountID: pt.Other}},
		/* 33 */ pt.Step{PropertyID: pt.Beta, ActorID: pt.Ann, ActorEmail: pt.AnnEmail,
			Event: domain.MemberAccessEnabled{Schema: 1, AccountID: pt.Other}},
		/* 34 */ pt.Step{PropertyID: pt.Acme, ActorID: "roster-expiry",
			Event: domain.MemberAccessExpired{Schema: 1, AccountID: pt.Cat, AccessUntil: end}},
	)
	return steps, end
}

// From the exact moment an access ends, the as-of answers and the access
// review count the member disabled, before MemberAccessExpired is in the
// stream, and keep doing so after it; a moment before, they count it enabled.
func TestAccessUntilAsOfBothSidesOfTheMoment(t *testing.T) {
	t.Parallel()
	steps, end := endingSteps()
	f := newFixture(t, steps[:len(steps)-1]...)
	h := newHistory(f.store)
	ctx := context.Background()
	// The read models, read at the moment (their clock) with the expiry
	// event not yet appended, count Cat disabled from the moment.
	before := readmodels.New(f.pool).WithClock(func() time.Time { return end.Add(-time.Microsecond) })
	at := readmodels.New(f.pool).WithClock(func() time.Time { return end })
	for _, tt := range []struct {
		name string
		rm   *readmodels.Store
		want domain.MemberStatus
	}{{"before", before, domain.StatusEnabled}, {"at", at, domain.StatusDisabled}} {
		m, ok, err := tt.rm.Membership(ctx, pt.Acme, pt.Cat)
		if err != nil || !ok {
			t.Fatalf("%s: membership %v %v", tt.name, ok, err)
		}
		if m.Status != tt.want || m.AccessUntil == nil || !m.AccessUntil.Equal(end) {
			t.Errorf("%s: membership status %s until %v, want %s", tt.name, m.Status, m.AccessUntil, tt.want)
		}
		page, err := tt.rm.Members(ctx, pt.Acme, readmodels.MemberFilter{Status: string(tt.want)})
		if err != nil {
			t.Fatal(err)
		}
		if !hasMember(page.Members, pt.Cat) {
			t.Errorf("%s: members %s lack Cat", tt.name, tt.want)
		}
		a, err := tt.rm.Access(ctx, pt.Acme, pt.Cat)
		if err != nil || a.Status != tt.want {
			t.Errorf("%s: access %s %v, want %s", tt.name, a.Status, err, tt.want)
		}
	}

	f.add(t, steps[len(steps)-1])
	for _, tt := range []struct {
		name string
		at   time.Time
		want domain.MemberStatus
	}{
		{"a microsecond before the moment, enabled", end.Add(-time.Microsecond), domain.StatusEnabled},
		{"at the moment, before the event, disabled", end, domain.StatusDisabled},
		{"after the event, disabled", pt.At(35), domain.StatusDisabled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := h.Access(ctx, pt.Acme, pt.Cat, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != tt.want || a.AccessUntil == nil || !a.AccessUntil.Equal(end) {
				t.Errorf("access at %s: status %s until %v, want %s until %s", tt.at, a.Status, a.AccessUntil, tt.want, end)
			}
			if (len(a.Permissions) > 0) != (tt.want == domain.StatusEnabled) {
				t.Errorf("permissions %v with status %s", a.Permissions, tt.want)
			}
			page, err := h.Members(ctx, pt.Acme, tt.at, readmodels.MemberFilter{Status: string(tt.want)})
			if err != nil {
				t.Fatal(err)
			}
			if !hasMember(page.Members, pt.Cat) {
				t.Errorf("members %s at %s lack Cat: %+v", tt.want, tt.at, page.Members)
			}
			r, err := h.Review(ctx, pt.Acme, tt.at)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range r.Members {
				if m.AccountID == pt.Cat && m.Status != tt.want {
					t.Errorf("review at %s: Cat is %s, want %s", tt.at, m.Status, tt.want)
				}
			}
		})
	}

}

func hasMember(ms []readmodels.Member, acc string) bool {
	for _, m := range ms {
		if m.AccountID == acc {
			return true
		}
	}
	return false
}
