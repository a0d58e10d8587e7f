package projections

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// DefaultStopPoll is how often a stopped projection looks for the way out
// an operator gave it.
const DefaultStopPoll = time.Second

// StopConfig tunes StopOnPoison. The zero value uses the defaults.
type StopConfig struct {
	// Poll is how often a stopped projection reads its failure to see
	// whether it may go on. Zero means DefaultStopPoll.
	Poll time.Duration
	// Log receives a line when the projection stops and when it resumes;
	// the zero Logger discards.
	Log zerolog.Logger
}

// StopOnPoison returns the middleware that stops a projection's handler at
// an event it cannot apply, rather than have it fail on the event for
// ever in silence. Put it outside the handler's bounded retries: when a
// delivery still fails with an *EventError that IsPoison, the failure is
// recorded in projection_failures (where Stopped, every instance and
// `roster projections status` see it) and the handler parks: it holds the
// message, so its subscription pulls nothing more, and reads the failure
// every cfg.Poll until it is released: an operator skipped the event
// (SkipEvent) or asked for a retry (Retry), or the checkpoint moved past it
// (a rebuild). Then it applies the message again, without the skipped
// event, and goes on. Other projections, with handlers and subscriptions
// of their own, are not held.
//
// Any other error (a transient fault: see IsPoison) is returned as it is,
// so the message is Nacked and sent again after a backoff, as before:
// those never stop a projection. A failure that cannot be recorded (the
// database went away meanwhile) is returned too, and recorded next time.
// When the message's context ends while parked, the error is returned.
func StopOnPoison(pool *pgxpool.Pool, projection string, cfg StopConfig) message.HandlerMiddleware {
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultStopPoll
	}
	s := &stopper{pool: pool, cfg: cfg, log: cfg.Log.With().Str("projection", projection).Logger()}
	return func(next message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			return s.handle(next, msg)
		}
	}
}

type stopper struct {
	pool *pgxpool.Pool
	cfg  StopConfig
	log  zerolog.Logger

	mu sync.Mutex
	// open is the failure this stopper recorded last, still open as far
	// as it knows; event and attempts what it recorded of it.
	open     int64
	event    string
	recorded int
}

func (s *stopper) handle(next message.HandlerFunc, msg *message.Message) ([]*message.Message, error) {
	ctx := msg.Context()
	for {
		out, err := next(msg)
		var ee *EventError
		if err == nil {
			s.applied(ctx)
			return out, nil
		}
		if !errors.As(err, &ee) || !ee.Poison() || ctx.Err() != nil {
			return out, err
		}
		id, rerr := recordFailure(ctx, s.pool, ee, s.newAttempts(ee))
		if rerr != nil {
			s.log.Warn().Err(rerr).Msg("cannot record the failure; the event is sent again")
			return out, err
		}
		s.log.Error().Err(ee.Err).Str("event_id", ee.EventID).Str("event_type", ee.EventType).Str("stream", ee.StreamID).
			Stringer("position", ee.Position).Int("attempts", ee.Attempts).
			Msg("projection stopped: it cannot apply this event; skip it with `roster projections skip " +
				ee.Projection + " " + ee.EventID + " -reason ...`, or fix the cause and run `roster projections retry " + ee.Projection + "`")
		if !s.park(ctx, id) {
			return out, err
		}
		s.log.Info().Str("event_id", ee.EventID).Msg("projection released; applying again")
	}
}

// newAttempts returns the attempts of ee not recorded yet.
func (s *stopper) newAttempts(ee *EventError) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.event != ee.EventID {
		s.event, s.recorded = ee.EventID, 0
	}
	n := ee.Attempts - s.recorded
	s.recorded = ee.Attempts
	return n
}

// park waits until the failure id is released, and reports false when ctx
// ends first. A read that fails is tried again at the next poll.
func (s *stopper) park(ctx context.Context, id int64) bool {
	s.mu.Lock()
	s.open = id
	s.mu.Unlock()
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		ok, err := released(ctx, s.pool, id)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn().Err(err).Msg("cannot read the projection's failure")
			}
			continue
		}
		if ok {
			return true
		}
	}
}

// applied closes the failure this stopper recorded, now that a delivery
// succeeded: the projection is past it (a skip or retry resolved it
// already, and then this changes nothing).
func (s *stopper) applied(ctx context.Context) {
	s.mu.Lock()
	id := s.open
	s.open, s.event, s.recorded = 0, "", 0
	s.mu.Unlock()
	if id == 0 {
		return
	}
	if err := resolveApplied(context.WithoutCancel(ctx), s.pool, id); err != nil {
		s.log.Warn().Err(err).Int64("failure", id).Msg("cannot close the projection's failure; its checkpoint is past it, so it holds nothing")
	}
}
