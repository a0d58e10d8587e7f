package feed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/postgres"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/pgtest"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

// TestSubscriberOnPostgres: a consumer reads the events stored before it
// subscribed (catch-up), then those appended while it runs (live), and a
// new subscriber of the same consumer resumes after the last Acked event,
// from the checkpoint saved in consumer_checkpoints.
func TestSubscriberOnPostgres(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := postgres.New(pool)
	ctx := context.Background()
	appendN := func(from, n int) []string {
		var ids []string
		for i := from; i < from+n; i++ {
			id := pt.NewID()
			_, err := store.Append(ctx, fmt.Sprintf("property-%d", i), eventstore.NoStream(),
				[]eventstore.EventData{{ID: id, Type: "PropertyCreated", Data: []byte(`{"schema":1}`)}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	read := func(msgs <-chan *message.Message, n int) []string {
		t.Helper()
		var got []string
		for len(got) < n {
			select {
			case m := <-msgs:
				got = append(got, m.UUID)
				m.Ack()
			case <-time.After(time.Minute): // a hang guard, not a timing assertion
				t.Fatalf("received %d messages of %d", len(got), n)
			}
		}
		return got
	}
	newSub := func() *feed.Subscriber {
		return feed.NewSubscriber(store, feed.NewPGCheckpoints(pool), feed.SubscriberConfig{}, zerolog.Nop())
	}

	before := appendN(0, 5)
	sub := newSub()
	msgs, err := sub.Subscribe(ctx, "mailer")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, read(msgs, 5)); diff != "" {
		t.Errorf("catch-up (-want +got):\n%s", diff)
	}
	live := appendN(5, 3)
	if diff := cmp.Diff(live, read(msgs, 3)); diff != "" {
		t.Errorf("live (-want +got):\n%s", diff)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, open := <-msgs; open {
		t.Error("the channel is open after Close")
	}

	after := appendN(8, 2)
	sub = newSub()
	defer sub.Close()
	msgs, err = sub.Subscribe(ctx, "mailer")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(after, read(msgs, 2)); diff != "" {
		t.Errorf("after a restart (-want +got):\n%s", diff)
	}
}
