// Package privacy keeps the personal data in events (emails, client IPs,
// user agents) sealed with a key per person, and forgets a person by
// destroying that key.
//
// Seal runs before events are appended: every personal field becomes
// "pii1:<subject>:<base64url(nonce|ciphertext)>", AES-256-GCM under the
// subject's key with the subject and the field name as additional data, so a
// value cannot be moved to another person or field unnoticed. Open runs after
// events are read and turns each sealed value back into plaintext, or into an
// erased marker (ErasedEmail, ErasedIP, ErasedUserAgent) when the subject has
// been forgotten. Values written before sealing existed are plain and pass
// through Open unchanged. The event store never sees a key, so replays,
// rebuilds and the hash chain over the stored bytes keep working after a
// forget; only what Open gives changes.
//
// Keys live in PostgreSQL (privacy_subjects, migration 0007), in plain: the
// table must be guarded like the database itself, and deleting a key is what
// makes the data unreadable.
package privacy

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// Erased markers: what Open gives for a value whose subject was forgotten,
// and what Forget writes over the plaintext copies in the read models, so
// that a rebuild after a forget gives the same rows as the scrub did.
//
// An email becomes ErasedEmail(subject): an address under the reserved
// .invalid top-level domain (RFC 2606), which no mail can reach and no real
// address uses, unique per person because the domain keys pending
// invitations by email and two forgotten invitees must not collide. Client
// IPs and user agents become the word "erased": the audit table keeps both as
// text (migration 0003), the API documents them as plain strings, and
// nothing parses them, so a word a reader recognises serves better than a
// fake address from some reserved range.
const (
	// ErasedDomain is the domain of every erased email.
	ErasedDomain = "erased.invalid"
	// ErasedIP stands for the client IP of a forgotten person.
	ErasedIP = "erased"
	// ErasedUserAgent stands for the user agent of a forgotten person.
	ErasedUserAgent = "erased"
)

// ErasedEmail is the address that stands for the forgotten subject's email:
// erased-<the subject ID's 32 hex digits>@erased.invalid.
func ErasedEmail(subject uuid.UUID) string {
	return "erased-" + hexID(subject) + "@" + ErasedDomain
}

// IsErasedEmail reports whether email is an erased marker.
func IsErasedEmail(email string) bool {
	return strings.HasPrefix(email, "erased-") && strings.HasSuffix(email, "@"+ErasedDomain)
}

// Vault seals and opens the personal fields of events with per-person keys
// kept in PostgreSQL. It is safe for concurrent use.
type Vault struct {
	pool     *pgxpool.Pool
	log      zerolog.Logger
	maxCache int

	// cache maps a subject key ("e:" email or "a:" account ID) to its live
	// subject, for Seal only: Open always asks the database, so it never
	// decrypts with a key that another process has destroyed.
	mu    sync.RWMutex
	cache map[string]*subject
	// gen counts cache flushes. A lookup that started before a flush must
	// not fill the cache after it: it may have read a key that the flush's
	// forget has just destroyed.
	gen uint64

	// onListen, when set (by tests), is called each time Watch is listening.
	onListen func()
}

// Option configures a Vault.
type Option func(*Vault)

// WithLogger makes the vault log Watch's lost connections to log.
func WithLogger(log zerolog.Logger) Option { return func(v *Vault) { v.log = log } }

// WithCacheSize bounds how many subjects Seal keeps in memory (default
// DefaultCacheSize); the cache is emptied when it is full.
func WithCacheSize(n int) Option { return func(v *Vault) { v.maxCache = n } }

// DefaultCacheSize is how many subjects Seal remembers by default.
const DefaultCacheSize = 100_000

// NewVault returns a vault over the privacy_subjects table of pool's database.
func NewVault(pool *pgxpool.Pool, opts ...Option) *Vault {
	v := &Vault{pool: pool, log: zerolog.Nop(), maxCache: DefaultCacheSize, cache: map[string]*subject{}}
	for _, o := range opts {
		o(v)
	}
	if v.maxCache <= 0 {
		v.maxCache = DefaultCacheSize
	}
	return v
}

// subject is a person's live key, ready to use.
type subject struct {
	id  uuid.UUID
	tag string // the ID's 32 hex digits, as sealed values name it
	key [32]byte
}

func newSubject(id uuid.UUID, key []byte) (*subject, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("subject %s: key of %d bytes, want 32", id, len(key))
	}
	s := &subject{id: id, tag: hexID(id)}
	copy(s.key[:], key)
	return s, nil
}

// aead returns the subject's cipher. It is made on each use rather than
// kept: a GCM keeps about 1 KB of tables, which across the tens of thousands
// of cached subjects of a large property was the biggest part of the
// server's heap, and making one takes about a microsecond. Random nonces are
// safe for 2^32 values per key, far beyond what one person's events hold.
func (s *subject) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.key[:])
	if err != nil {
		return nil, fmt.Errorf("subject %s: %w", s.id, err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("subject %s: %w", s.id, err)
	}
	return aead, nil
}

// flush forgets every cached subject.
func (v *Vault) flush() {
	v.mu.Lock()
	v.cache = map[string]*subject{}
	v.gen++
	v.mu.Unlock()
}

func hexID(id uuid.UUID) string { return hex.EncodeToString(id[:]) }
