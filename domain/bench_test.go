package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
)

// The benchmarks measure; they assert nothing about time.

// BenchmarkInviteDecision decides a bulk invite of 50 rows on a property of
// 1,000 members.
func BenchmarkInviteDecision(b *testing.B) {
	p := given(bigTeam(1000)...)
	reqs := rows(domain.MaxInvitesPerRequest)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Invite(owner, tNow, ttl, reqs); err != nil {
			b.Fatal(err)
		}
	}
}

// thousandEvents is a history of about 1,000 events: members join, are
// invited, accept, change role and leave.
func thousandEvents() []domain.Event {
	out := created()
	for i := 1; len(out) < 1000; i++ {
		m := member(i)
		id := fmt.Sprintf("inv-%04d", i)
		out = append(out,
			invited(id, m.Email, domain.RoleAgent, later),
			domain.InvitationAccepted{Schema: domain.SchemaV1, InvitationID: id, AccountID: m.AccountID},
			domain.MemberJoined{Schema: domain.SchemaV1, AccountID: m.AccountID, Email: m.Email, Role: domain.RoleAgent, InvitationID: id},
			roleChanged(m, domain.RoleAgent, domain.RoleAdmin),
		)
		if i%5 == 0 {
			out = append(out, left(m))
		}
	}
	return out
}

// BenchmarkApplyEvents replays about 1,000 events into a fresh property.
func BenchmarkApplyEvents(b *testing.B) {
	history := thousandEvents()
	b.ReportAllocs()
	b.ReportMetric(float64(len(history)), "events/op")
	for b.Loop() {
		p := domain.NewProperty(pid)
		for i, e := range history {
			p.Apply(e, t0.Add(time.Duration(i)*time.Second))
		}
	}
}

// BenchmarkEncodeDecode round-trips one event of every type.
func BenchmarkEncodeDecode(b *testing.B) {
	samples := sampleEvents()
	all := make([]domain.Event, 0, len(samples))
	for _, e := range samples {
		all = append(all, e)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range all {
			typ, data, err := domain.EncodeEvent(e)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := domain.DecodeEvent(typ, data); err != nil {
				b.Fatal(err)
			}
		}
	}
}
