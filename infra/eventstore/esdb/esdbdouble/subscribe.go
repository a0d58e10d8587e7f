package esdbdouble

import (
	"sync"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// subscriber is one open subscription call, which the server can drop.
type subscriber struct {
	dropped chan struct{}
	once    sync.Once
}

func (s *subscriber) drop() { s.once.Do(func() { close(s.dropped) }) }

// errDropped ends a subscription the server drops.
var errDropped = status.Error(codes.Unavailable, "the subscription was dropped by the server")

// follower says what a subscription delivers: the records it allows, from
// which record on, and how often it checkpoints.
type follower struct {
	allows func(*record) bool
	// window is how many records a catch-up page considers; interval,
	// when positive, is how many considered records make a checkpoint.
	window   int
	interval int
}

// subscribeToAll follows $all from a position (the event there excluded),
// the start or the end.
func (s *streamsService) subscribeToAll(call streams.Streams_ReadServer, opts *streams.ReadReq_Options_AllOptions, f *filter, idsAsStrings bool) error {
	recs, _ := s.srv.log.snapshot()
	var cursor int
	switch p := opts.GetAllOption().(type) {
	case *streams.ReadReq_Options_AllOptions_Position:
		// The node reads the first event at or after the position and
		// catches up from the one after it: subscribing from an event's
		// position starts with the next event (and from a position between
		// events, after the first event past it).
		pos := position{commit: p.Position.GetCommitPosition(), prepare: p.Position.GetPreparePosition()}
		cursor = min(firstAtOrAfter(recs, pos)+1, len(recs))
	case *streams.ReadReq_Options_AllOptions_Start:
		cursor = 0
	default: // the end
		cursor = len(recs)
	}
	fl := follower{allows: f.allows, window: readBatchSize}
	if f != nil {
		fl.window, fl.interval = f.window, f.interval
	}
	return s.follow(call, cursor, fl, idsAsStrings)
}

// subscribeToStream follows one stream from a revision (excluded), the
// start or the end. A stream that does not exist yet is waited for.
func (s *streamsService) subscribeToStream(call streams.Streams_ReadServer, opts *streams.ReadReq_Options_StreamOptions, idsAsStrings bool) error {
	name := string(opts.GetStreamIdentifier().GetStreamName())
	after, cursor := int64(-1), 0
	switch r := opts.GetRevisionOption().(type) {
	case *streams.ReadReq_Options_StreamOptions_Revision:
		after = int64(min(r.Revision, 1<<62))
	case *streams.ReadReq_Options_StreamOptions_Start:
	default: // the end
		recs, _ := s.srv.log.snapshot()
		cursor = len(recs)
	}
	fl := follower{window: readBatchSize,
		allows: func(r *record) bool { return r.stream == name && r.number > after }}
	return s.follow(call, cursor, fl, idsAsStrings)
}

// follow confirms the subscription, then serves it until the client goes,
// the server drops it or a send fails: catch-up pages from the log, with
// checkpoints when the follower asks for them; caught-up at the end of the
// log and live events after it; fell-behind and catch-up again when the
// subscriber lags more than the live buffer.
func (s *streamsService) follow(call streams.Streams_ReadServer, cursor int, fl follower, idsAsStrings bool) error {
	sub := &subscriber{dropped: make(chan struct{})}
	s.srv.register(sub)
	defer s.srv.unregister(sub)
	ctx := call.Context()
	if err := call.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{
		Confirmation: &streams.ReadResp_SubscriptionConfirmation{SubscriptionId: newID().String()}}}); err != nil {
		return err
	}
	counter, live := 0, false
	checkpoint := func(p position) error {
		return call.Send(&streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{
			Checkpoint: &streams.ReadResp_Checkpoint{CommitPosition: p.commit, PreparePosition: p.prepare}}})
	}
	for {
		select {
		case <-sub.dropped:
			return errDropped
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		default:
		}
		recs, changed := s.srv.log.snapshot()
		switch {
		case cursor >= len(recs):
			if !live {
				live = true
				if err := call.Send(&streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}}); err != nil {
					return err
				}
			}
			select {
			case <-changed:
			case <-sub.dropped:
				return errDropped
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
		case live && len(recs)-cursor > s.srv.opts.LiveBufferSize:
			live = false
			if err := call.Send(&streams.ReadResp{Content: &streams.ReadResp_FellBehind_{FellBehind: &streams.ReadResp_FellBehind{}}}); err != nil {
				return err
			}
		case !live:
			// One catch-up page: up to a window of records considered,
			// up to a batch of them sent. A checkpoint names the last
			// event sent, or where the page began when none was.
			at, end := recs[cursor].position(), min(cursor+fl.window, len(recs))
			i, sent := cursor, 0
			for ; i < end && sent < readBatchSize; i++ {
				if !fl.allows(recs[i]) {
					continue
				}
				if err := call.Send(readEvent(recs[i], idsAsStrings)); err != nil {
					return err
				}
				at, sent = recs[i].position(), sent+1
			}
			counter += i - cursor
			cursor = i
			if cursor < len(recs) && fl.interval > 0 && counter >= fl.interval {
				counter %= fl.interval
				if err := checkpoint(at); err != nil {
					return err
				}
			}
		default:
			// Live: each new record in turn, and a checkpoint at the
			// record that completes an interval.
			r := recs[cursor]
			cursor, counter = cursor+1, counter+1
			if fl.allows(r) {
				if err := call.Send(readEvent(r, idsAsStrings)); err != nil {
					return err
				}
			}
			if fl.interval > 0 && counter >= fl.interval {
				counter = 0
				if err := checkpoint(r.position()); err != nil {
					return err
				}
			}
		}
	}
}
