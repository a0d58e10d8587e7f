package projectiontest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// Mix returns n events of generated property histories, the same for the
// same seed: properties are created along the way (their owner joining
// with them), and each step picks a property, most often a recent one, and
// something its members do that the domain allows: invite (the most
// common), accept (and join), decline, revoke, resend, change a role,
// disable, enable, remove, leave, hand over ownership. Invitees come from
// a pool of accounts shared by every property, so an account belongs to
// many. Events of properties interleave as they would in a live feed.
func Mix(seed uint64, n int) []Step {
	g := &mixer{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), accounts: max(50, n/8)}
	for len(g.out) < n {
		g.step()
	}
	return g.out[:n]
}

type mixMember struct {
	role     domain.Role
	disabled bool
}

type mixInvite struct {
	account string
	role    domain.Role
}

type mixProperty struct {
	id      string
	owner   string
	members map[string]*mixMember
	order   []string // member accounts, in joining order, for repeatable picks
	pending map[string]mixInvite
	invites []string // pending invitation IDs in order
	seq     int
}

type mixer struct {
	rnd      *rand.Rand
	accounts int
	props    []*mixProperty
	out      []Step
}

func mixAccount(i int) (id, email string) {
	return fmt.Sprintf("acc-%d", i), fmt.Sprintf("user%d@example.com", i)
}

// emailOf is the email of an account mixAccount made.
func emailOf(acc string) string {
	var i int
	if _, err := fmt.Sscanf(acc, "acc-%d", &i); err != nil {
		return ""
	}
	_, email := mixAccount(i)
	return email
}

func (g *mixer) emit(p *mixProperty, actor string, e domain.Event) {
	g.out = append(g.out, Step{PropertyID: p.id, ActorID: actor, ActorEmail: emailOf(actor), Event: e})
}

// step adds the events of one thing happening.
func (g *mixer) step() {
	if len(g.props) == 0 || g.rnd.IntN(40) == 0 {
		g.create()
		return
	}
	// Recent properties are busier: pick among the last 200 mostly.
	p := g.props[len(g.props)-1-g.rnd.IntN(min(len(g.props), 200))]
	if g.rnd.IntN(10) == 0 {
		p = g.props[g.rnd.IntN(len(g.props))]
	}
	admin := g.admin(p)
	switch r := g.rnd.IntN(100); {
	case r < 35 || len(p.invites) == 0:
		g.invite(p, admin)
	case r < 60:
		g.accept(p)
	case r < 65:
		g.closeInvite(p, admin, "decline")
	case r < 72:
		g.closeInvite(p, admin, "revoke")
	case r < 77:
		inv := p.invites[g.rnd.IntN(len(p.invites))]
		g.emit(p, admin, domain.InvitationResent{Schema: 1, InvitationID: inv,
			ExpiresAt: At(len(g.out)).Add(InviteTTL), TokenNonce: fmt.Sprintf("nonce-%d", len(g.out))})
	default:
		g.manage(p, admin, r)
	}
}

func (g *mixer) create() {
	i := g.rnd.IntN(g.accounts)
	owner, email := mixAccount(i)
	p := &mixProperty{id: fmt.Sprintf("p-%d", len(g.props)), owner: owner,
		members: map[string]*mixMember{}, pending: map[string]mixInvite{}}
	g.props = append(g.props, p)
	g.emit(p, owner, domain.PropertyCreated{Schema: 1, PropertyID: p.id, Name: fmt.Sprintf("Site %d", len(g.props)), OwnerID: owner})
	g.emit(p, owner, domain.MemberJoined{Schema: 1, AccountID: owner, Email: email, Role: domain.RoleAdmin})
	p.members[owner] = &mixMember{role: domain.RoleAdmin}
	p.order = append(p.order, owner)
}

// admin is an enabled admin of p, the owner most often.
func (g *mixer) admin(p *mixProperty) string {
	if g.rnd.IntN(3) > 0 {
		return p.owner
	}
	for _, a := range p.order {
		if m := p.members[a]; m.role == domain.RoleAdmin && !m.disabled {
			return a
		}
	}
	return p.owner
}

