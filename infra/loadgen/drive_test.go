package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPacedSendsEveryPlannedRequestOnItsMoment(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]time.Time{}
	took, sent, skipped := paced(context.Background(), 200, 250*time.Millisecond, 64, func(_ context.Context, i int, planned time.Time) {
		mu.Lock()
		seen[i] = planned
		mu.Unlock()
	})
	if sent != 50 || skipped != 0 || len(seen) != 50 {
		t.Fatalf("sent %d, skipped %d, ran %d; want all 50 of 200/s for 250ms", sent, skipped, len(seen))
	}
	// Moments are planned 5ms apart from the first, whenever they ran.
	for i := 1; i < 50; i++ {
		if gap := seen[i].Sub(seen[i-1]); gap != 5*time.Millisecond {
			t.Fatalf("request %d planned %s after the one before, want 5ms", i, gap)
		}
	}
	if took <= 0 {
		t.Errorf("took = %s", took)
	}
}

func TestPacedSkipsAMomentThatFindsNoFreeSlot(t *testing.T) {
	// With no slot at all, every moment finds them all busy.
	var ran atomic.Int64
	_, sent, skipped := paced(context.Background(), 1000, 20*time.Millisecond, 0, func(context.Context, int, time.Time) {
		ran.Add(1)
	})
	if sent != 0 || skipped != 20 || ran.Load() != 0 {
		t.Errorf("sent %d, skipped %d, ran %d; want all 20 skipped", sent, skipped, ran.Load())
	}
}

func TestClosedLoopRunsEveryWorkerInTurn(t *testing.T) {
	// The run ends when every worker has sent three requests, not on a
	// clock, so a slow machine changes nothing.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	perWorker := map[int]int{}
	closedLoop(ctx, 4, time.Hour, func(_ context.Context, w, i int) {
		mu.Lock()
		defer mu.Unlock()
		if perWorker[w] != i {
			t.Errorf("worker %d got request number %d after %d", w, i, perWorker[w])
		}
		perWorker[w]++
		if len(perWorker) == 4 && min(perWorker[0], perWorker[1], perWorker[2], perWorker[3]) >= 3 {
			cancel()
		}
	})
	if len(perWorker) != 4 {
		t.Errorf("%d workers ran, want 4", len(perWorker))
	}
}

func TestClosedLoopStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var n atomic.Int64
	closedLoop(ctx, 3, time.Hour, func(context.Context, int, int) { n.Add(1) })
	if n.Load() != 0 {
		t.Errorf("%d requests after the context ended, want none", n.Load())
	}
}
