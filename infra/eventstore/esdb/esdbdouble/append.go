package esdbdouble

import (
	"errors"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The system properties of a proposed or recorded event, and the content
// types a node knows.
const (
	propType               = "type"
	propContentType        = "content-type"
	propCreated            = "created"
	contentTypeJSON        = "application/json"
	contentTypeOctetStream = "application/octet-stream"
)

// The trailers a node sets on the errors the double returns.
const (
	trailerException       = "exception"
	trailerRequiredProps   = "required-metadata-properties"
	trailerMaxAppendSize   = "maximum-append-size"
	exceptionMissingProp   = "missing-required-metadata-property"
	exceptionMaxAppendSize = "maximum-append-size-exceeded"
)

// streamsService is the Streams service of the double.
type streamsService struct {
	streams.UnimplementedStreamsServer
	srv *Server
}

// Append reads the options, then every proposed event, and answers once
// the client has sent them all, as the node does.
func (s *streamsService) Append(call streams.Streams_AppendServer) error {
	first, err := call.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first message of an append must carry its options")
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())
	if name == "" {
		return status.Error(codes.InvalidArgument, "the stream name is empty")
	}
	expected, err := expectedVersion(opts)
	if err != nil {
		return err
	}
	var events []proposed
	size := 0
	for {
		req, err := call.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		msg := req.GetProposedMessage()
		if msg == nil {
			return status.Error(codes.InvalidArgument, "after the options an append carries proposed messages only")
		}
		eventType, ok := msg.GetMetadata()[propType]
		if !ok {
			return missingProperty(call, propType)
		}
		contentType, ok := msg.GetMetadata()[propContentType]
		if !ok {
			return missingProperty(call, propContentType)
		}
		id, err := fromProtoUUID(msg.GetId())
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		size += len(msg.GetData())
		if size > s.srv.opts.MaxAppendSize {
			call.SetTrailer(metadata.Pairs(trailerException, exceptionMaxAppendSize,
				trailerMaxAppendSize, strconv.Itoa(s.srv.opts.MaxAppendSize)))
			return status.Errorf(codes.InvalidArgument, "Maximum Append Size of %d Exceeded.", s.srv.opts.MaxAppendSize)
		}
		if contentType != contentTypeJSON {
			contentType = contentTypeOctetStream
		}
		events = append(events, proposed{id: id, eventType: eventType, contentType: contentType,
			data: msg.GetData(), metadata: msg.GetCustomMetadata()})
	}
	res := s.srv.log.append(name, expected, events)
	return call.SendAndClose(appendResponse(opts, expected, res))
}

func missingProperty(call grpc.ServerStream, prop string) error {
	call.SetTrailer(metadata.Pairs(trailerException, exceptionMissingProp,
		trailerRequiredProps, strings.Join([]string{propType, propContentType}, ",")))
	return status.Errorf(codes.InvalidArgument, "Required Metadata Property '%s' is missing", prop)
}

// expectedVersion reads the append's expectation in the node's numbering.
func expectedVersion(opts *streams.AppendReq_Options) (int64, error) {
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Revision:
		if e.Revision > math.MaxInt64 {
			return 0, status.Errorf(codes.InvalidArgument, "revision %d is out of range", e.Revision)
		}
		return int64(e.Revision), nil
	case *streams.AppendReq_Options_NoStream:
		return expectNoStream, nil
	case *streams.AppendReq_Options_Any:
		return expectAny, nil
	case *streams.AppendReq_Options_StreamExists:
		return expectStreamExists, nil
	}
	return 0, status.Error(codes.InvalidArgument, "the append has no expected stream revision")
}

// appendResponse answers res as the node does: the stream's revision and
// the last event's position on success; on a wrong expected version (or a
// partial repeat) what was expected and what the stream is at, each both in
// the current fields and in the 20.6.0 ones older clients read.
func appendResponse(opts *streams.AppendReq_Options, expected int64, res appendResult) *streams.AppendResp {
	empty := &shared.Empty{}
	switch res.decision {
	case decisionOK, decisionIdempotent:
		ok := &streams.AppendResp_Success{}
		if res.last < 0 {
			ok.CurrentRevisionOption = &streams.AppendResp_Success_NoStream{NoStream: empty}
		} else {
			ok.CurrentRevisionOption = &streams.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(res.last)}
		}
		if res.pos == 0 {
			ok.PositionOption = &streams.AppendResp_Success_NoPosition{NoPosition: empty}
		} else {
			ok.PositionOption = &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
				CommitPosition: res.pos, PreparePosition: res.pos}}
		}
		return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: ok}}
	}
	w := &streams.AppendResp_WrongExpectedVersion{}
	switch opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Any:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: empty}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: empty}
	case *streams.AppendReq_Options_StreamExists:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: empty}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: empty}
	case *streams.AppendReq_Options_NoStream:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: empty}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: math.MaxUint64}
	default:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: uint64(expected)}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: uint64(expected)}
	}
	if res.current < 0 {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: empty}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: empty}
	} else {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(res.current)}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(res.current)}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}
