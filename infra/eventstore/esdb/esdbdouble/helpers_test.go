package esdbdouble_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
)

// These tests speak the wire protocol through the generated stubs, so they
// see every field and message a node would send, as any client would.

const patience = 30 * time.Second

// start starts a double with an empty log, closed when the test ends.
func start(t *testing.T, opts esdbdouble.Options) *esdbdouble.Server {
	t.Helper()
	opts.NoSystemEvents = true
	srv, err := esdbdouble.StartWith("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// dial connects to srv without TLS, as a client with tls=false does.
func dial(t *testing.T, srv *esdbdouble.Server) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return c
}

var empty = &shared.Empty{}

// Expected revisions of an append, as the wire has them.
func expectAny() *streams.AppendReq_Options {
	return &streams.AppendReq_Options{ExpectedStreamRevision: &streams.AppendReq_Options_Any{Any: empty}}
}

func expectNoStream() *streams.AppendReq_Options {
	return &streams.AppendReq_Options{ExpectedStreamRevision: &streams.AppendReq_Options_NoStream{NoStream: empty}}
}

func expectExists() *streams.AppendReq_Options {
	return &streams.AppendReq_Options{ExpectedStreamRevision: &streams.AppendReq_Options_StreamExists{StreamExists: empty}}
}

func expectRevision(r uint64) *streams.AppendReq_Options {
	return &streams.AppendReq_Options{ExpectedStreamRevision: &streams.AppendReq_Options_Revision{Revision: r}}
}

// event is a proposed JSON event with a fresh ID.
func event(eventType string) *streams.AppendReq_ProposedMessage {
	return proposedWithID(uuid.New(), eventType)
}

func proposedWithID(id uuid.UUID, eventType string) *streams.AppendReq_ProposedMessage {
	return &streams.AppendReq_ProposedMessage{
		Id:       structured(id),
		Metadata: map[string]string{"type": eventType, "content-type": "application/json"},
		Data:     []byte(`{"n":1}`),
	}
}

func structured(id uuid.UUID) *shared.UUID {
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

// appendTo sends one append: the options (with the stream), then events.
func appendTo(c context.Context, client streams.StreamsClient, stream string, opts *streams.AppendReq_Options, events ...*streams.AppendReq_ProposedMessage) (*streams.AppendResp, error) {
	call, err := client.Append(c)
	if err != nil {
		return nil, err
	}
	opts.StreamIdentifier = &shared.StreamIdentifier{StreamName: []byte(stream)}
	if err := call.Send(&streams.AppendReq{Content: &streams.AppendReq_Options_{Options: opts}}); err != nil {
		return nil, err
	}
	for _, e := range events {
		if err := call.Send(&streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: e}}); err != nil {
			return nil, err
		}
	}
	return call.CloseAndRecv()
}

// mustAppend appends and fails the test unless the node answers success.
func mustAppend(t *testing.T, client streams.StreamsClient, stream string, opts *streams.AppendReq_Options, events ...*streams.AppendReq_ProposedMessage) *streams.AppendResp_Success {
	t.Helper()
	resp, err := appendTo(ctx(t), client, stream, opts, events...)
	if err != nil || resp.GetSuccess() == nil {
		t.Fatalf("append to %s: %v, %v", stream, resp, err)
	}
	return resp.GetSuccess()
}

// readAll collects every message of a read until the server ends it.
func readAll(t *testing.T, client streams.StreamsClient, req *streams.ReadReq) []*streams.ReadResp {
	t.Helper()
	call, err := client.Read(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	var out []*streams.ReadResp
	for {
		m, err := call.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, m)
	}
}

// readOptions is a read request's options with structured IDs and no
// filter, as the Go client sends them.
func readOptions() *streams.ReadReq_Options {
	return &streams.ReadReq_Options{
		FilterOption: &streams.ReadReq_Options_NoFilter{NoFilter: empty},
		UuidOption:   &streams.ReadReq_Options_UUIDOption{Content: &streams.ReadReq_Options_UUIDOption_Structured{Structured: empty}},
	}
}
