package auth

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// Bounds of a ServiceCache.
const (
	// serviceCacheTTL is the longest a verified token is taken again
	// without verifying it: a key the identity provider withdraws stops
	// working within it.
	serviceCacheTTL = time.Minute
	// serviceCacheSize bounds the tokens remembered; a full cache starts
	// afresh.
	serviceCacheSize = 4096
)

// ServiceCache remembers the service tokens a Verifier accepted, so a
// service sending the same token thousands of times a second pays for its
// signature and claims once a minute, not on every check. A token is
// taken from the cache until a minute after it was verified or its exp,
// whichever comes first; only accepted tokens are kept, by their SHA-256.
// It is safe for concurrent use.
type ServiceCache struct {
	v     *Verifier
	scope string
	now   func() time.Time

	mu   sync.RWMutex
	seen map[[sha256.Size]byte]cachedService
}

type cachedService struct {
	svc   Service
	until time.Time
}

// NewServiceCache verifies with v tokens carrying scope (see
// VerifyService); now is the clock, time.Now when nil.
func NewServiceCache(v *Verifier, scope string, now func() time.Time) *ServiceCache {
	if now == nil {
		now = time.Now
	}
	return &ServiceCache{v: v, scope: scope, now: now, seen: map[[sha256.Size]byte]cachedService{}}
}

// Verify is VerifyService, answered from the cache for a token accepted
// lately. Its errors are VerifyService's.
func (c *ServiceCache) Verify(ctx context.Context, rawToken string) (Service, error) {
	key := sha256.Sum256([]byte(rawToken))
	now := c.now()
	c.mu.RLock()
	hit, ok := c.seen[key]
	c.mu.RUnlock()
	if ok && now.Before(hit.until) {
		return hit.svc, nil
	}
	svc, err := c.v.VerifyService(ctx, rawToken, c.scope)
	if err != nil {
		return svc, err
	}
	until := now.Add(serviceCacheTTL)
	if svc.ExpiresAt.Before(until) {
		until = svc.ExpiresAt
	}
	c.mu.Lock()
	if len(c.seen) >= serviceCacheSize {
		c.seen = map[[sha256.Size]byte]cachedService{}
	}
	c.seen[key] = cachedService{svc: svc, until: until}
	c.mu.Unlock()
	return svc, nil
}
