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

// TestWaitForDoesNotWaitOnAStoppedProjection: when the only projection short
// of the position is stopped at an event it cannot apply, WaitFor answers
// not reached at once rather than holding the request for its bound.
func TestWaitForDoesNotWaitOnAStoppedProjection(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := memory.New()
	last := pt.NewHistory(t, store).Add(pt.Script()...)
	all := projections.All()
	running, idle := all[:len(all)-1], all[len(all)-1]
	pt.Start(t, pool, store, zerolog.Nop(), running...)
	pt.Wait(t, pool, last, pt.Names(running...)...)
	if _, err := pool.Exec(context.Background(), `INSERT INTO projection_failures
		(projection, event_id, stream_id, event_type, commit_position, prepare_position, error, attempts)
		VALUES ($1, 'e1', 'property-x', 'MemberJoined', 1, 1, 'a value it cannot hold', 6)`, idle.Name); err != nil {
		t.Fatal(err)
	}

	rm := readmodels.New(pool)
	// The context ends long before the bound: a WaitFor that waited would
	// answer its error instead.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reached, err := rm.WaitFor(ctx, last, time.Hour)
	if err != nil || reached {
		t.Errorf("WaitFor with %s stopped = %v, %v; want false, nil", idle.Name, reached, err)
	}
	// A position past the feed, which the running projections are short of
	// too, is not reached.
	reached, err = rm.WaitFor(context.Background(), eventstore.Position{Commit: last.Commit + 1, Prepare: last.Prepare + 1}, 30*time.Millisecond)
	if err != nil || reached {
		t.Errorf("WaitFor past the feed = %v, %v; want false, nil", reached, err)
	}
	// Those running projections are waited for: with a bound of an hour,
	// the context ending first is what ends the wait.
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	reached, err = rm.WaitFor(short, eventstore.Position{Commit: last.Commit + 1, Prepare: last.Prepare + 1}, time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) || reached {
		t.Errorf("WaitFor past the feed with running projections behind = %v, %v; want false, %v", reached, err, context.DeadlineExceeded)
	}
}
