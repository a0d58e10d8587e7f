package esdbdouble_test

import (
	"math"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
)

// TestAppendAnswers checks every expected-revision kind against a missing
// and an existing stream, and the wrong-expected-version reply field by
// field, both in its current fields and in the 20.6.0 ones.
func TestAppendAnswers(t *testing.T) {
	t.Parallel()
	wev := func(current, expected any) *streams.AppendResp {
		w := &streams.AppendResp_WrongExpectedVersion{}
		switch c := current.(type) {
		case uint64:
			w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: c}
			w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: c}
		default: // no stream
			w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: empty}
			w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: empty}
		}
		switch e := expected.(type) {
		case uint64:
			w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: e}
			w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: e}
		case string:
			switch e {
			case "no stream":
				w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: empty}
				w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: math.MaxUint64}
			case "stream exists":
				w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: empty}
				w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: empty}
			}
		}
		return &streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
	}
	tests := []struct {
		name     string
		existing int
		opts     func() *streams.AppendReq_Options
		// wantRevision is the success's current revision; want, when set,
		// is the whole wrong-expected-version answer.
		wantRevision uint64
		want         *streams.AppendResp
	}{
		{"no stream on a missing stream appends from 0", 0, expectNoStream, 1, nil},
		{"no stream on an existing stream is refused", 3, expectNoStream, 0, wev(uint64(2), "no stream")},
		{"the last revision appends after it", 3, func() *streams.AppendReq_Options { return expectRevision(2) }, 4, nil},
		{"an older revision is refused", 3, func() *streams.AppendReq_Options { return expectRevision(1) }, 0, wev(uint64(2), uint64(1))},
		{"a revision not reached yet is refused", 3, func() *streams.AppendReq_Options { return expectRevision(5) }, 0, wev(uint64(2), uint64(5))},
		{"a revision on a missing stream is refused as no stream", 0, func() *streams.AppendReq_Options { return expectRevision(0) }, 0, wev(nil, uint64(0))},
		{"any appends to a missing stream", 0, expectAny, 1, nil},
		{"any appends to an existing stream", 3, expectAny, 4, nil},
		{"stream exists on a missing stream is refused", 0, expectExists, 0, wev(nil, "stream exists")},
		{"stream exists on an existing stream appends", 3, expectExists, 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := streams.NewStreamsClient(dial(t, start(t, esdbdouble.Options{})))
			if tt.existing > 0 {
				var events []*streams.AppendReq_ProposedMessage
				for range tt.existing {
					events = append(events, event("Existing"))
				}
				mustAppend(t, client, "s", expectNoStream(), events...)
			}
			resp, err := appendTo(ctx(t), client, "s", tt.opts(), event("A"), event("B"))
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, resp, protocmp.Transform()); diff != "" {
					t.Errorf("answer (-want +got):\n%s", diff)
				}
				return
			}
			ok := resp.GetSuccess()
			if ok == nil || ok.GetCurrentRevision() != tt.wantRevision || ok.GetPosition().GetCommitPosition() == 0 ||
				ok.GetPosition().GetCommitPosition() != ok.GetPosition().GetPreparePosition() {
				t.Errorf("answer %v, want success at revision %d with a position", resp, tt.wantRevision)
			}
		})
	}
}

