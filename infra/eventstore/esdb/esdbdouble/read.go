package esdbdouble

import (
	"math"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Read serves reads with a count and subscriptions, of a stream or of $all.
func (s *streamsService) Read(req *streams.ReadReq, call streams.Streams_ReadServer) error {
	opts := req.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the read has no options")
	}
	_, idsAsStrings := opts.GetUuidOption().GetContent().(*streams.ReadReq_Options_UUIDOption_String_)
	f, err := parseFilter(opts.GetFilter())
	if err != nil {
		return err
	}
	forwards := opts.GetReadDirection() == streams.ReadReq_Options_Forwards
	switch count := opts.GetCountOption().(type) {
	case *streams.ReadReq_Options_Count:
		switch {
		case opts.GetStream() != nil && f == nil:
			return s.readStream(call, opts.GetStream(), forwards, count.Count, idsAsStrings)
		case opts.GetAll() != nil:
			return s.readAll(call, opts.GetAll(), forwards, count.Count, f, idsAsStrings)
		}
	case *streams.ReadReq_Options_Subscription:
		if !forwards {
			break
		}
		switch {
		case opts.GetStream() != nil && f == nil:
			return s.subscribeToStream(call, opts.GetStream(), idsAsStrings)
		case opts.GetAll() != nil:
			if f != nil && opts.GetFilter().GetCheckpointIntervalMultiplier() == 0 {
				// The node fails such a call with an unhandled argument
				// exception, which reaches the client as Unknown.
				return status.Error(codes.Unknown, "Specified argument was out of the range of valid values. (Parameter 'checkpointIntervalMultiplier')")
			}
			return s.subscribeToAll(call, opts.GetAll(), f, idsAsStrings)
		}
	}
	return status.Error(codes.InvalidArgument, "this combination of read options is not one a node serves")
}

// readStream sends up to count events of a stream from a revision, or
// stream-not-found when the stream has no events.
func (s *streamsService) readStream(call streams.Streams_ReadServer, opts *streams.ReadReq_Options_StreamOptions, forwards bool, count uint64, idsAsStrings bool) error {
	name := opts.GetStreamIdentifier().GetStreamName()
	recs, ok := s.srv.log.stream(string(name))
	if !ok {
		return call.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{
			StreamNotFound: &streams.ReadResp_StreamNotFound{StreamIdentifier: &shared.StreamIdentifier{StreamName: name}}}})
	}
	n := uint64(len(recs))
	var from uint64
	switch r := opts.GetRevisionOption().(type) {
	case *streams.ReadReq_Options_StreamOptions_Revision:
		from = r.Revision
	case *streams.ReadReq_Options_StreamOptions_Start:
		from = 0
	default: // the end
		from = math.MaxUint64
	}
	sent := uint64(0)
	if forwards {
		for i := from; i < n && sent < count; i++ {
			if err := call.Send(readEvent(recs[i], idsAsStrings)); err != nil {
				return err
			}
			sent++
		}
		return nil
	}
	for i := int64(min(from, n-1)); i >= 0 && sent < count; i-- {
		if err := call.Send(readEvent(recs[i], idsAsStrings)); err != nil {
			return err
		}
		sent++
	}
	return nil
}

// readAll sends up to count events of $all that pass f: forwards from a
// position (the event there included), backwards from before it.
func (s *streamsService) readAll(call streams.Streams_ReadServer, opts *streams.ReadReq_Options_AllOptions, forwards bool, count uint64, f *filter, idsAsStrings bool) error {
	recs, _ := s.srv.log.snapshot()
	var at int // the first record forwards; one past the first record backwards
	switch p := opts.GetAllOption().(type) {
	case *streams.ReadReq_Options_AllOptions_Position:
		at = firstAtOrAfter(recs, position{commit: p.Position.GetCommitPosition(), prepare: p.Position.GetPreparePosition()})
	case *streams.ReadReq_Options_AllOptions_Start:
		at = 0
	default: // the end
		at = len(recs)
	}
	sent := uint64(0)
	send := func(r *record) error {
		if !f.allows(r) {
			return nil
		}
		sent++
		return call.Send(readEvent(r, idsAsStrings))
	}
	if forwards {
		for i := at; i < len(recs) && sent < count; i++ {
			if err := send(recs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	for i := at - 1; i >= 0 && sent < count; i-- {
		if err := send(recs[i]); err != nil {
			return err
		}
	}
	return nil
}
