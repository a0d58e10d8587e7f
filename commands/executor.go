// Package commands runs Roster's write side: each command loads its
// property's stream, asks the domain to decide, and appends the events with
// the expected revision. Conflicts are retried in one place (Executor.Run),
// and a repeated command with the same idempotency key has one effect.
package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/eventstore"
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

// WithCache bounds the cached states by properties and by their estimated
// size in bytes;
// WithCache(0, 0) turns the cache off, so every command reads its stream.
func WithCache(properties, bytes int) Option {
	return func(x *Executor) { x.cache = newAggregates(properties, bytes) }
}

// NewExecutor returns an executor over store; now is the clock (time.Now when nil).
func NewExecutor(store EventStore, now func() time.Time, opts ...Option) *Executor {
	if now == nil {
		now = time.Now
	}
	x := &Executor{store: store, now: now, maxRetries: DefaultMaxRetries,
		cache: newAggregates(DefaultCachedProperties, DefaultCachedBytes)}
	for _, o := range opts {
		o(x)
	}
	return x
}

// Flush drops every cached state. Call it when data a state may hold in the
// clear has been erased.
func (x *Executor) Flush() { x.cache.flush() }

// idempotencyNamespace scopes command IDs derived from idempotency keys.
var idempotencyNamespace = uuid.MustParse("5b0d3c1e-8a5f-4c0e-9d43-7a1b2f6e9c10")

// CommandID returns the ID of the command m describes: derived from the
// actor, the idempotency key and the property it acts on (empty for a
// creation) when there is a key, random otherwise. A key is thus scoped to
// one property: the same key on another property is another command.
func CommandID(m Meta, propertyID string) uuid.UUID {
	if m.IdempotencyKey == "" {
		return uuid.New()
	}
	return uuid.NewSHA1(idempotencyNamespace, []byte(m.Actor.AccountID+"\x00"+propertyID+"\x00"+m.IdempotencyKey))
}

// Run executes decide against property propertyID. Errors: whatever decide
// returns; CodeStaleRevision (KindPrecondition) for a stale If-Match;
// CodeConcurrentModification when conflicts outlast the retries;
// CodeIdempotencyKeyReused when the key was used for another request.
func (x *Executor) Run(ctx context.Context, m Meta, propertyID string, decide Decider) (Result, error) {
	return x.run(ctx, m, CommandID(m, propertyID), propertyID, decide)
}

func (x *Executor) run(ctx context.Context, m Meta, cmdID uuid.UUID, propertyID string, decide Decider) (Result, error) {
	if _, err := uuid.Parse(propertyID); err != nil {
		return Result{}, domain.Errorf(domain.KindNotFound, domain.CodePropertyNotFound, "property %q does not exist", propertyID)
	}
	x.prepare(ctx, m.Actor, nil)
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

// maxGroup bounds how many waiting commands one append carries.
const maxGroup = 64

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
		switch len(jobs) {
		case 0:
			return
		case 1:
			jobs[0].finish(x.runOne(ctx, a, jobs[0]))
		default:
			x.runGroup(ctx, a, jobs)
		}
	}
}

