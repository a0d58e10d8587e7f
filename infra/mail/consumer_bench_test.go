package mail

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/pgtest"
)

// BenchmarkConsumerBatch records the mails of batches of 500 invitations
// to one property, as the feed gives them after a burst: events/s is what
// the mail consumer can follow.
//
//	go test -run '^$' -bench ConsumerBatch -benchtime 20x ./infra/mail/
func BenchmarkConsumerBatch(b *testing.B) {
	pool := pgtest.NewPool(b)
	d, err := NewDeliverer(DelivererConfig{Pool: pool, Sender: &outbox{}, MaxAttempts: 3})
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewConsumer(ConsumerConfig{Pool: pool, Deliverer: d, Tokens: invitetoken.New([]byte("a test key of at least 32 bytes!!")),
		AcceptURL: testAcceptURL, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	pid := uuid.NewString()
	var rev uint64
	event := func(ev domain.Event) eventstore.RecordedEvent {
		typ, data, err := domain.EncodeEvent(ev)
		if err != nil {
			b.Fatal(err)
		}
		id := uuid.NewString()
		meta, _ := json.Marshal(domain.Metadata{EventID: id, ActorID: "acc-owner", ActorEmail: "owner@example.com", OccurredAt: consumerNow, Schema: 1})
		rev++
		return eventstore.RecordedEvent{ID: id, StreamID: domain.StreamName(pid), Revision: rev,
			Position: eventstore.Position{Commit: rev, Prepare: rev}, Type: typ, Data: data, Metadata: meta, RecordedAt: consumerNow}
	}
	if err := c.Handle(feed.ToMessage(event(domain.PropertyCreated{Schema: 1, PropertyID: pid, Name: "Acme", OwnerID: "acc-owner"}))); err != nil {
		b.Fatal(err)
	}
	const perBatch = 500
	batches := make([][]eventstore.RecordedEvent, b.N)
	for i := range batches {
		for j := range perBatch {
			batches[i] = append(batches[i], event(domain.MemberInvited{Schema: 1, InvitationID: uuid.NewString(),
				Email: fmt.Sprintf("p%d-%d@example.com", i, j), Role: domain.RoleAgent, InvitedBy: "acc-owner",
				ExpiresAt: expires, TokenNonce: "n"}))
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if err := c.Handle(feed.ToBatchMessage(batches[i])); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "events/s")
}
