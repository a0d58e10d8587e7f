package esdb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/esdb"
	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
	"github.com/rosterhq/roster/infra/eventstore/storetest"
)

// TestStore runs the contract suite through the protocol double: each store
// gets a double of its own.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store {
		return openStore(t, startDouble(t), esdb.Config{})
	})
}

// TestStoreOnServer runs the contract suite against the EventStoreDB node or
// cluster ROSTER_TEST_ESDB_URL names. The stores share that server, so each
// gets streams and a feed of its own: its stream names carry a fresh
// namespace, and its feed prefix is that namespace.
func TestStoreOnServer(t *testing.T) {
	url := os.Getenv("ROSTER_TEST_ESDB_URL")
	if url == "" {
		t.Skip("ROSTER_TEST_ESDB_URL is not set: the contract suite ran against the protocol double only (TestStore)")
	}
	storetest.Run(t, func(t *testing.T) eventstore.Store {
		ns := "property-" + nonce() + "-"
		return namespaced{Store: openURL(t, url, esdb.Config{FeedPrefix: ns}), ns: ns}
	})
}

// startDouble starts a double on a free loopback port, closed when the test
// ends.
func startDouble(tb testing.TB) *esdbdouble.Server {
	tb.Helper()
	srv, err := esdbdouble.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("start the double: %v", err)
	}
	tb.Cleanup(srv.Close)
	return srv
}

// openStore opens a store on srv, closed when the test ends.
func openStore(tb testing.TB, srv *esdbdouble.Server, cfg esdb.Config) *esdb.Store {
	tb.Helper()
	return openURL(tb, srv.URL(), cfg)
}

func openURL(tb testing.TB, url string, cfg esdb.Config) *esdb.Store {
	tb.Helper()
	s, err := esdb.Open(url, cfg)
	if err != nil {
		tb.Fatalf("Open(%s): %v", url, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func nonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// namespaced maps the suite's stream names (property-x) into a namespace
// of their own on a shared server (property-<ns>-x) and back.
type namespaced struct {
	*esdb.Store
	ns string
}

func (n namespaced) in(stream string) string {
	if rest, ok := strings.CutPrefix(stream, "property-"); ok {
		return n.ns + rest
	}
	return stream
}

func (n namespaced) out(events []eventstore.RecordedEvent) []eventstore.RecordedEvent {
	for i := range events {
		if rest, ok := strings.CutPrefix(events[i].StreamID, n.ns); ok {
			events[i].StreamID = "property-" + rest
		}
	}
	return events
}

func (n namespaced) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	res, err := n.Store.Append(ctx, n.in(stream), expected, events)
	var ce *eventstore.ConflictError
	if errors.As(err, &ce) {
		ce.Stream = stream
	}
	return res, err
}

func (n namespaced) ReadStream(ctx context.Context, stream string, from uint64) ([]eventstore.RecordedEvent, error) {
	events, err := n.Store.ReadStream(ctx, n.in(stream), from)
	return n.out(events), err
}

func (n namespaced) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	events, err := n.Store.ReadAll(ctx, after, limit)
	return n.out(events), err
}

func (n namespaced) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	sub, err := n.Store.SubscribeAll(ctx, after)
	if err != nil {
		return nil, err
	}
	return namespacedSub{Subscription: sub, n: n}, nil
}

type namespacedSub struct {
	eventstore.Subscription
	n namespaced
}

func (s namespacedSub) Next(ctx context.Context) ([]eventstore.RecordedEvent, error) {
	events, err := s.Subscription.Next(ctx)
	return s.n.out(events), err
}

// patience bounds every wait in this package's own tests; nothing sleeps
// to make something happen.
const patience = 30 * time.Second
