package limits

import (
	"fmt"
	"math"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// DefaultKeys is how many keys (accounts, IPs) a Keyed limiter remembers
// when KeyedConfig leaves it zero.
const DefaultKeys = 100_000

// KeyedConfig is a limit per key held by each instance in memory.
type KeyedConfig struct {
	// Name is the limit.
	Name Name
	// Quota events per Window are allowed per key, over all instances;
	// each instance allows its share (Instances).
	Quota  int
	Window time.Duration
	// Keys bounds the keys remembered; the least recently seen are
	// forgotten first, which only forgives them. DefaultKeys when zero.
	Keys int
	// Instances counts the live instances the quota is shared by; one
	// instance when nil.
	Instances func() int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Metrics counts the refusals.
	Metrics *Metrics
}

// Keyed is a token bucket per key: Quota tokens, refilled evenly over
// Window. Divided by the live instances, a key spread by a load balancer
// over all of them gets about the quota in total; a key sent to one
// instance only gets its share, which errs on the strict side. It is safe
// for concurrent use.
type Keyed struct {
	cfg   KeyedConfig
	cache *lru.Cache[string, *rate.Limiter]
	mu    sync.Mutex // makes getting, adding or resizing a key's bucket one step
}

// NewKeyed returns the limiter of c.
func NewKeyed(c KeyedConfig) (*Keyed, error) {
	if c.Quota < 1 || c.Window <= 0 {
		return nil, fmt.Errorf("limit %s: quota %d per %s is not positive", c.Name, c.Quota, c.Window)
	}
	if c.Keys <= 0 {
		c.Keys = DefaultKeys
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	cache, err := lru.New[string, *rate.Limiter](c.Keys)
	if err != nil {
		return nil, err
	}
	return &Keyed{cfg: c, cache: cache}, nil
}

// share is this instance's quota: the quota divided by the live
// instances, rounded up, at least one.
func (k *Keyed) share() int {
	n := 1
	if k.cfg.Instances != nil {
		n = max(k.cfg.Instances(), 1)
	}
	return max((k.cfg.Quota+n-1)/n, 1)
}

// bucket returns key's bucket, sized to this instance's share now.
func (k *Keyed) bucket(key string, now time.Time) (*rate.Limiter, int) {
	share := k.share()
	every := rate.Limit(float64(share) / k.cfg.Window.Seconds())
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.cache.Get(key)
	switch {
	case !ok:
		b = rate.NewLimiter(every, share)
		k.cache.Add(key, b)
	case b.Burst() != share:
		// The live instances changed: a new bucket of the new share,
		// holding the same fraction of it as the old one held of its own.
		left := b.TokensAt(now) / float64(b.Burst())
		nb := rate.NewLimiter(every, share)
		nb.AllowN(now, share-int(math.Floor(left*float64(share))))
		b = nb
		k.cache.Add(key, b)
	}
	return b, share
}

// Allow takes one event for key, or refuses it with a *Refusal.
func (k *Keyed) Allow(key string) error {
	now := k.cfg.Now()
	b, share := k.bucket(key, now)
	if b.AllowN(now, 1) {
		return nil
	}
	return k.refuse(b, share, now)
}

// Check refuses, with a *Refusal, a key whose quota is spent, and takes
// nothing: for failures, which are counted after the fact by Fail.
func (k *Keyed) Check(key string) error {
	now := k.cfg.Now()
	b, share := k.bucket(key, now)
	if b.TokensAt(now) >= 1 {
		return nil
	}
	return k.refuse(b, share, now)
}

// Fail counts one failure of key.
func (k *Keyed) Fail(key string) {
	now := k.cfg.Now()
	b, _ := k.bucket(key, now)
	b.AllowN(now, 1)
}

func (k *Keyed) refuse(b *rate.Limiter, share int, now time.Time) error {
	tokens := b.TokensAt(now)
	// The time until one whole token is back; the limit is positive
	// (NewKeyed refuses a quota or window that is not).
	wait := max(time.Duration((1-tokens)/float64(b.Limit())*float64(time.Second)), 0)
	k.cfg.Metrics.refused(k.cfg.Name)
	var msg string
	switch k.cfg.Name {
	case CommandsPerAccount:
		msg = fmt.Sprintf("this account sent more than %d commands in %s", k.cfg.Quota, k.cfg.Window)
	case TokenFailuresPerIP:
		msg = fmt.Sprintf("more than %d refused tokens came from this address in %s", k.cfg.Quota, k.cfg.Window)
	default:
		msg = fmt.Sprintf("limit %s of %d per %s reached", k.cfg.Name, k.cfg.Quota, k.cfg.Window)
	}
	return refusal(k.cfg.Name, share, k.cfg.Window, int(math.Floor(math.Max(tokens, 0))), wait, msg)
}
