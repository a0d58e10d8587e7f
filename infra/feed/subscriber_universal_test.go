package feed_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/feed"
)

// Topics of the universal suite map to streams: the messages published to
// topic T become the events of stream "topic-T", in publishing order, and
// the subscription of topic T (the consumer named T) is filtered to that
// stream. Roster's own consumers take no filter: each reads the whole feed.
const topicStreamPrefix = "topic-"

// testPublisher appends each message as an event of its topic's stream.
// Event IDs are unique in the whole store, and the suite publishes one
// message to several topics, so the event ID is derived from the topic and
// the message UUID, which travels in the event's metadata; the data is the
// payload as a JSON string (the store keeps JSON only).
type testPublisher struct{ store *memory.Store }

func (p testPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		data, _ := json.Marshal(string(m.Payload))
		md := message.Metadata{keyMessageUUID: m.UUID}
		for k, v := range m.Metadata {
			md[k] = v
		}
		meta, _ := json.Marshal(md)
		id := uuid.NewSHA1(uuid.NameSpaceOID, []byte(topic+"\x00"+m.UUID)).String()
		_, err := p.store.Append(context.Background(), topicStreamPrefix+topic, eventstore.Any(),
			[]eventstore.EventData{{ID: id, Type: "TestMessage", Data: data, Metadata: meta}})
		if err != nil {
			return err
		}
	}
	return nil
}

func (testPublisher) Close() error { return nil }

// memCheckpoints keeps checkpoints in memory, shared by every subscriber
// of one suite run as the consumer_checkpoints table would be.
type memCheckpoints struct {
	mu  sync.Mutex
	pos map[string]eventstore.Position
}

func (c *memCheckpoints) Load(_ context.Context, name string) (eventstore.Position, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos[name], nil
}

func (c *memCheckpoints) Save(_ context.Context, name string, pos eventstore.Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pos[name].Less(pos) {
		c.pos[name] = pos
	}
	return nil
}

const keyMessageUUID = "test_message_uuid"

// unwrapping gives the suite back the message it published: its UUID and
// its payload, which the store keeps as a JSON string. Close closes the
// feed Subscriber and returns once every channel it gave out is closed.
type unwrapping struct {
	*feed.Subscriber
	done chan struct{}
	once *sync.Once
	wg   *sync.WaitGroup
}

func newUnwrapping(s *feed.Subscriber) unwrapping {
	return unwrapping{Subscriber: s, done: make(chan struct{}), once: &sync.Once{}, wg: &sync.WaitGroup{}}
}

func (s unwrapping) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := s.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	s.wg.Go(func() {
		defer close(out)
		for m := range in {
			var payload string
			_ = json.Unmarshal(m.Payload, &payload)
			m.Payload = []byte(payload)
			m.UUID = m.Metadata.Get(keyMessageUUID)
			select {
			case out <- m:
			case <-s.done:
				return
			}
		}
	})
	return out, nil
}

func (s unwrapping) Close() error {
	err := s.Subscriber.Close()
	s.once.Do(func() { close(s.done) })
	s.wg.Wait()
	return err
}

func TestUniversalPubSub(t *testing.T) {
	store := memory.New()
	cps := &memCheckpoints{pos: map[string]eventstore.Position{}}
	constructor := func(t *testing.T) (message.Publisher, message.Subscriber) {
		sub := feed.NewSubscriber(store, cps, feed.SubscriberConfig{
			Filter: func(topic string, rec eventstore.RecordedEvent) bool {
				return rec.StreamID == topicStreamPrefix+topic
			},
			NackBackoff: time.Millisecond, MaxNackBackoff: 10 * time.Millisecond,
		}, zerolog.Nop())
		return testPublisher{store: store}, newUnwrapping(sub)
	}
	tests.TestPubSub(t, tests.Features{
		// One topic is one consumer with one checkpoint: two subscriptions
		// of a topic both read from it (fan-out), they do not share the
		// work as a consumer group would.
		ConsumerGroups: false,
		// At least once: a crash, or a Close, between a handler's work and
		// the checkpoint's save sends the event again.
		ExactlyOnceDelivery: false,
		// The feed is totally ordered and the next message waits for the
		// Ack of the last; a Nack resends the same event before any later.
		GuaranteedOrder: true,
		// Implied by GuaranteedOrder.
		GuaranteedOrderWithSingleSubscriber: true,
		// Events stay in the store and checkpoints outlive subscribers: a
		// new Subscriber of a topic resumes where the last one was Acked.
		Persistent: true,
		// Subscribers of one store need not be the same instance.
		RequireSingleInstance: false,
		// False: a new subscriber of a topic resumes from that consumer's
		// checkpoint, so it does not see events an earlier subscriber of
		// the topic acknowledged (a new consumer name reads the whole feed).
		NewSubscriberReceivesOldMessages: false,
		// The event store keeps no Go context: a message's context is a
		// new one, cancelled when its subscription ends.
		ContextPreserved: false,
		// No broker process to restart here; restart from a checkpoint is
		// tested on PostgreSQL in TestSubscriberOnPostgres.
		RestartServiceCommand: nil,
	}, constructor, nil)
}