// TestAppendIdempotency follows the node's rules for an append whose IDs
// are stored already, against a stream holding a, b, c (revisions 0-2):
// with any, the first ID decides whether the append is new and the others
// only whether it is a faithful repeat, in any order; with a revision (or
// no stream) behind the end, the IDs are compared by position.
func TestAppendIdempotency(t *testing.T) {
	t.Parallel()
	a, b, c, n := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	tests := []struct {
		name string
		opts func() *streams.AppendReq_Options
		ids  []uuid.UUID
		// wantEnd is the event (of a, b, c) whose revision and position an
		// idempotent answer carries; wantAppended how many events the
		// stream gained; wantWrong a wrong expected version.
		wantEnd      *uuid.UUID
		wantAppended int
		wantWrong    bool
	}{
		{name: "any repeat answers with the last event", opts: expectAny, ids: []uuid.UUID{a, b, c}, wantEnd: &c},
		{name: "any repeat out of order answers with the event of the last ID", opts: expectAny, ids: []uuid.UUID{b, a}, wantEnd: &a},
		{name: "any with a new first ID is a new append, whatever follows", opts: expectAny, ids: []uuid.UUID{n, a}, wantAppended: 2},
		{name: "any with a stored first ID and a new one is refused", opts: expectAny, ids: []uuid.UUID{a, n}, wantWrong: true},
		{name: "no stream repeat by position answers with the last event", opts: expectNoStream, ids: []uuid.UUID{a, b, c}, wantEnd: &c},
		{name: "no stream with a stored then a new ID is refused", opts: expectNoStream, ids: []uuid.UUID{a, n}, wantWrong: true},
		{name: "a revision behind the end with the next IDs is a repeat", opts: func() *streams.AppendReq_Options { return expectRevision(0) }, ids: []uuid.UUID{b, c}, wantEnd: &c},
		{name: "a revision behind the end with other IDs is refused", opts: func() *streams.AppendReq_Options { return expectRevision(0) }, ids: []uuid.UUID{c}, wantWrong: true},
		{name: "a revision past the end is refused even for stored IDs", opts: func() *streams.AppendReq_Options { return expectRevision(7) }, ids: []uuid.UUID{a, b, c}, wantWrong: true},
		{name: "the current revision appends stored IDs again", opts: func() *streams.AppendReq_Options { return expectRevision(2) }, ids: []uuid.UUID{a}, wantAppended: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := streams.NewStreamsClient(dial(t, start(t, esdbdouble.Options{})))
			first := map[uuid.UUID]*streams.AppendResp_Success{}
			for _, id := range []uuid.UUID{a, b, c} {
				first[id] = mustAppend(t, client, "s", expectAny(), proposedWithID(id, "Stored"))
			}
			var events []*streams.AppendReq_ProposedMessage
			for _, id := range tt.ids {
				events = append(events, proposedWithID(id, "Again"))
			}
			resp, err := appendTo(ctx(t), client, "s", tt.opts(), events...)
			if err != nil {
				t.Fatal(err)
			}
			got := len(readAll(t, client, streamRead("s", true, 100)))
			switch {
			case tt.wantWrong:
				if resp.GetWrongExpectedVersion() == nil || resp.GetWrongExpectedVersion().GetCurrentRevision() != 2 {
					t.Errorf("answer %v, want a wrong expected version at revision 2", resp)
				}
			case tt.wantEnd != nil:
				if diff := cmp.Diff(first[*tt.wantEnd], resp.GetSuccess(), protocmp.Transform()); diff != "" {
					t.Errorf("answer (-first +repeat):\n%s", diff)
				}
			default:
				if resp.GetSuccess().GetCurrentRevision() != uint64(2+tt.wantAppended) {
					t.Errorf("answer %v, want a new append up to revision %d", resp, 2+tt.wantAppended)
				}
			}
			if got != 3+tt.wantAppended {
				t.Errorf("the stream holds %d events, want %d", got, 3+tt.wantAppended)
			}
		})
	}
}

// TestAppendRefusals checks the appends a node refuses before looking at
// the stream, with their status and trailers.
func TestAppendRefusals(t *testing.T) {
	t.Parallel()
	noType := event("X")
	delete(noType.Metadata, "type")
	noContentType := event("X")
	delete(noContentType.Metadata, "content-type")
	big := event("Big")
	big.Data = make([]byte, 600)
	tests := []struct {
		name        string
		events      []*streams.AppendReq_ProposedMessage
		wantCode    codes.Code
		wantTrailer string // the exception trailer
	}{
		{"an event without a type", []*streams.AppendReq_ProposedMessage{noType}, codes.InvalidArgument, "missing-required-metadata-property"},
		{"an event without a content type", []*streams.AppendReq_ProposedMessage{noContentType}, codes.InvalidArgument, "missing-required-metadata-property"},
		{"an append over the maximum size", []*streams.AppendReq_ProposedMessage{event("Small"), big}, codes.InvalidArgument, "maximum-append-size-exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := streams.NewStreamsClient(dial(t, start(t, esdbdouble.Options{MaxAppendSize: 512})))
			call, err := client.Append(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			opts := expectAny()
			opts.StreamIdentifier = streamID("s")
			_ = call.Send(&streams.AppendReq{Content: &streams.AppendReq_Options_{Options: opts}})
			for _, e := range tt.events {
				_ = call.Send(&streams.AppendReq{Content: &streams.AppendReq_ProposedMessage_{ProposedMessage: e}})
			}
			_, err = call.CloseAndRecv()
			trailer := call.Trailer()
			if status.Code(err) != tt.wantCode || first(trailer, "exception") != tt.wantTrailer {
				t.Errorf("error %v with exception %q, want %s with %q", err, first(trailer, "exception"), tt.wantCode, tt.wantTrailer)
			}
			if got := len(readAll(t, client, streamRead("s", true, 10))); got != 1 { // 1: stream-not-found
				t.Errorf("read after a refused append returned %d messages, want only stream-not-found", got)
			}
		})
	}
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
