// Package esdbdouble is a protocol double of EventStoreDB: an in-process
// gRPC server, built on the generated stubs that ship inside the official Go
// client module, that answers the calls that client makes the way a single
// EventStoreDB node (24.x) answers them, over a log it keeps in memory.
//
// It implements:
//   - Streams.Append with every expected revision (any, no stream, stream
//     exists, exact), the node's idempotency rules (by the committed-events
//     index for any and stream exists, by position for an exact revision or
//     no stream behind the end; a partial repeat is a wrong expected
//     version), the wrong-expected-version reply with both its current and
//     its 20.6.0 fields filled as the node fills them, the required type
//     and content-type properties and the maximum append size;
//   - Streams.Read of a stream and of $all, forwards and backwards, from a
//     revision or position, the start or the end, with a count; a missing
//     stream answers stream-not-found; $all reads may be filtered by stream
//     name or event type, by prefixes or a regular expression; event IDs in
//     structured or string form, as asked;
//   - Streams.Read subscriptions to a stream and to $all, filtered or not,
//     from the start, the end, a revision or a position (starting after the
//     first event at or past it, as a node does): the confirmation first,
//     catch-up in pages, checkpoints every
//     checkpoint-interval-multiplier times max-search-window considered
//     events on filtered $all subscriptions, caught-up when the catch-up
//     reaches the end of the log, live events after it, and fell-behind
//     (then catch-up again) when a live subscriber lags more than the live
//     buffer;
//   - ServerFeatures.GetSupportedMethods (what the client asks at connect)
//     and Gossip.Read (what it asks first with a cluster connection string,
//     esdb+discover:// or several hosts), reporting this server as the
//     leader unless Options.Members says otherwise.
//
// Commit and prepare positions are equal for every event (each append
// commits itself, as appends outside explicit transactions do) and grow by
// each record's size, like byte offsets in a transaction file; the first
// event is past a stand-in epoch record, never at 0.
//
// It does not implement: BatchAppend, Delete and Tombstone (and so deleted
// streams), stream metadata semantics ($$ streams are plain streams here),
// explicit transactions, link resolution (resolve_links is ignored; there
// are no system projections to write links), authentication and ACLs
// (credentials are accepted and ignored), TLS (clients connect with
// tls=false), leader redirection for followers, persistent subscriptions,
// projections, users, operations and monitoring (all answer Unimplemented),
// first/last stream position messages for clients that ask for them with a
// control option, and .NET regular-expression syntax (filters compile with
// Go's regexp). The committed-events index is never trimmed, where a node
// keeps a bounded cache of it.
package esdbdouble

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Options tunes a Server. The zero value is a fresh single node.
type Options struct {
	// Version is the server version ServerFeatures reports, as
	// major.minor.patch. Default "24.10.0".
	Version string
	// Members is the cluster Gossip.Read describes. Empty means a single
	// node: this server, alive, as leader.
	Members []Member
	// NoSystemEvents leaves the log empty at start. By default it begins
	// with a few events in $-prefixed streams, standing in for those a
	// fresh node writes (epoch information, scavenge settings, the admin
	// user), so clients meet system events in $all as they would.
	NoSystemEvents bool
	// MaxAppendSize is the most payload bytes one append may carry.
	// Default 1 MiB, the node's default.
	MaxAppendSize int
	// LiveBufferSize is how far a live subscriber may lag before the
	// server sends it fell-behind and serves it from the log again.
	// Default 32.
	LiveBufferSize int
}

// Member is one node of the cluster Gossip.Read describes.
type Member struct {
	// Host and Port are where clients reach the node.
	Host string
	Port int
	// State is the node's role; clients prefer the leader by default.
	State gossip.MemberInfo_VNodeState
	// Alive false makes clients pass the node over.
	Alive bool
}

func (o *Options) setDefaults() {
	if o.Version == "" {
		o.Version = "24.10.0"
	}
	if o.MaxAppendSize <= 0 {
		o.MaxAppendSize = 1 << 20
	}
	if o.LiveBufferSize <= 0 {
		o.LiveBufferSize = 32
	}
}

// Server is a running double. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	log  *eventLog
	addr string

	mu      sync.Mutex
	grpc    *grpc.Server
	serving bool
	closed  bool
	subs    map[*subscriber]struct{}
	opened  int
}

// Start serves a fresh double on addr ("127.0.0.1:0" picks a free port)
// until Close. Errors are the listener's.
func Start(addr string) (*Server, error) { return StartWith(addr, Options{}) }

// StartWith is Start with options.
func StartWith(addr string, opts Options) (*Server, error) {
	opts.setDefaults()
	s := &Server{opts: opts, log: newEventLog(), subs: make(map[*subscriber]struct{})}
	if !opts.NoSystemEvents {
		s.seedSystemEvents()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("esdb double: listen on %s: %w", addr, err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// URL is an insecure connection string for the server.
func (s *Server) URL() string { return "esdb://" + s.addr + "?tls=false" }

func (s *Server) serve(ln net.Listener) {
	g := grpc.NewServer(
		// The official client pings every 10 seconds, idle or not; a
		// real node accepts that, grpc-go's default policy would not.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)
	streams.RegisterStreamsServer(g, &streamsService{srv: s})
	serverfeatures.RegisterServerFeaturesServer(g, &featuresService{srv: s})
	gossip.RegisterGossipServer(g, &gossipService{srv: s})
	s.mu.Lock()
	s.grpc, s.serving = g, true
	s.mu.Unlock()
	go func() { _ = g.Serve(ln) }()
}

// Stop stops serving as a node going down does: the listener closes and
// every connection and call ends. The log is kept for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	g := s.grpc
	s.serving = false
	s.mu.Unlock()
	if g != nil {
		g.Stop()
	}
}

// Restart serves the same log on the same address again after Stop.
func (s *Server) Restart() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("esdb double: restart after close")
	}
	if s.serving {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("esdb double: listen again on %s: %w", s.addr, err)
	}
	s.serve(ln)
	return nil
}

// Close stops the server for good. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.Stop()
}

// DropSubscriptions ends every open subscription call with an Unavailable
// status, as a node does when it drops its subscribers, and returns how
// many it ended. Other calls and the connections are left alone.
func (s *Server) DropSubscriptions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		sub.drop()
	}
	n := len(s.subs)
	clear(s.subs)
	return n
}

// SubscriptionsOpened is how many subscription calls the server has
// confirmed since it started.
func (s *Server) SubscriptionsOpened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened
}

func (s *Server) register(sub *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[sub] = struct{}{}
	s.opened++
}

func (s *Server) unregister(sub *subscriber) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subs, sub)
}

// seedSystemEvents writes stand-ins for the events a fresh node writes to
// its own streams before any client does.
func (s *Server) seedSystemEvents() {
	seed := []struct{ stream, eventType, data string }{
		{"$epoch-information", "$epoch-information", `{"epochNumber":0,"epochPosition":0}`},
		{"$$$scavenges", "$metadata", `{"$maxAge":2592000}`},
		{"$user-admin", "$user", `{"loginName":"admin","fullName":"Event Store Administrator","groups":["$admins"]}`},
	}
	for _, e := range seed {
		s.log.append(e.stream, expectAny, []proposed{{id: newID(), eventType: e.eventType,
			contentType: contentTypeJSON, data: []byte(e.data)}})
	}
}
