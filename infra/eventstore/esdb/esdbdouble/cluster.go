package esdbdouble

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
)

// featuresService answers what the client asks right after it connects.
type featuresService struct {
	serverfeatures.UnimplementedServerFeaturesServer
	srv *Server
}

// GetSupportedMethods lists the methods the double serves, named as a node
// names them (lower-case service and method), with the features a node
// reports for them.
func (f *featuresService) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	const streamsService = "event_store.client.streams.streams"
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: f.srv.opts.Version,
		Methods: []*serverfeatures.SupportedMethod{
			{MethodName: "read", ServiceName: streamsService, Features: []string{"position", "events"}},
			{MethodName: "append", ServiceName: streamsService},
			{MethodName: "read", ServiceName: "event_store.client.gossip.gossip"},
			{MethodName: "getsupportedmethods", ServiceName: "event_store.client.server_features.serverfeatures"},
		},
	}, nil
}

// gossipService describes the cluster to clients that discover it.
type gossipService struct {
	gossip.UnimplementedGossipServer
	srv *Server
}

// Read returns Options.Members, or this server alone as the leader.
func (g *gossipService) Read(context.Context, *shared.Empty) (*gossip.ClusterInfo, error) {
	members := g.srv.opts.Members
	if len(members) == 0 {
		host, port, _ := net.SplitHostPort(g.srv.addr)
		p, _ := strconv.Atoi(port)
		members = []Member{{Host: host, Port: p, State: gossip.MemberInfo_Leader, Alive: true}}
	}
	now := time.Now().UnixNano() / 100
	info := &gossip.ClusterInfo{}
	for _, m := range members {
		info.Members = append(info.Members, &gossip.MemberInfo{
			InstanceId:   toProtoUUID(newID(), false),
			TimeStamp:    now,
			State:        m.State,
			IsAlive:      m.Alive,
			HttpEndPoint: &gossip.EndPoint{Address: m.Host, Port: uint32(m.Port)},
		})
	}
	return info, nil
}
