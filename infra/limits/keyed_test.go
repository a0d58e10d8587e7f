package limits_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rosterhq/roster/infra/limits"
)

func TestCommandsPerAccountReachedAndReset(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	m, err := limits.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	k, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.CommandsPerAccount, Quota: 3, Window: time.Second, Now: c.Now, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := k.Allow("alice"); err != nil {
			t.Fatalf("command %d: %v", i+1, err)
		}
	}
	err = k.Allow("alice")
	r := refusedBy(t, err, limits.CommandsPerAccount, limits.CodeCommandRateLimited)
	if policy, cur := r.RateLimitFields(); policy != `"commands_per_account";q=3;w=1` || cur != `"commands_per_account";r=0;t=1` {
		t.Errorf("fields = %s | %s", policy, cur)
	}
	if err := k.Allow("bob"); err != nil {
		t.Errorf("another account: %v", err)
	}
	c.Add(time.Second / 3) // one command's worth
	if err := k.Allow("alice"); err != nil {
		t.Errorf("a third of a second later: %v", err)
	}
	if err := k.Allow("alice"); err == nil {
		t.Error("two commands in a third of a second passed")
	}
	c.Add(time.Second) // the whole quota back
	for i := range 3 {
		if err := k.Allow("alice"); err != nil {
			t.Fatalf("a second later, command %d: %v", i+1, err)
		}
	}
	if got := testutil.ToFloat64(m.Counter(limits.CommandsPerAccount)); got != 2 {
		t.Errorf("refusals counted = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.Counter(limits.TokenFailuresPerIP)); got != 0 {
		t.Errorf("token refusals counted = %v, want 0", got)
	}
}

func TestTokenFailuresPerIPCountOnlyFailures(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	k, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.TokenFailuresPerIP, Quota: 2, Window: time.Minute, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := k.Check("10.0.0.1"); err != nil {
			t.Fatalf("checks alone took from the quota: %v", err)
		}
	}
	k.Fail("10.0.0.1")
	k.Fail("10.0.0.1")
	err = k.Check("10.0.0.1")
	r := refusedBy(t, err, limits.TokenFailuresPerIP, limits.CodeTokenFailureLimit)
	if r.Reset != 30*time.Second {
		t.Errorf("reset in %s, want 30s (one failure's worth of a minute for two)", r.Reset)
	}
	if err := k.Check("10.0.0.2"); err != nil {
		t.Errorf("another address: %v", err)
	}
	c.Add(30 * time.Second)
	if err := k.Check("10.0.0.1"); err != nil {
		t.Errorf("after 30s: %v", err)
	}
}

func TestTheQuotaIsSharedByTheLiveInstances(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	var live atomic.Int64
	live.Store(3)
	k, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.CommandsPerAccount, Quota: 10, Window: time.Second, Now: c.Now,
		Instances: func() int { return int(live.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	allowed := func() int {
		n := 0
		for k.Allow("alice") == nil {
			n++
		}
		return n
	}
	if n := allowed(); n != 4 {
		t.Errorf("one of three instances allowed %d of 10, want 4 (rounded up)", n)
	}
	live.Store(1)
	c.Add(time.Second)
	if n := allowed(); n != 10 {
		t.Errorf("the only instance allowed %d of 10 a second later", n)
	}
}

func TestAKeyedLimiterForgetsTheLeastRecentKeys(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	k, err := limits.NewKeyed(limits.KeyedConfig{Name: limits.TokenFailuresPerIP, Quota: 1, Window: time.Hour, Keys: 2, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	k.Fail("a")
	k.Fail("b")
	k.Fail("c") // a is forgotten: the limiter stays bounded, and only forgives
	if err := k.Check("b"); err == nil {
		t.Error("b was forgotten before a")
	}
	if err := k.Check("a"); err != nil {
		t.Errorf("a is still remembered: %v", err)
	}
}

func TestBadKeyedConfigsAreRefused(t *testing.T) {
	for _, c := range []limits.KeyedConfig{{Name: "x", Quota: 0, Window: time.Second}, {Name: "x", Quota: 1}} {
		if _, err := limits.NewKeyed(c); err == nil || !strings.Contains(err.Error(), "is not positive") {
			t.Errorf("NewKeyed(%+v) = %v", c, err)
		}
	}
}
