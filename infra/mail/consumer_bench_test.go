package mail

import (
	"fmt"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
)

// BenchmarkConsumerBatch records the mails of batches of 500 invitations
// to one property, as the feed gives them after a burst: events/s is what
// the mail consumer can follow.
//
//	go test -run '^$' -bench ConsumerBatch -benchtime 20x ./infra/mail/
func BenchmarkConsumerBatch(b *testing.B) {
	f := newConsumerFixture(b)
	f.created()
	const perBatch = 500
	batches := make([]*message.Message, b.N)
	for i := range batches {
		msgs := make([]*message.Message, perBatch)
		for j := range msgs {
			msgs[j] = f.msg("owner@example.com", domain.MemberInvited{Schema: 1, InvitationID: uuid.NewString(),
				Email: fmt.Sprintf("p%d-%d@example.com", i, j), Role: domain.RoleAgent, InvitedBy: "acc-owner",
				ExpiresAt: expires, TokenNonce: "n"})
		}
		batches[i] = f.batch(msgs...)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := f.c.Handle(batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "events/s")
}
