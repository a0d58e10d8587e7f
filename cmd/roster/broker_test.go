package main

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestServePublishesIntegrationEventsToTheBroker runs the App with
// ROSTER_BROKER_URL set and reads what reached JetStream: a property's
// creation, in the public schema, on the property's subject.
func TestServePublishesIntegrationEventsToTheBroker(t *testing.T) {
	url := os.Getenv("ROSTER_TEST_NATS_URL")
	if url == "" {
		t.Skip("ROSTER_TEST_NATS_URL is not set; make test starts a nats-server and sets it")
	}
	app := startApp(t, "ROSTER_BROKER_URL", url)
	owner := app.user(t, "owner")
	pid := app.createProperty(t, owner, "Brokered").PropertyID

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cons jetstream.Consumer
	for { // the forwarder creates the stream on its first event
		cons, err = js.OrderedConsumer(ctx, "ROSTER", jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{"roster.property." + pid + ".>"}})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no ROSTER stream: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := []string{"roster.property.created.v1", "roster.member.joined.v1"}
	var got []string
	for len(got) < len(want) && ctx.Err() == nil {
		batch, err := cons.Fetch(len(want)-len(got), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for msg := range batch.Messages() {
			var env struct {
				Type       string `json:"type"`
				PropertyID string `json:"property_id"`
			}
			if err := json.Unmarshal(msg.Data(), &env); err != nil {
				t.Fatalf("message on %s is not JSON: %v", msg.Subject(), err)
			}
			if env.PropertyID != pid {
				t.Errorf("message on %s names property %q, want %s", msg.Subject(), env.PropertyID, pid)
			}
			got = append(got, env.Type)
		}
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("published types %v, want %v", got, want)
	}
}
