package feed_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
	"github.com/rosterhq/roster/infra/feed"
)

func batchOf(n int) []eventstore.RecordedEvent {
	out := make([]eventstore.RecordedEvent, n)
	for i := range out {
		out[i] = eventstore.RecordedEvent{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), StreamID: fmt.Sprintf("property-%d", i%3),
			Revision: uint64(i / 3), Position: eventstore.Position{Commit: uint64(100 + i), Prepare: uint64(7 * i)}, Type: "MemberInvited",
			Data: []byte(fmt.Sprintf(`{"schema":1,"n":%d}`, i)), Metadata: []byte(`{"actor_id":"a"}`),
			RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, i*1000+7, time.UTC)}
	}
	return out
}

func TestABatchMessageCarriesEveryEventWhole(t *testing.T) {
	odd := batchOf(3)
	odd[0].Metadata = nil
	odd[1].Data = []byte{0xff, 0x00, '"'} // not JSON: carried byte for byte all the same
	odd[2].RecordedAt = time.Time{}
	tests := []struct {
		name string
		recs []eventstore.RecordedEvent
	}{
		{"one event", batchOf(1)},
		{"five hundred events", batchOf(500)},
		{"events without metadata, with bytes that are not JSON, recorded at the zero time", odd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := feed.ToBatchMessage(tt.recs)
			got, err := feed.Events(msg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.recs, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if n := feed.EventCount(msg); n != len(tt.recs) {
				t.Errorf("EventCount = %d, want %d", n, len(tt.recs))
			}
			last := tt.recs[len(tt.recs)-1]
			if msg.Metadata.Get(feed.KeyCommit) != fmt.Sprint(last.Position.Commit) || msg.Metadata.Get(feed.KeyPrepare) != fmt.Sprint(last.Position.Prepare) {
				t.Errorf("metadata %v does not name the last event's position %s", msg.Metadata, last.Position)
			}
			if again := feed.ToBatchMessage(tt.recs); again.UUID != msg.UUID {
				t.Errorf("the same events gave UUIDs %s and %s", msg.UUID, again.UUID)
			}
		})
	}
}

func TestEventsOfASingleEventMessage(t *testing.T) {
	rec := batchOf(1)[0]
	msg := feed.ToMessage(rec)
	got, err := feed.Events(msg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]eventstore.RecordedEvent{rec}, got); diff != "" {
		t.Errorf("Events (-want +got):\n%s", diff)
	}
	if n := feed.EventCount(msg); n != 1 {
		t.Errorf("EventCount = %d, want 1", n)
	}
}

func TestAMalformedBatchIsRefused(t *testing.T) {
	good := feed.ToBatchMessage(batchOf(4)).Payload
	tests := []struct {
		name    string
		payload []byte
		count   string
	}{
		{"an empty payload", nil, "4"},
		{"an unknown format", append([]byte{9}, good[1:]...), "4"},
		{"a payload cut short", good[:len(good)-3], "4"},
		{"bytes after the last event", append(append([]byte{}, good...), 0), "4"},
		{"a count the metadata does not match", good, "5"},
		{"a count that is not a number", good, "four"},
		{"a count far beyond what the payload holds", binary.AppendUvarint([]byte{1}, 1<<40), "4"},
		{"no events", binary.AppendUvarint([]byte{1}, 0), "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := message.NewMessage("m", tt.payload)
			msg.Metadata.Set(feed.KeyBatch, tt.count)
			if recs, err := feed.Events(msg); err == nil {
				t.Errorf("Events accepted it: %d events", len(recs))
			}
		})
	}
}

// TestABatchedConsumerGetsTheFeedInBatches: a topic given MaxBatch above
// one gets batch messages of at most that many events, in feed order,
// every event once; a Nacked batch comes again whole; the checkpoint saved
// is the last event of each Acked batch; other topics still get one event
// per message.
func TestABatchedConsumerGetsTheFeedInBatches(t *testing.T) {
	t.Parallel()
	store := memory.New()
	ctx := context.Background()
	var want []string
	for i := range 23 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		if _, err := store.Append(ctx, fmt.Sprintf("property-%d", i%4), eventstore.Any(),
			[]eventstore.EventData{{ID: id, Type: "PropertyCreated", Data: []byte(`{"schema":1}`)}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	cps := &memCheckpoints{pos: map[string]eventstore.Position{}}
	sub := feed.NewSubscriber(store, cps, feed.SubscriberConfig{
		MaxBatch: func(topic string) int {
			if topic == "batched" {
				return 5
			}
			return 0
		},
		NackBackoff: time.Millisecond,
	}, zerolog.Nop())
	defer sub.Close()

	next := func(msgs <-chan *message.Message) *message.Message {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case <-time.After(time.Minute): // a hang guard, not a timing assertion
			t.Fatal("no message came")
			return nil
		}
	}
	ids := func(m *message.Message) []string {
		t.Helper()
		recs, err := feed.Events(m)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}

	msgs, err := sub.Subscribe(ctx, "batched")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < len(want) {
		m := next(msgs)
		batch := ids(m)
		if len(batch) == 0 || len(batch) > 5 {
			t.Fatalf("a batch of %d events, want 1 to 5", len(batch))
		}
		if len(got) == 5 {
			m.Nack()
			m = next(msgs)
			if again := ids(m); !cmp.Equal(again, batch) {
				t.Fatalf("after a Nack came %v, want %v again", again, batch)
			}
		}
		m.Ack()
		got = append(got, batch...)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events of the batches (-want +got):\n%s", diff)
	}
	last, err := store.ReadAll(ctx, eventstore.Start, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The save follows the Ack, on the subscription's goroutine.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		cp, _ := cps.Load(ctx, "batched")
		if cp == last[len(last)-1].Position {
			break
		}
		if time.Now().After(deadline) { // a hang guard, not a timing assertion
			t.Fatalf("the checkpoint stays at %s, short of the last event", cp)
		}
	}

	single, err := sub.Subscribe(ctx, "single")
	if err != nil {
		t.Fatal(err)
	}
	m := next(single)
	if m.Metadata.Get(feed.KeyBatch) != "" || m.UUID != want[0] {
		t.Errorf("an unbatched topic got %s with metadata %v, want the first event alone", m.UUID, m.Metadata)
	}
	m.Ack()
}
