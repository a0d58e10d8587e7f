package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/chain"
	"github.com/rosterhq/roster/infra/eventstore"
)

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
