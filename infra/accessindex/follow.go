package accessindex

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/readmodels"
)

// retryBackoff is the wait before loading or following the feed again
// after PostgreSQL or the event store failed.
const retryBackoff = time.Second

// Run loads the index from the read model and follows the feed from the
// position the load was taken at, until ctx ends; it also reads the head
// of the feed every quarter of MaxStaleness, which is how the index knows
// how fresh it is. Failures of the read model or the feed are logged and
// retried: checks meanwhile turn to PostgreSQL or answer that they could
// not be fresh. It returns nil when ctx ends. Call it once.
func (x *Index) Run(ctx context.Context) error {
	for {
		err := x.loadAll(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		x.cfg.Log.Warn().Err(err).Msg("access index: loading the read model failed; retrying")
		if !sleep(ctx, retryBackoff) {
			return nil
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { x.probeHead(ctx) })
	for {
		err := x.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		x.cfg.Log.Warn().Err(err).Str("position", x.Position().String()).Msg("access index: following the feed failed; resubscribing")
		if !sleep(ctx, retryBackoff) {
			return nil
		}
	}
}

// loadAll reads the whole read model, up to MaxEntries, and installs it.
// Properties past the bound are left out whole, to be read when asked.
func (x *Index) loadAll(ctx context.Context) error {
	props := map[string]*property{}
	entries, complete := 0, true
	var cur *property
	pos, err := x.src.EachGrant(ctx, func(g readmodels.Grant) error {
		if cur == nil || props[g.PropertyID] != cur {
			if entries >= x.cfg.MaxEntries {
				complete, cur = false, nil
				return nil
			}
			cur = &property{owner: g.OwnerID, members: map[string]member{}, roles: maps.Clone(g.Roles)}
			props[g.PropertyID] = cur
			entries++
		}
		if cur == nil || g.AccountID == "" {
			return nil
		}
		cur.members[g.AccountID] = member{role: canonicalRole(g.Role), disabled: g.Status != domain.StatusEnabled,
			until: unixMicro(g.AccessUntil)}
		entries++
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range props {
		p.at = pos
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.props, x.entries, x.complete, x.pos, x.recentFrom = props, entries, complete, pos, pos
	x.loaded = true
	x.broadcast()
	return nil
}

// follow applies the feed after the index's position until it fails or
// ctx ends.
func (x *Index) follow(ctx context.Context) error {
	sub, err := x.feed.SubscribeAll(ctx, x.Position())
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		recs, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		x.applyBatch(recs)
	}
}

// probeHead reads the last committed position every quarter of
// MaxStaleness (committedHead). Once the index has applied up to a position
// read at time t, it holds every event committed before t: t is how fresh
// it is.
func (x *Index) probeHead(ctx context.Context) {
	t := time.NewTicker(max(x.cfg.MaxStaleness/4, time.Millisecond))
	defer t.Stop()
	for {
		at := x.cfg.Now()
		head, err := x.committedHead(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			x.cfg.Log.Warn().Err(err).Msg("access index: reading the head of the feed failed")
		default:
			x.mu.Lock()
			switch {
			case !x.pos.Less(head):
				x.fresh, x.probe.pending = at, false
				x.broadcast()
			case !x.probe.pending:
				// An earlier probe still pending is reached first; keep it.
				x.probe = pendingProbe{pending: true, at: at, head: head}
			}
			x.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sleep waits d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