func (g *mixer) invite(p *mixProperty, admin string) {
	for range 5 {
		i := g.rnd.IntN(g.accounts)
		acc, email := mixAccount(i)
		if _, member := p.members[acc]; member {
			continue
		}
		taken := false
		for _, inv := range p.pending {
			taken = taken || inv.account == acc
		}
		if taken {
			continue
		}
		p.seq++
		id := fmt.Sprintf("inv-%s-%d", p.id, p.seq)
		role := domain.RoleAgent
		if g.rnd.IntN(4) == 0 {
			role = domain.RoleAdmin
		}
		g.emit(p, admin, domain.MemberInvited{Schema: 1, InvitationID: id, Email: email, Role: role, InvitedBy: admin,
			ExpiresAt: At(len(g.out)).Add(InviteTTL), TokenNonce: "nonce-" + id})
		p.pending[id] = mixInvite{account: acc, role: role}
		p.invites = append(p.invites, id)
		return
	}
}

// takeInvite removes a random pending invitation of p and returns it.
func (g *mixer) takeInvite(p *mixProperty) (string, mixInvite) {
	k := g.rnd.IntN(len(p.invites))
	id := p.invites[k]
	p.invites = append(p.invites[:k], p.invites[k+1:]...)
	inv := p.pending[id]
	delete(p.pending, id)
	return id, inv
}

func (g *mixer) accept(p *mixProperty) {
	id, inv := g.takeInvite(p)
	email := emailOf(inv.account)
	g.emit(p, inv.account, domain.InvitationAccepted{Schema: 1, InvitationID: id, AccountID: inv.account})
	g.emit(p, inv.account, domain.MemberJoined{Schema: 1, AccountID: inv.account, Email: email, Role: inv.role, InvitationID: id})
	p.members[inv.account] = &mixMember{role: inv.role}
	p.order = append(p.order, inv.account)
}

func (g *mixer) closeInvite(p *mixProperty, admin, how string) {
	id, inv := g.takeInvite(p)
	if how == "decline" {
		g.emit(p, inv.account, domain.InvitationDeclined{Schema: 1, InvitationID: id})
		return
	}
	g.emit(p, admin, domain.InvitationRevoked{Schema: 1, InvitationID: id})
}

// manage changes a member other than the owner, or hands ownership over.
func (g *mixer) manage(p *mixProperty, admin string, r int) {
	var others []string
	for _, a := range p.order {
		if a != p.owner {
			others = append(others, a)
		}
	}
	if len(others) == 0 {
		g.invite(p, admin)
		return
	}
	acc := others[g.rnd.IntN(len(others))]
	m := p.members[acc]
	switch {
	case r < 85:
		to := domain.RoleAdmin
		if m.role == domain.RoleAdmin {
			to = domain.RoleAgent
		}
		g.emit(p, admin, domain.MemberRoleChanged{Schema: 1, AccountID: acc, From: m.role, To: to})
		m.role = to
	case r < 91:
		if m.disabled {
			g.emit(p, admin, domain.MemberAccessEnabled{Schema: 1, AccountID: acc})
		} else {
			g.emit(p, admin, domain.MemberAccessDisabled{Schema: 1, AccountID: acc})
		}
		m.disabled = !m.disabled
	case r < 95:
		g.emit(p, admin, domain.MemberRemoved{Schema: 1, AccountID: acc})
		g.drop(p, acc)
	case r < 98:
		g.emit(p, acc, domain.MemberLeft{Schema: 1, AccountID: acc})
		g.drop(p, acc)
	default:
		if m.role != domain.RoleAdmin || m.disabled {
			g.emit(p, admin, domain.MemberRoleChanged{Schema: 1, AccountID: acc, From: m.role, To: domain.RoleAdmin})
			m.role = domain.RoleAdmin
			if m.disabled {
				g.emit(p, admin, domain.MemberAccessEnabled{Schema: 1, AccountID: acc})
				m.disabled = false
			}
		}
		g.emit(p, p.owner, domain.OwnershipTransferred{Schema: 1, From: p.owner, To: acc})
		p.owner = acc
	}
}

