package commands

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
)

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
