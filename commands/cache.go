package commands

import (
	"container/list"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// Default bounds of the aggregate cache: how many properties, and roughly
// how many bytes their states take. States are weighed because one
// property's state grows with its members and invitations: a bound on
// properties alone would let a few large ones take the server's memory.
const (
	DefaultCachedProperties = 4096
	DefaultCachedBytes      = 64 << 20
)

// DefaultCacheIdle is how long a cached state stays after its last
// command. A state is worth its memory while commands keep coming to its
// property; one left from a burst long past (a bulk import, the setup of a
// property) would otherwise stay until newer ones push it out, and every
// garbage collection marks it meanwhile. Reading it again costs one load of
// its stream.
const DefaultCacheIdle = time.Minute

// Rough heap sizes of a state's parts, measured by folding 100,000
// members into a Property (about 700 bytes per member with its invitation).
const (
	memberBytes     = 300
	invitationBytes = 400
	keyedBytes      = 160
	stateBytes      = 1024
)

// weigh estimates the heap a's state takes.
func weigh(a *aggregate) int {
	if !a.loaded {
		return 0
	}
	return stateBytes + memberBytes*len(a.state.Members) + invitationBytes*len(a.state.Invitations) + keyedBytes*len(a.keyed)
}

// aggregate is one property's state as this process last saw it, with what
// the next append needs: the revision (state.Version), the chain link of the
// last event, and the commands with idempotency keys already in the stream.
// Commands against the property wait in pending; whoever holds lock runs
// them, so the state is never read and written at once.
type aggregate struct {
	id   string
	lock chan struct{}
	// pending are the commands waiting for the property.
	qmu     sync.Mutex
	pending []*job
	loaded  bool
	state   *domain.Property
	last    eventstore.Position
	head    string
	keyed   map[string]keyedCommand
	// counted is what this entry adds to the cache's weight, in bytes.
	counted int
	elem    *list.Element
	// used is when the last command against it ended.
	used time.Time
}

// keyedCommand is where a command with an idempotency key left its events.
type keyedCommand struct {
	first, last uint64
	position    eventstore.Position
	requestHash string
}

func (a *aggregate) reset() {
	a.loaded = false
	a.state = domain.NewProperty(a.id)
	a.last = eventstore.Start
	a.head = chain.Genesis
	a.keyed = map[string]keyedCommand{}
}

// note records the event at rec.Revision if its command had a key. Keyed
// command IDs are name-based (UUID version 5), random ones version 4, so the
// stream says which commands can be repeated without another field.
func (a *aggregate) note(commandID string, revision uint64, pos eventstore.Position, requestHash string) {
	id, err := uuid.Parse(commandID)
	if err != nil || id.Version() != 5 {
		return
	}
	k, ok := a.keyed[commandID]
	if !ok {
		k = keyedCommand{first: revision, requestHash: requestHash}
	}
	k.last, k.position = revision, pos
	a.keyed[commandID] = k
}

// aggregates is a bounded, least recently used cache of aggregates. A
// cached state is only a guess at the stream's head: every append names the
// revision it was decided on, and the store refuses it if the stream moved.
//
// Entries idle for longer than idle are dropped too: by the next command
// that comes to the cache, or by a timer while none comes.
type aggregates struct {
	mu       sync.Mutex
	byID     map[string]*aggregate
	order    *list.List // front: most recently used
	bytes    int
	maxProps int
	maxBytes int
	idle     time.Duration // zero: entries stay however long they are idle
	now      func() time.Time
	timer    *time.Timer // armed while entries may become idle
}

func newAggregates(maxProps, maxBytes int, idle time.Duration, now func() time.Time) *aggregates {
	return &aggregates{byID: map[string]*aggregate{}, order: list.New(), maxProps: maxProps, maxBytes: maxBytes,
		idle: max(idle, 0), now: now}
}

// enqueue adds j to the property's waiting commands and returns its entry.
func (c *aggregates) enqueue(id string, j *job) *aggregate {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep()
	a := c.byID[id]
	if a == nil {
		a = &aggregate{id: id, lock: make(chan struct{}, 1)}
		a.reset()
		a.elem = c.order.PushFront(a)
		c.byID[id] = a
	} else if a.elem != nil {
		c.order.MoveToFront(a.elem)
	}
	a.qmu.Lock()
	a.pending = append(a.pending, j)
	a.qmu.Unlock()
	return a
}

// take removes up to n waiting commands of a, oldest first.
func (a *aggregate) take(n int) []*job {
	a.qmu.Lock()
	defer a.qmu.Unlock()
	n = min(n, len(a.pending))
	out := append([]*job(nil), a.pending[:n]...)
	a.pending = append(a.pending[:0], a.pending[n:]...)
	return out
}

// abandon removes j from the waiting commands if no leader has taken it.
func (a *aggregate) abandon(j *job) bool {
	a.qmu.Lock()
	defer a.qmu.Unlock()
	for i, p := range a.pending {
		if p == j {
			a.pending = append(a.pending[:i], a.pending[i+1:]...)
			return true
		}
	}
	return false
}

// release unlocks a and evicts the least recently used entries beyond the
// bounds. An evicted entry that a command still holds or waits for stays
// usable by it; it is simply not found again.
func (c *aggregates) release(a *aggregate) {
	c.mu.Lock()
	if a.elem != nil && c.byID[a.id] == a {
		n := weigh(a)
		c.bytes += n - a.counted
		a.counted = n
		a.used = c.now()
		c.arm()
	}
	// One property heavier than the bound is still kept: evicting it would
	// only make every command against it replay its stream.
	for c.order.Len() > c.maxProps || (c.bytes > c.maxBytes && c.order.Len() > 1) {
		c.evict(c.order.Back().Value.(*aggregate))
	}
	c.mu.Unlock()
	<-a.lock
}

// sweep drops the least recently used entries idle for longer than the
// cache's idle time, from the back of the order, where the oldest are.
// An entry with commands waiting or running is in use, whatever its time
// says. The caller holds c.mu.
func (c *aggregates) sweep() {
	if c.idle == 0 {
		return
	}
	cutoff := c.now().Add(-c.idle)
	for e := c.order.Back(); e != nil; {
		a := e.Value.(*aggregate)
		if !a.used.Before(cutoff) {
			return
		}
		e = e.Prev()
		if !a.busy() {
			c.evict(a)
		}
	}
}

// busy reports whether a command holds a or waits for it.
func (a *aggregate) busy() bool {
	if len(a.lock) > 0 {
		return true
	}
	a.qmu.Lock()
	defer a.qmu.Unlock()
	return len(a.pending) > 0
}

// arm starts the timer that sweeps an idle cache, unless it runs already.
// The caller holds c.mu.
func (c *aggregates) arm() {
	if c.idle == 0 || c.timer != nil {
		return
	}
	c.timer = time.AfterFunc(c.idle, c.tick)
}

// tick sweeps and waits for the next entry to become idle, while any is
// left: a server that no command reaches still lets go of its states.
func (c *aggregates) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timer = nil
	c.sweep()
	if c.order.Len() > 0 {
		c.arm()
	}
}

func (c *aggregates) evict(a *aggregate) {
	c.order.Remove(a.elem)
	a.elem = nil
	delete(c.byID, a.id)
	c.bytes -= a.counted
	a.counted = 0
}

// flush forgets every entry, e.g. after a person's data was erased: cached
// states may hold it in the clear.
func (c *aggregates) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.byID {
		a.elem = nil
		a.counted = 0
	}
	c.byID = map[string]*aggregate{}
	c.order.Init()
	c.bytes = 0
}