// runGroup decides jobs in order on a's state, read fresh from the stream,
// each seeing the events of those before it, and appends all their events
// at once. A conflict (another instance wrote) decides the whole group
// again; a command with If-Match is then refused, as runOne does.
func (x *Executor) runGroup(ctx context.Context, a *aggregate, jobs []*job) {
	stream := domain.StreamName(a.id)
	type outcome struct {
		res     Result
		err     error
		decided bool // appended events
		final   bool // res is the answer as it stands (a repeat or a no-op)
		sameAs  int  // index of an earlier job with the same command ID, or -1
	}
	for attempt := 0; ; attempt++ {
		if err := x.catchUp(ctx, a, stream); err != nil {
			for _, j := range jobs {
				j.finish(Result{}, err)
			}
			return
		}
		base := a.state.Version
		head := a.head
		now := x.now().UTC().Truncate(time.Microsecond)
		outs := make([]outcome, len(jobs))
		seen := map[string]int{}
		var data []eventstore.EventData
		for i, j := range jobs {
			o := &outs[i]
			o.sameAs = -1
			want := j.cmdID.String()
			if first, ok := seen[want]; ok { // keyed earlier in this group: not stored yet
				o.sameAs = first
				continue
			}
			if k, ok := a.keyed[want]; ok {
				o.res, o.err = x.keyedRepeat(ctx, stream, a.id, want, k, j.m)
				o.final = true
				continue
			}
			p := a.state
			if j.m.IfMatch != nil && p.Exists() && p.Version-1 != *j.m.IfMatch {
				o.err = domain.Errorf(domain.KindPrecondition, domain.CodeStaleRevision,
					"property %s is at revision %d, not %d as If-Match says; reload and try again", a.id, p.Version-1, *j.m.IfMatch)
				continue
			}
			events, err := j.decide(p, now, j.ids)
			if err != nil {
				o.err = err
				continue
			}
			if len(events) == 0 {
				// Its position is the stream's last, known after the append.
				o.res = Result{PropertyID: a.id, Revision: p.Version - 1}
				continue
			}
			enc, next, err := x.encode(ctx, stream, p.Version, head, events, j.m, j.cmdID, now)
			if err != nil {
				o.err = err
				continue
			}
			head = next
			data = append(data, enc...)
			for _, e := range events {
				p.Apply(e, now)
			}
			o.decided = true
			o.res = Result{PropertyID: a.id, Revision: p.Version - 1, Events: events}
			if j.m.IdempotencyKey != "" {
				seen[want] = i
				a.keyed[want] = keyedCommand{first: p.Version - uint64(len(events)), last: p.Version - 1, requestHash: j.m.RequestHash}
			}
		}
		var res eventstore.AppendResult
		var err error
		if len(data) > 0 {
			expected := eventstore.NoStream()
			if base > 0 {
				expected = eventstore.Exact(base - 1)
			}
			res, err = x.store.Append(ctx, stream, expected, data)
		}
		if err == nil {
			if len(data) > 0 {
				a.last, a.head = res.Position, head
				for want := range seen {
					k := a.keyed[want]
					k.position = res.Position
					a.keyed[want] = k
				}
			}
			for i, j := range jobs {
				o := outs[i]
				switch {
				case o.sameAs >= 0:
					first := outs[o.sameAs]
					if j.m.RequestHash != "" && jobs[o.sameAs].m.RequestHash != j.m.RequestHash {
						j.finish(Result{}, domain.Errorf(domain.KindInvalid, domain.CodeIdempotencyKeyReused,
							"idempotency key %q was already used for a different request", j.m.IdempotencyKey))
						continue
					}
					r := first.res
					r.Position, r.Repeated = res.Position, true
					j.finish(r, nil)
				case o.err != nil:
					j.finish(Result{}, o.err)
				case o.final:
					j.finish(o.res, nil)
				default: // appended, or changed nothing: both answer the stream's last position
					o.res.Position = a.last
					j.finish(o.res, nil)
				}
			}
			return
		}
		// The tentative events are in a's state but not in the stream.
		a.reset()
		conflict := errors.Is(err, eventstore.ErrConflict)
		if !conflict || attempt >= x.maxRetries {
			if conflict {
				err = domain.Errorf(domain.KindConflict, domain.CodeConcurrentModification,
					"property %s is being changed by many requests at once; try again", a.id)
			} else {
				err = fmt.Errorf("append to %s: %w", stream, err)
			}
			for _, j := range jobs {
				j.finish(Result{}, err)
			}
			return
		}
		kept := jobs[:0]
		for _, j := range jobs {
			if j.m.IfMatch != nil {
				j.finish(Result{}, domain.Errorf(domain.KindPrecondition, domain.CodeStaleRevision,
					"property %s changed while the command ran; reload and try again", a.id))
				continue
			}
			kept = append(kept, j)
		}
		jobs = kept
		if len(jobs) == 0 {
			return
		}
		if attempt > 0 {
			_ = backoff(ctx, attempt) // ctx cannot end: lead detached it
		}
	}
}

