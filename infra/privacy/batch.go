package privacy

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
)

// Batch seals the events of one append without a round trip of its own:
// a person whose key is not in memory gets a new key, made here and not
// stored, which the append stores with the events it seals
// (postgres.Store.AppendWithKeys). Keys lists them; Stored tells the batch
// that the append landed, Found that some of those people had keys
// already. A Batch is for one append and one goroutine; keys a refused
// append did not store are simply dropped with it.
//
// The events and their keys commit together or not at all, so the keys
// must live in the database the events go to: the Vault's pool must be the
// event store's.
type Batch struct {
	v   *Vault
	gen uint64
	// known are subjects stored already (from the cache or Found);
	// pending the ones made here, by subject key, in the order made.
	known   map[string]*subject
	pending map[string]*subject
	order   []string
}

// NewBatch starts the sealing of one append's events.
func (v *Vault) NewBatch() *Batch {
	v.mu.RLock()
	gen := v.gen
	v.mu.RUnlock()
	return &Batch{v: v, gen: gen, known: map[string]*subject{}, pending: map[string]*subject{}}
}

// Seal is Vault.Seal with the batch's keys: known and cached people's
// keys, else a new pending one. It makes no round trip. Errors: those of
// Vault.Seal but the database's; on error the events are left as they
// were.
func (b *Batch) Seal(ctx context.Context, events []eventstore.EventData) error {
	return b.v.seal(events, b.subjects)
}

// subjects gives the subject of every key, making the missing ones.
func (b *Batch) subjects(keys []string) (map[string]*subject, error) {
	out := make(map[string]*subject, len(keys))
	var missing []string
	b.v.mu.RLock()
	for _, k := range keys {
		if _, seen := out[k]; seen {
			continue
		}
		switch s := b.lookupLocked(k); {
		case s != nil:
			out[k] = s
		default:
			out[k] = nil
			missing = append(missing, k)
		}
	}
	b.v.mu.RUnlock()
	for _, k := range missing {
		s, err := newPending(k)
		if err != nil {
			return nil, err
		}
		b.pending[k] = s
		b.order = append(b.order, k)
		out[k] = s
	}
	return out, nil
}

// lookupLocked finds k's subject in the batch or the vault's cache; the
// caller holds b.v.mu for reading.
func (b *Batch) lookupLocked(k string) *subject {
	if s := b.known[k]; s != nil {
		return s
	}
	if s := b.pending[k]; s != nil {
		return s
	}
	return b.v.cache[k]
}

func newPending(k string) (*subject, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("privacy: make a key: %w", err)
	}
	return newSubject(uuid.New(), key)
}

// Keys are the keys made by the batch, for the append to store, in the
// order of their people: two appends that insert keys for the same people
// take the rows' locks in one order, rather than deadlock.
func (b *Batch) Keys() []postgres.Key {
	if len(b.order) == 0 {
		return nil
	}
	slices.Sort(b.order)
	out := make([]postgres.Key, 0, len(b.order))
	for _, k := range b.order {
		s := b.pending[k]
		key := postgres.Key{Subject: s.id, Data: append([]byte(nil), s.key[:]...)}
		if k[0] == 'e' {
			key.Email = k[2:]
		} else {
			key.AccountID = k[2:]
		}
		out = append(out, key)
	}
	return out
}

// Found records the live keys an append found for people the batch made
// keys for (postgres.KeysTakenError): they replace the batch's own, which
// were not stored, and the next Seal uses them. The events sealed before
// must be sealed again, from their plaintext.
func (b *Batch) Found(live []postgres.Key) error {
	found := make(map[string]*subject, len(live))
	for _, k := range live {
		s, err := newSubject(k.Subject, k.Data)
		if err != nil {
			return err
		}
		key := accountKey(k.AccountID)
		if k.Email != "" {
			key = emailKey(k.Email)
		}
		found[key] = s
		b.known[key] = s
	}
	b.order = b.order[:0]
	for k := range b.pending {
		delete(b.pending, k)
	}
	b.v.remember(b.gen, found)
	return nil
}

// Stored records that the append stored the batch's keys: the vault keeps
// them for the next commands.
func (b *Batch) Stored() {
	if len(b.pending) == 0 {
		return
	}
	b.v.remember(b.gen, b.pending)
	b.pending, b.order = map[string]*subject{}, nil
}

// remember caches subjects read or stored when no flush came since gen: a
// flush means a forget may have destroyed one of them since.
func (v *Vault) remember(gen uint64, subjects map[string]*subject) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gen != gen {
		return
	}
	if len(v.cache)+len(subjects) > v.maxCache {
		v.cache = make(map[string]*subject, len(subjects))
	}
	for k, s := range subjects {
		v.cache[k] = s
	}
}
