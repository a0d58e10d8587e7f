package accessindex

import (
	"hash/maphash"

	"github.com/rosterhq/roster/domain"
)

// memberSet is one property's memberships, laid out for the garbage
// collector: it marks every pointer the heap holds on every cycle, and the
// index holds a hundred thousand memberships and more. A map from account
// ID (a string, so a pointer) to a member holding its role (another) made
// two pointers and one string object a membership. Here the table is
// keyed by the hash of the account ID and holds pointer-free slots, which
// the collector does not scan; the IDs themselves sit one after the other
// in a single byte array, checked on every hit. The rare account whose
// hash another of the property's already has goes to spill, a plain map.
type memberSet struct {
	byHash map[uint64]slot
	spill  map[string]member
	// ids holds the account IDs of byHash's slots; garbage counts the
	// bytes of IDs removed since, reclaimed once they are half of it.
	ids     []byte
	garbage int
	// roles are the role names slots refer to by index.
	roles []domain.Role
}

// slot is a membership of byHash: its ID at ids[off:off+n], its role at
// roles[role].
type slot struct {
	until    int64
	off, n   uint32
	role     uint16
	disabled bool
}

// idSeed seeds the hash of account IDs, one per process.
var idSeed = maphash.MakeSeed()

func newMemberSet(n int) memberSet {
	return memberSet{byHash: make(map[uint64]slot, n)}
}

func (s *memberSet) len() int { return len(s.byHash) + len(s.spill) }

// idIs reports whether sl is id's, without making a string of it.
func (s *memberSet) idIs(sl slot, id string) bool {
	return int(sl.n) == len(id) && string(s.ids[sl.off:sl.off+sl.n]) == id
}

// get is id's membership.
func (s *memberSet) get(id string) (member, bool) {
	if sl, ok := s.byHash[maphash.String(idSeed, id)]; ok && s.idIs(sl, id) {
		return member{role: s.roles[sl.role], disabled: sl.disabled, until: sl.until}, true
	}
	if s.spill != nil {
		m, ok := s.spill[id]
		return m, ok
	}
	return member{}, false
}

// roleRef is r's index in roles, added when new. A property's members
// hold a handful of roles, so a scan finds it.
func (s *memberSet) roleRef(r domain.Role) uint16 {
	for i, have := range s.roles {
		if have == r {
			return uint16(i)
		}
	}
	if len(s.roles) == 1<<16-1 {
		// Never reached by a property's roles; a safe fallback if it were.
		s.compactRoles()
		for i, have := range s.roles {
			if have == r {
				return uint16(i)
			}
		}
	}
	s.roles = append(s.roles, canonicalRole(r))
	return uint16(len(s.roles) - 1)
}

// compactRoles drops the role names no slot refers to any more.
func (s *memberSet) compactRoles() {
	used := map[uint16]uint16{}
	var roles []domain.Role
	for h, sl := range s.byHash {
		to, ok := used[sl.role]
		if !ok {
			to = uint16(len(roles))
			roles = append(roles, s.roles[sl.role])
			used[sl.role] = to
		}
		sl.role = to
		s.byHash[h] = sl
	}
	s.roles = roles
}

// put sets id's membership and reports whether id was no member before.
func (s *memberSet) put(id string, m member) (added bool) {
	h := maphash.String(idSeed, id)
	sl, taken := s.byHash[h]
	if taken && s.idIs(sl, id) {
		sl.role, sl.disabled, sl.until = s.roleRef(m.role), m.disabled, m.until
		s.byHash[h] = sl
		return false
	}
	if s.spill != nil {
		if _, ok := s.spill[id]; ok {
			s.spill[id] = m
			return false
		}
	}
	if taken {
		if s.spill == nil {
			s.spill = map[string]member{}
		}
		s.spill[id] = m
		return true
	}
	off := len(s.ids)
	s.ids = append(s.ids, id...)
	s.byHash[h] = slot{until: m.until, off: uint32(off), n: uint32(len(id)), role: s.roleRef(m.role), disabled: m.disabled}
	return true
}

// remove drops id's membership and reports whether it had one.
func (s *memberSet) remove(id string) bool {
	h := maphash.String(idSeed, id)
	if sl, ok := s.byHash[h]; ok && s.idIs(sl, id) {
		delete(s.byHash, h)
		s.garbage += int(sl.n)
		if s.garbage > len(s.ids)/2 {
			s.compact()
		}
		return true
	}
	if _, ok := s.spill[id]; ok {
		delete(s.spill, id)
		return true
	}
	return false
}

// compact writes the IDs of byHash's slots afresh, without the removed.
func (s *memberSet) compact() {
	ids := make([]byte, 0, len(s.ids)-s.garbage)
	for h, sl := range s.byHash {
		off := len(ids)
		ids = append(ids, s.ids[sl.off:sl.off+sl.n]...)
		sl.off = uint32(off)
		s.byHash[h] = sl
	}
	s.ids, s.garbage = ids, 0
}
