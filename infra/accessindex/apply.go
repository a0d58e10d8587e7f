package accessindex

import (
	"strings"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// changeKind is what an event does to access.
type changeKind uint8

const (
	setOwner changeKind = iota + 1
	joined
	roleChanged
	disabled
	enabled
	removed
	// roleDefined sets a custom role's permissions (created or changed);
	// every holder has them from the event's position on.
	roleDefined
	roleDeleted
	untilChanged
)

// change is an event of the feed reduced to what access needs.
type change struct {
	pos     eventstore.Position
	pid     string
	kind    changeKind
	account string
	role    domain.Role
	// perms are a custom role's permissions, for roleDefined.
	perms []domain.Permission
	// until is the end of access a join or an untilChanged brings (Unix
	// microseconds, 0 for none).
	until int64
}

// accessTypes are the event types that change access, the same the access
// projection reduces (projections/access.go); others only move the
// position.
var accessTypes = map[string]bool{
	domain.TypePropertyCreated: true, domain.TypeMemberJoined: true, domain.TypeMemberRoleChanged: true,
	domain.TypeMemberAccessDisabled: true, domain.TypeMemberAccessEnabled: true, domain.TypeMemberRemoved: true,
	domain.TypeMemberLeft: true, domain.TypeOwnershipTransferred: true,
	domain.TypeRoleCreated: true, domain.TypeRolePermissionsChanged: true, domain.TypeRoleDeleted: true,
	domain.TypeMemberAccessUntilChanged: true, domain.TypeMemberAccessExpired: true,
}

// toChange reduces rec to a change; ok is false for an event that does not
// change access. An event of a property stream it cannot decode is an
// error.
func toChange(rec eventstore.RecordedEvent) (c change, ok bool, err error) {
	if !accessTypes[rec.Type] {
		return change{}, false, nil
	}
	pid, isProperty := strings.CutPrefix(rec.StreamID, domain.StreamPrefix)
	if !isProperty || pid == "" {
		return change{}, false, nil
	}
	ev, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		return change{}, false, err
	}
	c = change{pos: rec.Position, pid: pid}
	switch e := ev.(type) {
	case domain.PropertyCreated:
		c.kind, c.account = setOwner, e.OwnerID
	case domain.OwnershipTransferred:
		c.kind, c.account = setOwner, e.To
	case domain.MemberJoined:
		c.kind, c.account, c.role, c.until = joined, e.AccountID, canonicalRole(e.Role), unixMicro(e.AccessUntil)
	case domain.MemberRoleChanged:
		c.kind, c.account, c.role = roleChanged, e.AccountID, canonicalRole(e.To)
	case domain.MemberAccessDisabled:
		c.kind, c.account = disabled, e.AccountID
	case domain.MemberAccessEnabled:
		c.kind, c.account = enabled, e.AccountID
	case domain.MemberAccessUntilChanged:
		c.kind, c.account, c.until = untilChanged, e.AccountID, unixMicro(e.AccessUntil)
	case domain.MemberAccessExpired:
		c.kind, c.account = disabled, e.AccountID
	case domain.MemberRemoved:
		c.kind, c.account = removed, e.AccountID
	case domain.MemberLeft:
		c.kind, c.account = removed, e.AccountID
	case domain.RoleCreated:
		c.kind, c.role, c.perms = roleDefined, e.RoleID, e.Permissions
	case domain.RolePermissionsChanged:
		c.kind, c.role, c.perms = roleDefined, e.RoleID, e.To
	case domain.RoleDeleted:
		c.kind, c.role = roleDeleted, e.RoleID
	default:
		return change{}, false, nil
	}
	return c, true, nil
}

// canonicalRole shares one string per role, so a hundred thousand members
// do not hold a hundred thousand copies of "agent".
func canonicalRole(r domain.Role) domain.Role {
	switch r {
	case domain.RoleAdmin:
		return domain.RoleAdmin
	case domain.RoleAgent:
		return domain.RoleAgent
	}
	return r
}

// apply makes c's change to p and returns how many entries it added (or,
// negative, removed), as the access projection makes it to its rows.
func (p *property) apply(c change) int {
	switch c.kind {
	case setOwner:
		p.owner = c.account
	case joined:
		if p.members.put(c.account, member{role: c.role, until: c.until}) {
			return 1
		}
	case roleChanged:
		if m, ok := p.members.get(c.account); ok {
			m.role = c.role
			p.members.put(c.account, m)
		}
	case disabled, enabled:
		if m, ok := p.members.get(c.account); ok {
			m.disabled = c.kind == disabled
			if c.kind == enabled {
				m.until = 0 // an enable clears the end, as in the domain
			}
			p.members.put(c.account, m)
		}
	case untilChanged:
		if m, ok := p.members.get(c.account); ok {
			m.until = c.until
			p.members.put(c.account, m)
		}
	case removed:
		if p.members.remove(c.account) {
			return -1
		}
	case roleDefined:
		if p.roles == nil {
			p.roles = domain.Roles{}
		}
		p.roles[c.role] = c.perms
	case roleDeleted:
		delete(p.roles, c.role)
	}
	return 0
}

// applyBatch applies the events of one read of the feed and moves the
// position past them. Events it cannot decode are logged and passed over,
// as they change nothing it could tell.
func (x *Index) applyBatch(recs []eventstore.RecordedEvent) {
	if len(recs) == 0 {
		return
	}
	changes := make([]change, 0, len(recs))
	for _, rec := range recs {
		c, ok, err := toChange(rec)
		if err != nil {
			x.cfg.Log.Error().Err(err).Str("event_id", rec.ID).Str("position", rec.Position.String()).
				Msg("access index: an event it cannot read is passed over")
			continue
		}
		if ok {
			changes = append(changes, c)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range changes {
		x.remember(c)
		p := x.props[c.pid]
		if p == nil {
			if !x.complete {
				continue // read again, with this change, when asked
			}
			p = &property{members: newMemberSet(0)}
			x.props[c.pid] = p
			x.entries++
		}
		if !p.at.Less(c.pos) {
			continue // in the read model already when the property was read
		}
		x.entries += p.apply(c)
	}
	x.pos = recs[len(recs)-1].Position
	if x.probe.pending && !x.pos.Less(x.probe.head) {
		x.fresh, x.probe.pending = x.probe.at, false
	}
	x.sweep()
	x.broadcast()
}

// remember keeps c among the recent changes; call it with mu held for
// writing.
func (x *Index) remember(c change) {
	if len(x.recent) < x.cfg.Recent {
		x.recent = append(x.recent, c)
		return
	}
	x.recentFrom = x.recent[x.recentNext].pos
	x.recent[x.recentNext] = c
	x.recentNext = (x.recentNext + 1) % len(x.recent)
}

// catchUp applies to p, read at position from, the recent changes of pid
// after it, and reports false when the recent changes do not reach back
// that far. Call it with mu held.
func (x *Index) catchUp(pid string, p *property, from eventstore.Position) bool {
	if from.Less(x.recentFrom) {
		return false
	}
	n := len(x.recent)
	for i := range n {
		c := x.recent[(x.recentNext+i)%n]
		if c.pid == pid && from.Less(c.pos) {
			p.apply(c)
		}
	}
	p.at = x.pos
	return true
}
