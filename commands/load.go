package commands

import (
	"context"
	"fmt"

	"github.com/rosterhq/roster/infra/chain"
)

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
