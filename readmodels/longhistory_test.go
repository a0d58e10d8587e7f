package readmodels_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	pt "github.com/rosterhq/roster/projections/projectiontest"
	"github.com/rosterhq/roster/readmodels"
)

// longProperty is the property of the long generated histories.
const longProperty = "p-long"

// longer keeps one property's state while longSteps writes its history.
type longer struct {
	rnd     *rand.Rand
	pid     string
	out     []pt.Step
	owner   string
	members map[string]*longMember
	order   []string // members in joining order, for repeatable picks
	pending map[string]*longInvite
	invites []string // pending invitation IDs in order
	seq     int
}

type longMember struct {
	role     domain.Role
	disabled bool
}

type longInvite struct {
	account string
	role    domain.Role
	expires time.Time
}

// account is account i of the history, with an email of its own domain,
// so that the people of two generated properties are not the same people.
func (g *longer) account(i int) (id, email string) {
	return fmt.Sprintf("acc-%d", i), fmt.Sprintf("person%d@%s.example.com", i, g.pid)
}

// accountOf is the account acc with its email.
func (g *longer) accountOf(acc string) (string, string) {
	var n int
	_, _ = fmt.Sscanf(acc, "acc-%d", &n)
	return g.account(n)
}

// longSteps is a history of n events of one property, pid, as the domain
// allows them: invitations accepted, declined, revoked, resent and left to
// expire (a third of them within hours, so that many expire inside the
// history), role changes, disabling and enabling, removals, members
// leaving, ownership handed over. Step i happens at pt.At(i).
func longSteps(pid string, seed uint64, n int) []pt.Step {
	g := &longer{rnd: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d)), pid: pid,
		members: map[string]*longMember{}, pending: map[string]*longInvite{}}
	owner, email := g.account(0)
	g.emit(owner, domain.PropertyCreated{Schema: 1, PropertyID: pid, Name: "Long " + pid, OwnerID: owner})
	g.emit(owner, domain.MemberJoined{Schema: 1, AccountID: owner, Email: email, Role: domain.RoleAdmin})
	g.owner, g.members[owner], g.order = owner, &longMember{role: domain.RoleAdmin}, []string{owner}
	accounts := max(40, n/6)
	for len(g.out) < n {
		g.step(accounts)
	}
	return g.out[:n]
}

func (g *longer) now() time.Time { return pt.At(len(g.out)) }

func (g *longer) emit(actor string, e domain.Event) {
	_, email := g.accountOf(actor)
	g.out = append(g.out, pt.Step{PropertyID: g.pid, ActorID: actor, ActorEmail: email, Event: e})
}

// admin is an enabled admin, the owner most often.
func (g *longer) admin() string {
	if g.rnd.IntN(3) > 0 {
		return g.owner
	}
	for _, a := range g.order {
		if m := g.members[a]; m.role == domain.RoleAdmin && !m.disabled {
			return a
		}
	}
	return g.owner
}

// live are the pending invitations not yet expired.
func (g *longer) live() []string {
	var out []string
	for _, id := range g.invites {
		if g.now().Before(g.pending[id].expires) {
			out = append(out, id)
		}
	}
	return out
}

func (g *longer) step(accounts int) {
	admin := g.admin()
	live := g.live()
	switch r := g.rnd.IntN(100); {
	case r < 30 || len(g.invites) == 0:
		g.invite(admin, accounts)
	case r < 50 && len(live) > 0:
		id := live[g.rnd.IntN(len(live))]
		inv := g.take(id)
		_, email := g.accountOf(inv.account)
		g.emit(inv.account, domain.InvitationAccepted{Schema: 1, InvitationID: id, AccountID: inv.account})
		g.emit(inv.account, domain.MemberJoined{Schema: 1, AccountID: inv.account, Email: email, Role: inv.role, InvitationID: id})
		g.members[inv.account] = &longMember{role: inv.role}
		g.order = append(g.order, inv.account)
	case r < 54 && len(live) > 0:
		id := live[g.rnd.IntN(len(live))]
		inv := g.take(id)
		g.emit(inv.account, domain.InvitationDeclined{Schema: 1, InvitationID: id})
	case r < 60 && len(live) > 0:
		id := live[g.rnd.IntN(len(live))]
		g.take(id)
		g.emit(admin, domain.InvitationRevoked{Schema: 1, InvitationID: id})
	case r < 65:
		// Expired or not, a pending invitation may be sent again.
		id := g.invites[g.rnd.IntN(len(g.invites))]
		g.pending[id].expires = g.ttl()
		g.emit(admin, domain.InvitationResent{Schema: 1, InvitationID: id, ExpiresAt: g.pending[id].expires,
			TokenNonce: fmt.Sprintf("nonce-%d", len(g.out))})
	default:
		g.manage(admin, r)
	}
}

