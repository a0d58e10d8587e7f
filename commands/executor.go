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
	"github.com/rosterhq/roster/infra/eventstore"
)

// EventStore is what the write side needs of the event store.
type EventStore interface {
	Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error)
	ReadStream(ctx context.Context, stream string, from uint64) ([]eventstore.RecordedEvent, error)
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

// Executor is the one place that loads, decides, appends and retries.
// It is safe for concurrent use.
type Executor struct {
	store      EventStore
	now        func() time.Time
	maxRetries int
}

// DefaultMaxRetries bounds how often a command is decided again after losing
// a race for the stream's revision before it is reported as a conflict.
const DefaultMaxRetries = 8

// NewExecutor returns an executor over store; now is the clock (time.Now when nil).
func NewExecutor(store EventStore, now func() time.Time) *Executor {
	if now == nil {
		now = time.Now
	}
	return &Executor{store: store, now: now, maxRetries: DefaultMaxRetries}
}

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
	ids := IDs{base: cmdID, stable: m.IdempotencyKey != ""}
	stream := domain.StreamName(propertyID)
	for attempt := 0; ; attempt++ {
		loaded, err := x.load(ctx, stream, propertyID, cmdID)
		if err != nil {
			return Result{}, err
		}
		if loaded.repeat != nil {
			if m.RequestHash != "" && loaded.repeatHash != m.RequestHash {
				return Result{}, domain.Errorf(domain.KindInvalid, domain.CodeIdempotencyKeyReused,
					"idempotency key %q was already used for a different request", m.IdempotencyKey)
			}
			return *loaded.repeat, nil
		}
		p := loaded.state
		if m.IfMatch != nil && p.Exists() && p.Version-1 != *m.IfMatch {
			return Result{}, domain.Errorf(domain.KindPrecondition, domain.CodeStaleRevision,
				"property %s is at revision %d, not %d as If-Match says; reload and try again", propertyID, p.Version-1, *m.IfMatch)
		}
		// PostgreSQL keeps microseconds; deciding on the same precision makes
		// what a command answers equal what the read models later show.
		now := x.now().UTC().Truncate(time.Microsecond)
		events, err := decide(p, now, ids)
		if err != nil {
			return Result{}, err
		}
		if len(events) == 0 {
			return Result{PropertyID: propertyID, Revision: p.Version - 1, Position: loaded.last}, nil
		}
		data, err := encode(events, m, cmdID, now)
		if err != nil {
			return Result{}, err
		}
		expected := eventstore.NoStream()
		if p.Exists() {
			expected = eventstore.Exact(p.Version - 1)
		}
		res, err := x.store.Append(ctx, stream, expected, data)
		if err == nil {
			return Result{PropertyID: propertyID, Revision: res.Revision, Position: res.Position, Events: events}, nil
		}
		if !errors.Is(err, eventstore.ErrConflict) {
			return Result{}, fmt.Errorf("append to %s: %w", stream, err)
		}
		if m.IfMatch != nil {
			return Result{}, domain.Errorf(domain.KindPrecondition, domain.CodeStaleRevision,
				"property %s changed while the command ran; reload and try again", propertyID)
		}
		if attempt >= x.maxRetries {
			return Result{}, domain.Errorf(domain.KindConflict, domain.CodeConcurrentModification,
				"property %s is being changed by many requests at once; try again", propertyID)
		}
		if err := backoff(ctx, attempt); err != nil {
			return Result{}, err
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

type loaded struct {
	state      *domain.Property
	last       eventstore.Position
	repeat     *Result
	repeatHash string
}

// load replays the stream into state and notes the events an earlier run of
// the same command appended: the stream itself is the idempotency record, so
// a repeat is recognised even if the first response never reached the client.
func (x *Executor) load(ctx context.Context, stream, propertyID string, cmdID uuid.UUID) (loaded, error) {
	recs, err := x.store.ReadStream(ctx, stream, 0)
	if err != nil {
		return loaded{}, fmt.Errorf("read %s: %w", stream, err)
	}
	out := loaded{state: domain.NewProperty(propertyID)}
	want := cmdID.String()
	var repeat *Result
	for _, rec := range recs {
		e, meta, err := decode(rec)
		if err != nil {
			return loaded{}, err
		}
		out.state.Apply(e, meta.OccurredAt)
		out.last = rec.Position
		if meta.CommandID == want {
			if repeat == nil {
				repeat = &Result{PropertyID: propertyID, Repeated: true}
				out.repeatHash = meta.RequestHash
			}
			repeat.Events = append(repeat.Events, e)
			repeat.Revision, repeat.Position = rec.Revision, rec.Position
		}
	}
	out.repeat = repeat
	return out, nil
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