// runOne runs one command against a, which the caller holds.
func (x *Executor) runOne(ctx context.Context, a *aggregate, j *job) (Result, error) {
	m, cmdID, propertyID, decide, ids := j.m, j.cmdID, a.id, j.decide, j.ids
	stream := domain.StreamName(propertyID)
	// fresh says whether a's state was read from the stream during this run.
	// A cached state may be behind when another instance wrote: an append
	// finds that out by itself, but an answer that appends nothing (a
	// refusal, a no-op, a stale If-Match) is only given from a fresh state.
	fresh := false
	if !a.loaded {
		if err := x.catchUp(ctx, a, stream); err != nil {
			return Result{}, err
		}
		fresh = true
	}
	want := cmdID.String()
	for attempt := 0; ; attempt++ {
		if k, ok := a.keyed[want]; ok {
			return x.keyedRepeat(ctx, stream, propertyID, want, k, m)
		}
		p := a.state
		stale := m.IfMatch != nil && p.Exists() && p.Version-1 != *m.IfMatch
		// PostgreSQL keeps microseconds; deciding on the same precision makes
		// what a command answers equal what the read models later show.
		now := x.now().UTC().Truncate(time.Microsecond)
		var events []domain.Event
		var derr error
		if !stale {
			events, derr = decide(p, now, ids)
		}
		if !fresh && (stale || derr != nil || len(events) == 0) {
			if err := x.catchUp(ctx, a, stream); err != nil {
				return Result{}, err
			}
			fresh = true
			continue
		}
		if stale {
			return Result{}, domain.Errorf(domain.KindPrecondition, domain.CodeStaleRevision,
				"property %s is at revision %d, not %d as If-Match says; reload and try again", propertyID, p.Version-1, *m.IfMatch)
		}
		if derr != nil {
			return Result{}, derr
		}
		if len(events) == 0 {
			return Result{PropertyID: propertyID, Revision: p.Version - 1, Position: a.last}, nil
		}
		data, head, err := x.encode(ctx, stream, p.Version, a.head, events, m, cmdID, now)
		if err != nil {
			return Result{}, err
		}
		expected := eventstore.NoStream()
		if p.Exists() {
			expected = eventstore.Exact(p.Version - 1)
		}
		res, err := x.store.Append(ctx, stream, expected, data)
		if err == nil {
			first := p.Version
			for _, e := range events {
				p.Apply(e, now)
			}
			a.last, a.head = res.Position, head
			if m.IdempotencyKey != "" {
				a.keyed[want] = keyedCommand{first: first, last: res.Revision, position: res.Position, requestHash: m.RequestHash}
			}
			return Result{PropertyID: propertyID, Revision: res.Revision, Position: res.Position, Events: events}, nil
		}
		if !errors.Is(err, eventstore.ErrConflict) {
			// The append may or may not have landed: read the stream afresh next time.
			a.reset()
			return Result{}, fmt.Errorf("append to %s: %w", stream, err)
		}
		if err := x.catchUp(ctx, a, stream); err != nil {
			return Result{}, err
		}
		fresh = true
		if m.IfMatch != nil {
			return Result{}, domain.Errorf(domain.KindPrecondition, domain.CodeStaleRevision,
				"property %s changed while the command ran; reload and try again", propertyID)
		}
		if attempt >= x.maxRetries {
			return Result{}, domain.Errorf(domain.KindConflict, domain.CodeConcurrentModification,
				"property %s is being changed by many requests at once; try again", propertyID)
		}
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return Result{}, err
			}
		}
	}
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

// catchUp applies the events appended to the stream since a's state, a
// page at a time, noting the chain's head and the keyed commands. The stream
// itself is the idempotency record, so a repeat is recognised even if the
// first response never reached the client.
func (x *Executor) catchUp(ctx context.Context, a *aggregate, stream string) error {
	for {
		recs, err := x.store.ReadStreamPage(ctx, stream, a.state.Version, pageSize)
		if err != nil {
			a.reset()
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if len(recs) > 0 {
			// The link is over the bytes as stored, so it is read before
			// opening rewrites them.
			link, err := chain.Read(recs[len(recs)-1])
			if err != nil {
				a.reset()
				return fmt.Errorf("read %s: %w", stream, err)
			}
			if err := x.open(ctx, recs); err != nil {
				a.reset()
				return err
			}
			for _, rec := range recs {
				if rec.Revision != a.state.Version {
					a.reset()
					return fmt.Errorf("read %s: expected revision %d, found %d: the stream has a gap", stream, a.state.Version, rec.Revision)
				}
				e, meta, err := decode(rec)
				if err != nil {
					a.reset()
					return err
				}
				a.state.Apply(e, meta.OccurredAt)
				a.last = rec.Position
				a.note(meta.CommandID, rec.Revision, rec.Position, meta.RequestHash)
			}
			a.head = link.Hash
		}
		if len(recs) < pageSize {
			a.loaded = true
			return nil
		}
	}
}

// keyedRepeat answers a command whose key is in the stream already: with the
// first run's result, or refused when the key came with another request.
func (x *Executor) keyedRepeat(ctx context.Context, stream, propertyID, commandID string, k keyedCommand, m Meta) (Result, error) {
	if m.RequestHash != "" && k.requestHash != m.RequestHash {
		return Result{}, domain.Errorf(domain.KindInvalid, domain.CodeIdempotencyKeyReused,
			"idempotency key %q was already used for a different request", m.IdempotencyKey)
	}
	return x.repeat(ctx, stream, propertyID, commandID, k)
}

// repeat answers a repeated keyed command with the events its first run
// appended, read back from the stream.
func (x *Executor) repeat(ctx context.Context, stream, propertyID, commandID string, k keyedCommand) (Result, error) {
	out := Result{PropertyID: propertyID, Repeated: true, Revision: k.last, Position: k.position}
	for from := k.first; from <= k.last; {
		recs, err := x.store.ReadStreamPage(ctx, stream, from, int(min(k.last-from+1, pageSize)))
		if err != nil {
			return Result{}, fmt.Errorf("read %s: %w", stream, err)
		}
		if len(recs) == 0 {
			return Result{}, fmt.Errorf("read %s: events %d to %d of command %s are gone", stream, from, k.last, commandID)
		}
		if err := x.open(ctx, recs); err != nil {
			return Result{}, err
		}
		for _, rec := range recs {
			e, meta, err := decode(rec)
			if err != nil {
				return Result{}, err
			}
			if meta.CommandID == commandID {
				out.Events = append(out.Events, e)
			}
		}
		from = recs[len(recs)-1].Revision + 1
	}
	return out, nil
}

// prepare asks the vault, if it can, to make the keys of actor and emails
// now. Its error is dropped on purpose: Seal makes missing keys itself and
// reports what fails then.
func (x *Executor) prepare(ctx context.Context, actor domain.Actor, emails []string) {
	if p, ok := x.vault.(preparer); ok {
		_ = p.Prepare(ctx, actor, emails)
	}
}

func (x *Executor) open(ctx context.Context, recs []eventstore.RecordedEvent) error {
	if x.vault == nil {
		return nil
	}
	if err := x.vault.Open(ctx, recs); err != nil {
		return fmt.Errorf("open events of %s: %w", recs[0].StreamID, err)
	}
	return nil
}

func decode(rec eventstore.RecordedEvent) (domain.Event, domain.Metadata, error) {
	var meta domain.Metadata
	if err := json.Unmarshal(rec.Metadata, &meta); err != nil {
		return nil, meta, fmt.Errorf("event %s of %s: metadata: %w", rec.ID, rec.StreamID, err)
	}
	e, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		return nil, meta, fmt.Errorf("event %s of %s: %w", rec.ID, rec.StreamID, err)
	}
	return e, meta, nil
}

