// Package commands runs Roster's write side: each command loads its
// property's stream, asks the domain to decide, and appends the events with
// the expected revision. Conflicts are retried in one place (Executor.Run),
// and a repeated command with the same idempotency key has one effect.
package commands

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
)

// EventStore is what the write side needs of the event store.
type EventStore interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error)
	ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error)
}

// Vault keeps personal data in events sealed under a key per person: Seal
// before events are stored, Open after they are read (an erased person's
// fields open to markers).
type Vault interface {
	Seal(ctx context.Context, events []eventstore.EventData) error
	Open(ctx context.Context, recs []eventstore.RecordedEvent) error
}

// Meta is what a command carries besides its own fields: who sends it and
// from where, and the request's idempotency key and If-Match revision.
type Meta struct {
	Actor         domain.Actor
	CorrelationID string
	ClientIP      string
	UserAgent     string
	// IdempotencyKey, when set, makes a repeat of the command return the
	// first result instead of acting again.
	IdempotencyKey string
	// RequestHash fingerprints the request, so a key reused for another
	// request is refused rather than answered with the wrong result.
	RequestHash string
	// IfMatch, when set, is the revision the client last saw; a command
	// against a property at any other revision is refused.
	IfMatch *uint64
}

// Result says what a command did.
type Result struct {
	PropertyID string
	// Revision is the property's stream revision after the command.
	Revision uint64
	// Position is the global position of the command's last event, or of the
	// stream's last event when the command changed nothing.
	Position eventstore.Position
	// Events are the events the command appended (for a repeat, the ones the
	// first request appended). Empty when the command changed nothing.
	Events []domain.Event
	// Repeated is true when the result is that of an earlier request with the
	// same idempotency key.
	Repeated bool
}

// Decider decides a command against the loaded state. ids gives the IDs and
// nonces the decision needs; they are stable across repeats of one
// idempotency key.
type Decider func(p *domain.Property, now time.Time, ids IDs) ([]domain.Event, error)

// preparer is a Vault that can make people's keys before a command takes
// its property's lock, so sealing under the lock needs no round trip.
type preparer interface {
	Prepare(ctx context.Context, actor domain.Actor, emails []string) error
}

// Executor is the one place that loads, decides, appends and retries.
// It keeps recently used properties' states in memory, so a command against a
// long stream does not replay it; the expected revision of every append
// checks that the kept state is still the stream's head.
// It is safe for concurrent use.
type Executor struct {
	store      EventStore
	vault      Vault
	now        func() time.Time
	maxRetries int
	cache      *aggregates
	// cacheProps, cacheBytes and cacheIdle are the cache's bounds, from
	// the options.
	cacheProps, cacheBytes int
	cacheIdle              time.Duration
	// batches, when set, seal each append's events under keys the append
	// itself stores (WithKeysInAppend).
	batches func() KeyBatch
}

// KeyBatch seals one append's events under people's keys without a round
// trip: a person without a key in memory gets a new one, which the append
// stores with the events (infra/privacy's Batch, section 7 of
// docs/ARCHITECTURE.md).
type KeyBatch interface {
	// Seal seals the personal fields of events, as Vault.Seal does.
	Seal(ctx context.Context, events []eventstore.EventData) error
	// Keys are the keys Seal made, for the append to store.
	Keys() []postgres.Key
	// Found takes the live keys the append found for people Seal made
	// keys for; the events must then be sealed again.
	Found(live []postgres.Key) error
	// Stored says the append stored Keys.
	Stored()
}

// keyStore is an event store that stores people's keys in the append's
// own transaction.
type keyStore interface {
	AppendWithKeys(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData, keys []postgres.Key) (eventstore.AppendResult, error)
}

// DefaultMaxRetries bounds how often a command is decided again after losing
// a race for the stream's revision before it is reported as a conflict.
const DefaultMaxRetries = 8

// pageSize is how many events a load reads at a time.
const pageSize = 1000

// Option changes how an Executor is built.
type Option func(*Executor)

// WithVault seals personal fields of new events and opens those read.
func WithVault(v Vault) Option { return func(x *Executor) { x.vault = v } }

// WithKeysInAppend seals each append's events with a batch from newBatch,
// whose new keys the append stores in its own transaction, instead of a
// statement of the vault's per new person before it: for a store that can
// (the PostgreSQL one, on the database the vault's keys live in); with any
// other store, or without a vault, it does nothing. Open still goes to the
// vault.
func WithKeysInAppend(newBatch func() KeyBatch) Option {
	return func(x *Executor) { x.batches = newBatch }
}

// WithCache bounds the cached states by properties and by their estimated
// size in bytes;
// WithCache(0, 0) turns the cache off, so every command reads its stream.
func WithCache(properties, bytes int) Option {
	return func(x *Executor) { x.cacheProps, x.cacheBytes = properties, bytes }
}

