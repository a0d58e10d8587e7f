package esdbdouble_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
)

// TestConnectCalls checks what a client asks when it connects: the
// supported methods (and the server version the client parses), and, with
// a cluster connection string, the gossip.
func TestConnectCalls(t *testing.T) {
	t.Parallel()
	srv := start(t, esdbdouble.Options{Version: "23.10.1"})
	conn := dial(t, srv)

	methods, err := serverfeatures.NewServerFeaturesClient(conn).GetSupportedMethods(ctx(t), &shared.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	want := &serverfeatures.SupportedMethods{EventStoreServerVersion: "23.10.1", Methods: []*serverfeatures.SupportedMethod{
		{MethodName: "read", ServiceName: "event_store.client.streams.streams", Features: []string{"position", "events"}},
		{MethodName: "append", ServiceName: "event_store.client.streams.streams"},
		{MethodName: "read", ServiceName: "event_store.client.gossip.gossip"},
		{MethodName: "getsupportedmethods", ServiceName: "event_store.client.server_features.serverfeatures"},
	}}
	if diff := cmp.Diff(want, methods, protocmp.Transform()); diff != "" {
		t.Errorf("supported methods (-want +got):\n%s", diff)
	}

	info, err := gossip.NewGossipClient(conn).Read(ctx(t), &shared.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(srv.Addr())
	if len(info.GetMembers()) != 1 {
		t.Fatalf("gossip %v, want one member", info)
	}
	m := info.GetMembers()[0]
	if m.GetState() != gossip.MemberInfo_Leader || !m.GetIsAlive() || m.GetHttpEndPoint().GetAddress() != host ||
		strconv.Itoa(int(m.GetHttpEndPoint().GetPort())) != port {
		t.Errorf("gossip member %v, want this server, alive, as leader", m)
	}
}

// TestStopAndRestartKeepTheLog stops the server as a node goes down and
// serves the same log on the same address again.
func TestStopAndRestartKeepTheLog(t *testing.T) {
	t.Parallel()
	srv := start(t, esdbdouble.Options{})
	mustAppend(t, streams.NewStreamsClient(dial(t, srv)), "s", expectNoStream(), event("Before"))
	srv.Stop()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	client := streams.NewStreamsClient(dial(t, srv))
	mustAppend(t, client, "s", expectRevision(0), event("After"))
	if diff := cmp.Diff([]string{"Before", "After"}, eventTypes(readAll(t, client, streamRead("s", true, 10)))); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
	srv.Close()
	if err := srv.Restart(); err == nil {
		t.Error("Restart after Close succeeded")
	}
}
