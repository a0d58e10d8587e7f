package commands

import (
	"testing"
	"time"
)

// TestAnIdleCacheLetsGoWithoutACommand: no command comes after the last
// one, yet its state is dropped once idle; a busy entry is kept however old.
func TestAnIdleCacheLetsGoWithoutACommand(t *testing.T) {
	c := newAggregates(DefaultCachedProperties, DefaultCachedBytes, 20*time.Millisecond, time.Now)
	use := func(id string) *aggregate {
		a := c.enqueue(id, &job{})
		a.lock <- struct{}{}
		a.take(1)
		a.loaded = true
		c.release(a)
		return a
	}
	use("idle")
	busy := use("busy")
	busy.lock <- struct{}{} // a command holds it from now on
	defer func() { <-busy.lock }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		_, idleKept := c.byID["idle"]
		_, busyKept := c.byID["busy"]
		c.mu.Unlock()
		if !busyKept {
			t.Fatal("the entry a command holds was dropped as idle")
		}
		if !idleKept {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle entry is still cached 10 s after its last command, with no command since")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
