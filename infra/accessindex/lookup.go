package accessindex

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// Granter lists, from the access read model, the properties where an
// account holds a permission.
type Granter interface {
	Granted(ctx context.Context, accountID string, perm domain.Permission, cursor string, limit int) (readmodels.GrantedPage, error)
}

// lookupPoll is how often Lookup reads the read model again while it
// waits for it to reach a position.
const lookupPoll = 10 * time.Millisecond

// Lookup returns a page of the properties where accountID holds perm,
// read from the access read model (a lookup spans every property, which
// the index may not all hold) once it has reached atLeast or, without
// it, the head of the feed as read now, waiting at most MaxWait. The
// page's FreshAt is when that head was read (zero with atLeast). Errors
// are g's (a bad cursor or limit), a *domain.Error of kind
// KindUnavailable (CodePositionNotReached, CodeCheckStale) when the read
// model did not get there in time, and the store's.
func (x *Index) Lookup(ctx context.Context, g Granter, accountID string, perm domain.Permission, cursor string, limit int,
	atLeast *eventstore.Position) (readmodels.GrantedPage, time.Time, error) {
	need, freshAt, err := x.need(ctx, atLeast)
	if err != nil {
		return readmodels.GrantedPage{}, time.Time{}, err
	}
	deadline := x.cfg.Now().Add(x.cfg.MaxWait)
	for {
		page, err := g.Granted(ctx, accountID, perm, cursor, limit)
		if err != nil {
			return readmodels.GrantedPage{}, time.Time{}, err
		}
		if !page.Position.Less(need) {
			return page, freshAt, nil
		}
		if !x.cfg.Now().Before(deadline) {
			return readmodels.GrantedPage{}, time.Time{}, notReached(atLeast,
				"the access read model, at %s, did not reach %s within %s", page.Position, need, x.cfg.MaxWait)
		}
		if !sleep(ctx, lookupPoll) {
			return readmodels.GrantedPage{}, time.Time{}, ctx.Err()
		}
	}
}
