package accessindex

import (
	"context"
	"maps"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// Item is one question: may AccountID do Permission on PropertyID?
type Item struct {
	PropertyID string
	AccountID  string
	Permission domain.Permission
}

// Answer is the index's answer to one Item.
type Answer struct {
	Allowed bool
	// Member is false for an account that is not a member of the property
	// (or a property nobody knows); Role and Status are empty then.
	Member bool
	Role   domain.Role
	Status domain.MemberStatus
	Owner  bool
	// Position is the position of the feed the answer was taken at.
	Position eventstore.Position
	// FreshAt is a time before which every committed event is reflected in
	// the answer; zero when the answer was asked at a position and read
	// from PostgreSQL, which vouches only for that.
	FreshAt time.Time
}

// Check answers items, in order, at one position. With atLeast, every
// answer is taken at or after it; without, it reflects every event
// committed MaxStaleness before now. When the index has not got there
// within MaxWait, the answers are read from the access read model, if it
// has. Otherwise it returns a *domain.Error of kind KindUnavailable:
// CodePositionNotReached with atLeast, CodeCheckStale without. It returns
// ctx's error when ctx ends first, and PostgreSQL's as it comes.
func (x *Index) Check(ctx context.Context, items []Item, atLeast *eventstore.Position) ([]Answer, error) {
	reached, err := x.await(ctx, atLeast)
	if err != nil {
		return nil, err
	}
	if !reached {
		return x.fromReadModel(ctx, items, atLeast)
	}
	out := make([]Answer, len(items))
	missing := x.answer(items, out, nil)
	if len(missing) == 0 {
		return out, nil
	}
	// Each property the index dropped is read once, then every item is
	// answered again at one position: those read are used even if a sweep
	// has dropped them again meanwhile.
	read := make(map[string]*property, len(missing))
	for _, pid := range missing {
		if read[pid] != nil {
			continue
		}
		p, err := x.load(ctx, pid, atLeast)
		if err != nil {
			return nil, err
		}
		read[pid] = p
	}
	x.answer(items, out, read)
	return out, nil
}

// answer fills out from the index, or from read for a property the index
// does not hold, and returns the properties neither holds, unanswered.
func (x *Index) answer(items []Item, out []Answer, read map[string]*property) (missing []string) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for i, it := range items {
		p := x.props[it.PropertyID]
		if p == nil && !x.complete {
			if p = read[it.PropertyID]; p == nil {
				missing = append(missing, it.PropertyID)
				continue
			}
		}
		at := x.pos
		if p != nil {
			p.used.Store(true)
			if at.Less(p.at) {
				at = p.at
			}
		}
		out[i] = answerOf(p, it, x.cfg.Now())
		out[i].Position, out[i].FreshAt = at, x.fresh
	}
	return missing
}

// answerOf is what p (nil: no members) says of it at now.
func answerOf(p *property, it Item, now time.Time) Answer {
	if p == nil {
		return Answer{}
	}
	m, ok := p.members[it.AccountID]
	if !ok {
		return Answer{}
	}
	a := Answer{Member: true, Role: m.role, Status: m.statusAt(now), Owner: p.owner == it.AccountID}
	a.Allowed = p.roles.Allowed(a.Role, a.Owner, a.Status, it.Permission)
	return a
}