func (g *longer) ttl() time.Time {
	if g.rnd.IntN(3) == 0 {
		return g.now().Add(time.Duration(5+g.rnd.IntN(240)) * time.Minute)
	}
	return g.now().Add(pt.InviteTTL)
}

func (g *longer) invite(admin string, accounts int) {
	for range 5 {
		acc, email := g.account(1 + g.rnd.IntN(accounts))
		if _, member := g.members[acc]; member {
			continue
		}
		taken := false
		for _, inv := range g.pending {
			taken = taken || inv.account == acc
		}
		if taken {
			continue
		}
		g.seq++
		id := fmt.Sprintf("inv-%s-%d", g.pid, g.seq)
		role := domain.RoleAgent
		if g.rnd.IntN(4) == 0 {
			role = domain.RoleAdmin
		}
		inv := &longInvite{account: acc, role: role, expires: g.ttl()}
		g.emit(admin, domain.MemberInvited{Schema: 1, InvitationID: id, Email: email, Role: role, InvitedBy: admin,
			ExpiresAt: inv.expires, TokenNonce: "nonce-" + id})
		g.pending[id] = inv
		g.invites = append(g.invites, id)
		return
	}
	// Every account picked is taken: something else happens instead.
	g.manage(g.owner, 70)
}

func (g *longer) take(id string) *longInvite {
	inv := g.pending[id]
	delete(g.pending, id)
	g.invites = slices.DeleteFunc(g.invites, func(s string) bool { return s == id })
	return inv
}

// manage changes a member other than the owner, or hands ownership over.
func (g *longer) manage(admin string, r int) {
	var others []string
	for _, a := range g.order {
		if a != g.owner && a != admin {
			others = append(others, a)
		}
	}
	if len(others) == 0 {
		return // nobody to change: the next step does something else
	}
	acc := others[g.rnd.IntN(len(others))]
	m := g.members[acc]
	switch {
	case r < 80:
		to := domain.RoleAdmin
		if m.role == domain.RoleAdmin {
			to = domain.RoleAgent
		}
		g.emit(admin, domain.MemberRoleChanged{Schema: 1, AccountID: acc, From: m.role, To: to})
		m.role = to
	case r < 88:
		if m.disabled {
			g.emit(admin, domain.MemberAccessEnabled{Schema: 1, AccountID: acc})
		} else {
			g.emit(admin, domain.MemberAccessDisabled{Schema: 1, AccountID: acc})
		}
		m.disabled = !m.disabled
	case r < 93:
		g.emit(admin, domain.MemberRemoved{Schema: 1, AccountID: acc})
		g.drop(acc)
	case r < 97:
		g.emit(acc, domain.MemberLeft{Schema: 1, AccountID: acc})
		g.drop(acc)
	default:
		if m.role != domain.RoleAdmin {
			g.emit(admin, domain.MemberRoleChanged{Schema: 1, AccountID: acc, From: m.role, To: domain.RoleAdmin})
			m.role = domain.RoleAdmin
		}
		if m.disabled {
			g.emit(admin, domain.MemberAccessEnabled{Schema: 1, AccountID: acc})
			m.disabled = false
		}
		g.emit(g.owner, domain.OwnershipTransferred{Schema: 1, From: g.owner, To: acc})
		g.owner = acc
	}
}

func (g *longer) drop(acc string) {
	delete(g.members, acc)
	g.order = slices.DeleteFunc(g.order, func(s string) bool { return s == acc })
}

// skewedReader moves the clock of every seventh event back by three
// minutes and a few nanoseconds, as a writer whose clock lags would: a
// later revision then carries an earlier time than the one before it.
type skewedReader struct{ readmodels.StreamReader }

func (r skewedReader) ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	recs, err := r.StreamReader.ReadStreamPage(ctx, stream, from, limit)
	if err != nil {
		return nil, err
	}
	out := make([]eventstore.RecordedEvent, len(recs))
	for i, rec := range recs {
		out[i] = rec
		if rec.Revision%7 != 3 {
			continue
		}
		var m domain.Metadata
		if err := json.Unmarshal(rec.Metadata, &m); err != nil {
			return nil, err
		}
		m.OccurredAt = m.OccurredAt.Add(-3*time.Minute - 7)
		if out[i].Metadata, err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// countingReader counts the events read through it.
type countingReader struct {
	readmodels.StreamReader
	read *int
}

func (r countingReader) ReadStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	recs, err := r.StreamReader.ReadStreamPage(ctx, stream, from, limit)
	*r.read += len(recs)
	return recs, err
}
