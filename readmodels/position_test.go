package readmodels_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/projections"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

func TestWaitFor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pt.Script()...)
	last := f.history.Last
	ahead := eventstore.Position{Commit: last.Commit + 1000, Prepare: last.Prepare + 1000}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name        string
		ctx         context.Context
		pos         eventstore.Position
		bound       time.Duration
		wantReached bool
		wantErr     error
	}{
		{"a position every projection has passed is reached", context.Background(), last, time.Minute, true, nil},
		{"the start is reached at once, even with no time to wait", context.Background(), eventstore.Start, 0, true, nil},
		{"a position beyond the feed is not reached within the bound", context.Background(), ahead, 20 * time.Millisecond, false, nil},
		{"an ended context stops the wait with its error", cancelled, ahead, time.Minute, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached, err := f.rm.WaitFor(tt.ctx, tt.pos, tt.bound)
			if reached != tt.wantReached || !errors.Is(err, tt.wantErr) {
				t.Errorf("WaitFor = %v, %v; want %v, %v", reached, err, tt.wantReached, tt.wantErr)
			}
		})
	}
	t.Run("the position is where every projection has got to", func(t *testing.T) {
		got, err := f.rm.Position(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got != last {
			t.Errorf("Position = %s, want %s", got, last)
		}
	})
}

// TestWaitForNeedsEveryProjection runs all projections but one: the read
// side as a whole has not reached what that one has not applied.
func TestWaitForNeedsEveryProjection(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := memory.New()
	last := pt.NewHistory(t, store).Add(pt.Script()...)
	all := projections.All()
	running := all[:len(all)-1]
	pt.Start(t, pool, store, zerolog.Nop(), running...)
	pt.Wait(t, pool, last, pt.Names(running...)...)

	rm := readmodels.New(pool)
	reached, err := rm.WaitFor(context.Background(), last, 20*time.Millisecond)
	if err != nil || reached {
		t.Errorf("WaitFor with %s idle = %v, %v; want false, nil", all[len(all)-1].Name, reached, err)
	}
	pos, err := rm.Position(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(eventstore.Start, pos); diff != "" {
		t.Errorf("Position (-want +got):\n%s", diff)
	}
}