// await waits until the index has reached atLeast, or without it is
// fresh within MaxStaleness, for at most MaxWait; reached is false when
// it has not.
func (x *Index) await(ctx context.Context, atLeast *eventstore.Position) (reached bool, err error) {
	var timeout <-chan time.Time
	for {
		x.mu.RLock()
		loaded, pos, fresh, changed := x.loaded, x.pos, x.fresh, x.changed
		x.mu.RUnlock()
		if loaded && (atLeast != nil && !pos.Less(*atLeast) || atLeast == nil && x.cfg.Now().Sub(fresh) <= x.cfg.MaxStaleness) {
			return true, nil
		}
		if timeout == nil {
			t := time.NewTimer(x.cfg.MaxWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// load reads a property the index does not hold from the read model and
// installs it, brought up to the index's position: a read model ahead of
// the index gives the property as of its own position, one behind it is
// caught up with the recent changes. When those do not reach back far
// enough, it returns CodePositionNotReached or CodeCheckStale: the read
// model lags too far to answer now.
func (x *Index) load(ctx context.Context, pid string, atLeast *eventstore.Position) (*property, error) {
	v, err, _ := x.loads.Do(pid, func() (any, error) {
		// The read is shared by every check waiting for the property, so
		// it does not end with the first one's request.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		grants, at, err := x.src.PropertyGrants(ctx, pid)
		if err != nil {
			return nil, err
		}
		p := fromGrants(grants, at)
		x.mu.Lock()
		defer x.mu.Unlock()
		if q := x.props[pid]; q != nil {
			return q, nil
		}
		if at.Less(x.pos) && !x.catchUp(pid, p, at) {
			return nil, notReached(atLeast, "the access read model, at %s, lags the index, at %s, too far to read property %s now", at, x.pos, pid)
		}
		p.used.Store(true)
		x.install(pid, p)
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*property), nil
}

// loadTimeout bounds reading one property from the read model.
const loadTimeout = 10 * time.Second

// fromGrants builds a property from its grants read at position at.
func fromGrants(grants []readmodels.Grant, at eventstore.Position) *property {
	p := &property{members: make(map[string]member, len(grants)), at: at}
	for _, g := range grants {
		p.owner, p.roles = g.OwnerID, maps.Clone(g.Roles)
		if g.AccountID != "" {
			p.members[g.AccountID] = member{role: canonicalRole(g.Role), disabled: g.Status != domain.StatusEnabled,
				until: unixMicro(g.AccessUntil)}
		}
	}
	return p
}

// fromReadModel answers items from the access read model when it has
// reached atLeast or, without, the head of the feed as read now.
func (x *Index) fromReadModel(ctx context.Context, items []Item, atLeast *eventstore.Position) ([]Answer, error) {
	need, freshAt, err := x.need(ctx, atLeast)
	if err != nil {
		return nil, err
	}
	read := map[string]*property{}
	out := make([]Answer, len(items))
	for i, it := range items {
		p := read[it.PropertyID]
		if p == nil {
			grants, at, err := x.src.PropertyGrants(ctx, it.PropertyID)
			if err != nil {
				return nil, err
			}
			if at.Less(need) {
				return nil, notReached(atLeast, "neither the access index, at %s, nor the read model, at %s, reached %s within %s",
					x.Position(), at, need, x.cfg.MaxWait)
			}
			p = fromGrants(grants, at)
			read[it.PropertyID] = p
		}
		out[i] = answerOf(p, it, x.cfg.Now())
		out[i].Position, out[i].FreshAt = p.at, freshAt
	}
	return out, nil
}

// notReached is the error of an answer that could not be as fresh as
// asked: CodePositionNotReached when a position was asked, CodeCheckStale
// otherwise. Both are worth retrying in a second.
func notReached(atLeast *eventstore.Position, format string, args ...any) error {
	code := domain.CodeCheckStale
	if atLeast != nil {
		code = domain.CodePositionNotReached
	}
	e := domain.Errorf(domain.KindUnavailable, code, format, args...)
	e.RetryAfter = time.Second
	return e
}

// need is the position an answer from the read model must reach: atLeast
// when the caller sent one; otherwise the head of the feed as read now, and
// freshAt, the moment it was read, which the answer then says it is as
// fresh as.
func (x *Index) need(ctx context.Context, atLeast *eventstore.Position) (need eventstore.Position, freshAt time.Time, err error) {
	if atLeast != nil {
		return *atLeast, time.Time{}, nil
	}
	freshAt = x.cfg.Now()
	head, err := x.committedHead(ctx)
	if err != nil {
		return eventstore.Position{}, time.Time{}, err
	}
	return head, freshAt, nil
}
