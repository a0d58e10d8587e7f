package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
)

// prepare asks the vault, if it can, to make the keys of actor and emails
// now. Its error is dropped on purpose: Seal makes missing keys itself and
// reports what fails then.
func (x *Executor) prepare(ctx context.Context, actor domain.Actor, emails []string) {
	if x.batches != nil {
		// The append makes the new people's keys; the actor's is known
		// after its first command.
		emails = nil
	}
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
// the new head of the chain. With a key batch, g's batch seals and the
// plaintext is kept in g.plain, for reseal.
func (x *Executor) encode(ctx context.Context, g *group, stream string, first uint64, prev string, events []domain.Event, m Meta, cmdID uuid.UUID, now time.Time) ([]eventstore.EventData, string, error) {
	data, err := encode(events, m, cmdID, now)
	if err != nil {
		return nil, "", err
	}
	var plain []eventstore.EventData
	if g.batch != nil {
		plain = append(plain, data...)
		if err := g.batch.Seal(ctx, data); err != nil {
			return nil, "", fmt.Errorf("seal events of %s: %w", stream, err)
		}
	} else if x.vault != nil {
		if err := x.vault.Seal(ctx, data); err != nil {
			return nil, "", fmt.Errorf("seal events of %s: %w", stream, err)
		}
	}
	for i := range data {
		if prev, err = chain.Link(stream, first+uint64(i), &data[i], prev); err != nil {
			return nil, "", err
		}
	}
	g.plain = append(g.plain, plain...)
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
		verified := m.Actor.EmailVerified
		md := domain.Metadata{
			EventID: eventID, CommandID: cmdID.String(), CorrelationID: correlation, CausationID: cmdID.String(),
			ActorID: m.Actor.AccountID, ActorEmail: m.Actor.Email, OccurredAt: now,
			ClientIP: m.ClientIP, UserAgent: m.UserAgent, Schema: domain.SchemaV1, RequestHash: m.RequestHash,
			ActorEmailVerified: &verified,
		}
		if err := checkStorable(e, md); err != nil {
			return nil, err
		}
		meta, err := json.Marshal(md)
		if err != nil {
			return nil, fmt.Errorf("encode metadata: %w", err)
		}
		out[i] = eventstore.EventData{ID: eventID, Type: typ, Data: data, Metadata: meta}
	}
	return out, nil
}

// reseal seals g's events again from their plaintext with seal (the
// batch's, with the keys it has now, or the vault's), and links them again
// after the chain's head they were decided on.
func (x *Executor) reseal(ctx context.Context, stream string, g *group, seal func(context.Context, []eventstore.EventData) error) error {
	data := append([]eventstore.EventData(nil), g.plain...)
	if err := seal(ctx, data); err != nil {
		return fmt.Errorf("seal events of %s: %w", stream, err)
	}
	prev := g.from
	for i := range data {
		var err error
		if prev, err = chain.Link(stream, g.base+uint64(i), &data[i], prev); err != nil {
			return err
		}
	}
	g.data, g.head = data, prev
	return nil
}

// maxKeyRounds bounds how often one append is sealed again because people
// it made keys for had keys already: once is the rule (the append answers
// with their keys); more when other appends make keys for the same people
// meanwhile, as two imports of one list of people at once do, each round
// finding a few more. After the last round the vault makes the keys still
// missing, in statements that take a key stored meanwhile, and the events
// are appended without keys of their own.
const maxKeyRounds = 3

// appendGroup appends g's events, with the keys its batch made when it
// has one, sealing again under the keys the store finds live.
func (x *Executor) appendGroup(ctx context.Context, stream string, g *group) (eventstore.AppendResult, error) {
	if g.batch == nil {
		return x.store.Append(ctx, stream, expectedAt(g.base), g.data)
	}
	ks := x.store.(keyStore) // NewExecutor drops batches for other stores
	for round := 0; ; round++ {
		res, err := ks.AppendWithKeys(ctx, stream, expectedAt(g.base), g.data, g.batch.Keys())
		var taken *postgres.KeysTakenError
		if err == nil {
			g.batch.Stored()
		}
		if !errors.As(err, &taken) {
			return res, err
		}
		if err := g.batch.Found(taken.Live); err != nil {
			return eventstore.AppendResult{}, err
		}
		if round == maxKeyRounds {
			if err := x.reseal(ctx, stream, g, x.vault.Seal); err != nil {
				return eventstore.AppendResult{}, err
			}
			return x.store.Append(ctx, stream, expectedAt(g.base), g.data)
		}
		if err := x.reseal(ctx, stream, g, g.batch.Seal); err != nil {
			return eventstore.AppendResult{}, err
		}
	}
}