// encode turns decided events into stored ones: metadata, personal fields
// sealed, then linked into the property's hash chain after prev, the last
// event's link. first is the revision the first event will have. It returns
// the new head of the chain.
func (x *Executor) encode(ctx context.Context, stream string, first uint64, prev string, events []domain.Event, m Meta, cmdID uuid.UUID, now time.Time) ([]eventstore.EventData, string, error) {
	data, err := encode(events, m, cmdID, now)
	if err != nil {
		return nil, "", err
	}
	if x.vault != nil {
		if err := x.vault.Seal(ctx, data); err != nil {
			return nil, "", fmt.Errorf("seal events of %s: %w", stream, err)
		}
	}
	for i := range data {
		if prev, err = chain.Link(stream, first+uint64(i), &data[i], prev); err != nil {
			return nil, "", err
		}
	}
	return data, prev, nil
}

func encode(events []domain.Event, m Meta, cmdID uuid.UUID, now time.Time) ([]eventstore.EventData, error) {
	correlation := m.CorrelationID
	if correlation == "" {
		correlation = cmdID.String()
	}
	out := make([]eventstore.EventData, len(events))
	for i, e := range events {
		typ, data, err := domain.EncodeEvent(e)
		if err != nil {
			return nil, err
		}
		// Event IDs are fresh on every attempt: a repeat racing the first
		// request must lose on the revision and then find the first request's
		// events on reload, not be absorbed silently by the store.
		eventID := uuid.NewString()
		meta, err := json.Marshal(domain.Metadata{
			EventID: eventID, CommandID: cmdID.String(), CorrelationID: correlation, CausationID: cmdID.String(),
			ActorID: m.Actor.AccountID, ActorEmail: m.Actor.Email, OccurredAt: now,
			ClientIP: m.ClientIP, UserAgent: m.UserAgent, Schema: domain.SchemaV1, RequestHash: m.RequestHash,
		})
		if err != nil {
			return nil, fmt.Errorf("encode metadata: %w", err)
		}
		out[i] = eventstore.EventData{ID: eventID, Type: typ, Data: data, Metadata: meta}
	}
	return out, nil
}

// IDs hands out the IDs a command needs (invitation IDs, nonces, a new
// property's ID). With an idempotency key they are derived from the command
// ID, so every attempt of one command names the same things.
type IDs struct {
	base   uuid.UUID
	stable bool
}

// Next returns the ID for label (e.g. "invitation/0").
func (g IDs) Next(label string) string {
	if !g.stable {
		return uuid.NewString()
	}
	return uuid.NewSHA1(g.base, []byte(label)).String()
}