// WithCacheIdle drops a cached state once no command has come to its
// property for idle (DefaultCacheIdle by default); zero or less keeps
// states however long they are idle, within the cache's bounds.
func WithCacheIdle(idle time.Duration) Option {
	return func(x *Executor) { x.cacheIdle = idle }
}

// NewExecutor returns an executor over store; now is the clock (time.Now when nil).
func NewExecutor(store EventStore, now func() time.Time, opts ...Option) *Executor {
	if now == nil {
		now = time.Now
	}
	x := &Executor{store: store, now: now, maxRetries: DefaultMaxRetries,
		cacheProps: DefaultCachedProperties, cacheBytes: DefaultCachedBytes, cacheIdle: DefaultCacheIdle}
	for _, o := range opts {
		o(x)
	}
	x.cache = newAggregates(x.cacheProps, x.cacheBytes, x.cacheIdle, now)
	if _, ok := store.(keyStore); !ok || x.vault == nil {
		x.batches = nil // sealed events need a vault to open them
	}
	return x
}

// Flush drops every cached state. Call it when data a state may hold in the
// clear has been erased.
func (x *Executor) Flush() { x.cache.flush() }

// Run executes decide against property propertyID. Errors: whatever decide
// returns; CodeInvalidText when the caller or request holds text no event may
// hold (see checkMeta) or decide returns such an event (see checkStorable);
// CodeStaleRevision (KindPrecondition) for a stale If-Match, told only to
// members (anyone else gets decide's answer first, a 404 for an outsider);
// CodeConcurrentModification when conflicts outlast the retries;
// CodeIdempotencyKeyReused when the key was used for another request.
func (x *Executor) Run(ctx context.Context, m Meta, propertyID string, decide Decider) (Result, error) {
	x.prepare(ctx, m.Actor, nil)
	return x.run(ctx, m, CommandID(m, propertyID), propertyID, decide)
}

// Inspect runs decide as Run does but for a question, not a command: it
// makes no keys in the vault, and decide must return no events.
func (x *Executor) Inspect(ctx context.Context, m Meta, propertyID string, decide Decider) error {
	_, err := x.run(ctx, m, CommandID(m, propertyID), propertyID, func(p *domain.Property, now time.Time, ids IDs) ([]domain.Event, error) {
		if events, err := decide(p, now, ids); err != nil || len(events) > 0 {
			return nil, cmp.Or(err, errInspectWrites)
		}
		return nil, nil
	})
	return err
}

// errInspectWrites is what Inspect answers when its decider returns events:
// a programming error, never appended.
var errInspectWrites = errors.New("commands: Inspect's decider returned events")

func (x *Executor) run(ctx context.Context, m Meta, cmdID uuid.UUID, propertyID string, decide Decider) (Result, error) {
	if err := checkMeta(m); err != nil {
		return Result{}, err
	}
	if _, err := uuid.Parse(propertyID); err != nil {
		return Result{}, domain.Errorf(domain.KindNotFound, domain.CodePropertyNotFound, "property %q does not exist", propertyID)
	}
	j := &job{m: m, cmdID: cmdID, decide: decide, ids: IDs{base: cmdID, stable: m.IdempotencyKey != ""}, done: make(chan struct{})}
	a := x.cache.enqueue(propertyID, j)
	for {
		select {
		case <-j.done:
			return j.res, j.err
		case a.lock <- struct{}{}:
			x.lead(ctx, a)
		case <-ctx.Done():
			if a.abandon(j) {
				return Result{}, ctx.Err()
			}
			<-j.done // a leader has it: its outcome is the truth
			return j.res, j.err
		}
	}
}

// job is one command waiting for its property.
type job struct {
	m      Meta
	cmdID  uuid.UUID
	decide Decider
	ids    IDs
	done   chan struct{}
	res    Result
	err    error
}

func (j *job) finish(res Result, err error) {
	j.res, j.err = res, err
	close(j.done)
}

// lead runs the commands waiting for a, which the caller has just locked,
// until none is left, then unlocks it. Commands that arrive while one
// append is under way wait together and go in the next append: a busy
// property costs one append per group instead of one per command, while
// each command is still decided on the state its predecessors left.
// The work is done for every waiting client, so one client's cancelled
// request does not cancel the others'.
func (x *Executor) lead(ctx context.Context, a *aggregate) {
	ctx = context.WithoutCancel(ctx)
	defer x.cache.release(a)
	for {
		jobs := a.take(maxGroup)
		if len(jobs) == 0 {
			return
		}
		x.runJobs(ctx, a, jobs)
	}
}

// knows reports whether actor is a member of p, enabled or not, and so may
// learn that p exists and its revision. Anyone else's command is decided
// even when its If-Match is stale, so that an outsider gets the decision's
// 404 rather than a 412 that would tell them the property exists.
func knows(p *domain.Property, actor domain.Actor) bool {
	return p.Members[actor.AccountID] != nil
}

// backoff waits a short, jittered, growing time so racing writers spread out.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(1<<min(attempt, 6)) * time.Millisecond
	d += time.Duration(rand.Int64N(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
