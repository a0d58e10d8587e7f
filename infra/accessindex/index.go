// Package accessindex keeps, in memory, who may do what on which property:
// the access read model, loaded at start and kept current from the event
// feed, so the platform's services get an answer without a database round
// trip. Every instance keeps its own: it is a cache of the read side, with
// no checkpoint of its own, and it follows the feed from the position its
// load was taken at.
//
// It is bounded: beyond Config.MaxEntries, properties not asked about
// lately are dropped and read again from the read model when next asked.
// An answer says the position it was taken at; Check waits, bounded, for
// a position it has not reached, and otherwise answers from PostgreSQL.
package accessindex

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// Source is the access read model the index loads from.
type Source interface {
	// EachGrant calls fn for every membership, property by property, and
	// returns the position the read model was read at.
	EachGrant(ctx context.Context, fn func(readmodels.Grant) error) (eventstore.Position, error)
	// PropertyGrants returns one property's memberships and the position
	// they were read at.
	PropertyGrants(ctx context.Context, propertyID string) ([]readmodels.Grant, eventstore.Position, error)
}

// Feed is the event store's global feed.
type Feed interface {
	SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error)
	// Head is the position of the last event a reader may be given now.
	Head(ctx context.Context) (eventstore.Position, error)
}

// committedFeed is a feed that may hold events back from readers, behind a
// transaction still open, and can say what has been committed regardless
// (the PostgreSQL event store). Freshness is measured against that: an
// index that has reached the head readers may be given has not seen what
// was committed behind the hold, so it cannot yet say it holds everything
// committed before it looked.
type committedFeed interface {
	LastCommitted(ctx context.Context) (eventstore.Position, error)
}

// Defaults of Config.
const (
	DefaultMaxEntries   = 1_000_000
	DefaultMaxStaleness = time.Second
	DefaultMaxWait      = 2 * time.Second
	DefaultRecent       = 1 << 16
)

// Config tunes an Index. The zero value takes every default.
type Config struct {
	// MaxEntries bounds what the index holds: one entry per membership and
	// one per property. Beyond it, properties not asked about since the
	// last sweep are dropped. DefaultMaxEntries when zero.
	MaxEntries int
	// MaxStaleness is how old an answer without at_least may be: every
	// event committed that long before it is reflected.
	// DefaultMaxStaleness when zero.
	MaxStaleness time.Duration
	// MaxWait bounds how long a check waits for the index to reach a
	// position or freshness before it turns to PostgreSQL.
	// DefaultMaxWait when zero.
	MaxWait time.Duration
	// Recent is how many access changes the index remembers, to bring a
	// property read from a read model that lags the index up to the index.
	// DefaultRecent when zero.
	Recent int
	// Log receives the feed's failures and the events it cannot read.
	Log zerolog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.MaxStaleness <= 0 {
		c.MaxStaleness = DefaultMaxStaleness
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Recent <= 0 {
		c.Recent = DefaultRecent
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// member is one membership: the role, and whether access is disabled.
type member struct {
	role     domain.Role
	disabled bool
	// until is when the access ends, in Unix microseconds; 0 when it does
	// not. From then on the member counts as disabled, before
	// MemberAccessExpired says so (section 12 of docs/ARCHITECTURE.md).
	until int64
}

// statusAt is the member's status at now.
func (m member) statusAt(now time.Time) domain.MemberStatus {
	if m.disabled || m.until != 0 && now.UnixMicro() >= m.until {
		return domain.StatusDisabled
	}
	return domain.StatusEnabled
}

// unixMicro is t in Unix microseconds, 0 for nil.
func unixMicro(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.UnixMicro()
}

// property is what the index holds of one property.
type property struct {
	owner   string
	members map[string]member
	// roles are the property's custom roles (nil: none), which answers
	// evaluate a member's role with.
	roles domain.Roles
	// at is the position the property was read from the read model at:
	// events of the feed at or before it are in members already.
	at eventstore.Position
	// used marks a property asked about since the last sweep.
	used atomic.Bool
}

func (p *property) size() int { return 1 + len(p.members) }

// Index answers access checks from memory. It is safe for concurrent use.
type Index struct {
	cfg  Config
	src  Source
	feed Feed

	mu sync.RWMutex
	// loaded is set once the first load is in.
	loaded bool
	props  map[string]*property
	// complete says that props holds every property: a property it lacks
	// has no member. It stays false once a sweep has dropped one.
	complete bool
	entries  int
	pos      eventstore.Position
	// changed is closed, and replaced, whenever pos or fresh moves.
	changed chan struct{}
	// fresh is when the index last knew it held every event committed by
	// then (see probe).
	fresh time.Time
	probe pendingProbe
	// recent holds the last changes, oldest first from recentNext; every
	// change after recentFrom is in it.
	recent     []change
	recentNext int
	recentFrom eventstore.Position

	loads singleflight.Group
}

// pendingProbe is a head of the feed read at a time, waiting for the
// index to reach it.
type pendingProbe struct {
	pending bool
	at      time.Time
	head    eventstore.Position
}

// New returns an Index over the read model src and the feed; Run loads
// and follows it.
func New(src Source, feed Feed, cfg Config) *Index {
	cfg.setDefaults()
	return &Index{cfg: cfg, src: src, feed: feed, props: map[string]*property{},
		changed: make(chan struct{}), recent: make([]change, 0, cfg.Recent)}
}

// committedHead is the position every event committed before the call lies
// at or before: LastCommitted where the feed holds events back, else Head.
func (x *Index) committedHead(ctx context.Context) (eventstore.Position, error) {
	if f, ok := x.feed.(committedFeed); ok {
		return f.LastCommitted(ctx)
	}
	return x.feed.Head(ctx)
}

// Position is the position of the feed the index has applied.
func (x *Index) Position() eventstore.Position {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.pos
}

// Entries is how many entries (memberships and properties) the index holds.
func (x *Index) Entries() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.entries
}

// FreshAt is when the index last knew it held every event committed by
// then; zero before it first did.
func (x *Index) FreshAt() time.Time {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.fresh
}

// broadcast wakes every waiter; call it with mu held for writing.
func (x *Index) broadcast() {
	close(x.changed)
	x.changed = make(chan struct{})
}

// install puts p in the index and sweeps when over the bound; call it with
// mu held for writing.
func (x *Index) install(pid string, p *property) {
	if old := x.props[pid]; old != nil {
		x.entries -= old.size()
	}
	x.props[pid] = p
	x.entries += p.size()
	x.sweep()
}

// sweep drops properties until the index is a tenth under its bound:
// first those not asked about since the last sweep (clearing the mark of
// the others), then, if that is not enough, any. Call it with mu held for
// writing.
func (x *Index) sweep() {
	if x.entries <= x.cfg.MaxEntries {
		return
	}
	target := x.cfg.MaxEntries - x.cfg.MaxEntries/10
	for pass := 0; pass < 2 && x.entries > target; pass++ {
		for pid, p := range x.props {
			if x.entries <= target {
				break
			}
			if pass == 0 && p.used.Swap(false) {
				continue
			}
			x.entries -= p.size()
			delete(x.props, pid)
			x.complete = false
		}
	}
}
