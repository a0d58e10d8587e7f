package limits_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/limits"
)

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestConcurrentReservationsOfTwoInstancesNeverPassTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool, c := newStore(t, limits.InviteLimits{PerPropertyDay: 25})
	// A second store over the same database is another instance.
	other := limits.NewStore(limits.StoreConfig{Pool: pool, Limits: limits.InviteLimits{PerPropertyDay: 25}, Now: c.Now})
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if i%2 == 1 {
				st = other
			}
			_, err := st.ReserveInvitations(ctx, "", "p1", fmt.Sprint("a", i), emails(fmt.Sprint("e", i, "-"), 2))
			switch {
			case err == nil:
				mu.Lock()
				granted += 2
				mu.Unlock()
			default:
				var r *limits.Refusal
				if !errors.As(err, &r) {
					t.Errorf("reserve: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if granted != 24 {
		t.Errorf("granted %d invitations under a limit of 25 in twos, want 24", granted)
	}
}

func emails(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d@example.com", prefix, i)
	}
	return out
}

// refusedBy fails the test unless err is a refusal of limit.
func refusedBy(t *testing.T, err error, limit limits.Name, code string) *limits.Refusal {
	t.Helper()
	var r *limits.Refusal
	if !errors.As(err, &r) || r.Limit != limit {
		t.Fatalf("err = %v, want a refusal of %s", err, limit)
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindTooMany || de.Code != code || de.RetryAfter <= 0 {
		t.Fatalf("err = %#v, want KindTooMany %s with Retry-After", de, code)
	}
	return r
}