func (g *mixer) drop(p *mixProperty, acc string) {
	delete(p.members, acc)
	for i, a := range p.order {
		if a == acc {
			p.order = append(p.order[:i], p.order[i+1:]...)
			return
		}
	}
}

// Encode turns step i of a history into the event an append would store,
// with the metadata History gives it (and a client IP and user agent).
func Encode(i int, s Step) (eventstore.EventData, error) {
	typ, data, err := domain.EncodeEvent(s.Event)
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("encode step %d: %w", i, err)
	}
	id := NewID()
	meta, err := json.Marshal(domain.Metadata{EventID: id, CommandID: NewID(), CorrelationID: NewID(), CausationID: NewID(),
		ActorID: s.ActorID, ActorEmail: s.ActorEmail, OccurredAt: At(i), ClientIP: "192.0.2.7", UserAgent: "projectiontest",
		Schema: domain.SchemaV1})
	if err != nil {
		return eventstore.EventData{}, fmt.Errorf("encode metadata of step %d: %w", i, err)
	}
	return eventstore.EventData{ID: id, Type: typ, Data: data, Metadata: meta}, nil
}

// Records turns steps into the events a feed would deliver: step i at
// position i+1, each property's steps numbered from revision 0, recorded at
// At(i).
func Records(tb testing.TB, steps []Step) []eventstore.RecordedEvent {
	tb.Helper()
	out := make([]eventstore.RecordedEvent, len(steps))
	revs := map[string]uint64{}
	for i, s := range steps {
		d, err := Encode(i, s)
		if err != nil {
			tb.Fatal(err)
		}
		pos := uint64(i + 1)
		out[i] = eventstore.RecordedEvent{ID: d.ID, StreamID: domain.StreamName(s.PropertyID), Revision: revs[s.PropertyID],
			Position: eventstore.Position{Commit: pos, Prepare: pos}, Type: d.Type, Data: d.Data, Metadata: d.Metadata, RecordedAt: At(i)}
		revs[s.PropertyID]++
	}
	return out
}

// Load appends steps to store with workers appenders at once and returns
// how many events it appended. Each appender takes its share of the
// properties in turn, appending up to chunk of one property's steps at
// once: each property's events keep their order, and properties
// interleave in the feed, though not in the order of steps. Step i still
// happens at At(i). It is for loading large feeds fast.
func Load(tb testing.TB, store Appender, steps []Step, workers, chunk int) int {
	tb.Helper()
	byProperty := map[string][]int{}
	var order []string
	for i, s := range steps {
		if _, ok := byProperty[s.PropertyID]; !ok {
			order = append(order, s.PropertyID)
		}
		byProperty[s.PropertyID] = append(byProperty[s.PropertyID], i)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	type queue struct {
		pid string
		idx []int
	}
	for w := range workers {
		var mine []*queue
		for k := w; k < len(order); k += workers {
			mine = append(mine, &queue{order[k], byProperty[order[k]]})
		}
		wg.Go(func() {
			for len(mine) > 0 {
				left := mine[:0]
				for _, q := range mine {
					pid, idx := q.pid, q.idx
					n := min(chunk, len(idx))
					events := make([]eventstore.EventData, n)
					for j, i := range idx[:n] {
						d, err := Encode(i, steps[i])
						if err != nil {
							fail(err)
							return
						}
						events[j] = d
					}
					if _, err := store.Append(context.Background(), domain.StreamName(pid), eventstore.Any(), events); err != nil {
						fail(err)
						return
					}
					if q.idx = idx[n:]; len(q.idx) > 0 {
						left = append(left, q)
					}
				}
				mine = left
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		tb.Fatalf("load %d steps: %v", len(steps), errs[0])
	}
	return len(steps)
}

// BenchEvents is how many generated events a benchmark goes through:
// ROSTER_BENCH_EVENTS when set, def otherwise. A value that is not a
// positive number fails tb.
func BenchEvents(tb testing.TB, def int) int {
	s := os.Getenv("ROSTER_BENCH_EVENTS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		tb.Fatalf("ROSTER_BENCH_EVENTS=%q is not a positive number", s)
	}
	return n
}
