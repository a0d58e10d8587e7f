package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
)

// culprit is a projection and the event of a batch it cannot apply.
type culprit struct {
	projection string
	index      int // in the batch
	err        error
}

// locate finds which projections of ps cannot apply which event of recs,
// when applying them together failed in a way no event was named for (a
// load or a write of the whole batch): it applies recs to each projection
// in a savepoint of tx, and to one that fails, event by event, each in a
// savepoint, until the event that fails. It is for a transaction the
// caller rolls back: what it applied is only there to give the next
// event the state it would have met. Only failures that IsPoison are
// culprits; another error is returned as it is.
func locate(ctx context.Context, tx pgx.Tx, bulk bool, open Opener, ps []Projection, recs []eventstore.RecordedEvent, skips skipSet) ([]culprit, error) {
	var out []culprit
	for _, p := range ps {
		err := inSavepoint(ctx, tx, func(sp pgx.Tx) error { return applyEvents(ctx, sp, bulk, open, []Projection{p}, recs, skips, nil) })
		if err == nil {
			continue
		}
		if !IsPoison(err) {
			return nil, err
		}
		var ee *eventError
		if errors.As(err, &ee) {
			out = append(out, culprit{p.Name, ee.index, ee.err})
			continue
		}
		for i := range recs {
			err := inSavepoint(ctx, tx, func(sp pgx.Tx) error {
				return applyEvents(ctx, sp, bulk, open, []Projection{p}, recs[i:i+1], skips, nil)
			})
			if err == nil {
				continue
			}
			if !IsPoison(err) {
				return nil, err
			}
			out = append(out, culprit{p.Name, i, err})
			break
		}
	}
	return out, nil
}

// inSavepoint runs f in a savepoint of tx, released when f succeeds and
// rolled back to when it fails, so that tx goes on either way.
func inSavepoint(ctx context.Context, tx pgx.Tx, f func(sp pgx.Tx) error) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := f(sp); err != nil {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return sp.Commit(ctx)
}
