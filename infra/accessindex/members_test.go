package accessindex

import (
	"fmt"
	"hash/maphash"
	"testing"

	"github.com/rosterhq/roster/domain"
)

// TestMemberSetKeepsEveryMembership puts, changes and removes memberships
// and compares the set with a plain map after each step, through enough
// removals to compact its IDs.
func TestMemberSetKeepsEveryMembership(t *testing.T) {
	s := newMemberSet(0)
	want := map[string]member{}
	check := func(step string) {
		t.Helper()
		if s.len() != len(want) {
			t.Fatalf("%s: len = %d, want %d", step, s.len(), len(want))
		}
		for id, w := range want {
			if got, ok := s.get(id); !ok || got != w {
				t.Fatalf("%s: get(%q) = %+v, %v; want %+v", step, id, got, ok, w)
			}
		}
		if _, ok := s.get("nobody"); ok {
			t.Fatalf("%s: get(nobody) found a member", step)
		}
	}
	roles := []domain.Role{domain.RoleAgent, domain.RoleAdmin, "role-night-shift"}
	for i := range 200 {
		id := fmt.Sprintf("acc-%d", i)
		m := member{role: roles[i%3], disabled: i%5 == 0, until: int64(i % 7)}
		if added := s.put(id, m); !added {
			t.Fatalf("put(%q) of a new member says it was one", id)
		}
		want[id] = m
	}
	check("after 200 joins")
	for i := 0; i < 200; i += 2 {
		id := fmt.Sprintf("acc-%d", i)
		m := want[id]
		m.role, m.disabled = domain.RoleAdmin, !m.disabled
		if added := s.put(id, m); added {
			t.Fatalf("put(%q) of a member says it was new", id)
		}
		want[id] = m
	}
	check("after changes")
	for i := range 150 {
		id := fmt.Sprintf("acc-%d", i)
		if !s.remove(id) {
			t.Fatalf("remove(%q) of a member says it was none", id)
		}
		delete(want, id)
	}
	if s.remove("acc-1") {
		t.Fatal("remove of a member removed before says it was one")
	}
	check("after 150 removals")
	// Removed IDs are reclaimed once they make half the array.
	if live := 50 * len("acc-199"); len(s.ids)-s.garbage != live || len(s.ids) > 2*live+len("acc-199") {
		t.Errorf("ids hold %d bytes for 50 members: the removed were not reclaimed", len(s.ids))
	}
}

// TestMemberSetTellsApartAccountsOfOneHash puts a second account where
// the table has a slot of another account under the same hash (moved
// there by hand: two real IDs of one 64-bit hash are not to be found),
// and checks that each keeps its own membership.
func TestMemberSetTellsApartAccountsOfOneHash(t *testing.T) {
	s := newMemberSet(0)
	s.put("alice", member{role: domain.RoleAdmin})
	ha, hb := maphash.String(idSeed, "alice"), maphash.String(idSeed, "bob")
	s.byHash[hb] = s.byHash[ha] // alice's slot under bob's hash
	delete(s.byHash, ha)
	if _, ok := s.get("bob"); ok {
		t.Fatal("bob found in alice's slot")
	}
	if !s.put("bob", member{role: domain.RoleAgent, disabled: true}) {
		t.Fatal("put(bob) says bob was a member")
	}
	if got, ok := s.get("bob"); !ok || got.role != domain.RoleAgent || !got.disabled {
		t.Fatalf("get(bob) = %+v, %v; want the agent, disabled, from spill", got, ok)
	}
	if s.put("bob", member{role: domain.RoleAdmin}) {
		t.Fatal("put(bob) again says bob was new")
	}
	if got, _ := s.get("bob"); got.role != domain.RoleAdmin || got.disabled {
		t.Fatalf("get(bob) after a change = %+v", got)
	}
	if s.len() != 2 {
		t.Fatalf("len = %d, want 2", s.len())
	}
	if !s.remove("bob") || s.len() != 1 {
		t.Fatalf("remove(bob): len = %d, want 1", s.len())
	}
	if _, ok := s.get("bob"); ok {
		t.Fatal("bob found after his removal")
	}
}

func TestMemberSetRolesAreShared(t *testing.T) {
	s := newMemberSet(0)
	for i := range 1000 {
		s.put(fmt.Sprint(i), member{role: domain.Role([]string{"agent", "admin"}[i%2])})
	}
	if len(s.roles) != 2 {
		t.Fatalf("%d role names kept for two roles", len(s.roles))
	}
}
