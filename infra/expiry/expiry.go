// Package expiry ends accesses on their date and reminds members before:
// it finds the memberships due from the members read model and appends
// MemberAccessExpired or MemberAccessEndingSoon through the command path,
// whose decision (domain.Property.ExpireAccess, RemindAccessEnding) makes
// each once. It runs on the instance that leads its consumer (section 12
// of docs/ARCHITECTURE.md), and keeps no state of its own: what is due is
// in PostgreSQL, what was done is in the streams.
package expiry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/feed"
)

// Name is the scheduler's consumer, whose lease keeps it to one instance.
const Name = "expiry"

// DefaultPoll is how often the scheduler looks for due memberships when
// nothing wakes it sooner: an access ends at most this long after its
// moment for the event (checks count it disabled from the moment itself).
const DefaultPoll = 10 * time.Second

// batch bounds the memberships one look decides; a full batch is followed
// by another look at once.
const batch = 500

// Decider appends what is due for one membership; commands'
// ExpireAccessHandler is one.
type Decider interface {
	Handle(ctx context.Context, correlationID, propertyID, accountID string) error
}

// DeciderFunc adapts a function to Decider.
type DeciderFunc func(ctx context.Context, correlationID, propertyID, accountID string) error

// Handle calls f.
func (f DeciderFunc) Handle(ctx context.Context, correlationID, propertyID, accountID string) error {
	return f(ctx, correlationID, propertyID, accountID)
}

// Config is what New needs; Pool and Decide are required.
type Config struct {
	// Pool is the database of the members read model.
	Pool *pgxpool.Pool
	// Decide appends what is due for a membership.
	Decide Decider
	// Now is the clock; time.Now when nil. The read model is asked with
	// it, never with PostgreSQL's now(), so tests move it.
	Now func() time.Time
	// Poll is how long the scheduler sleeps when nothing wakes it;
	// DefaultPoll when zero.
	Poll time.Duration
	// Log receives the failures, which are retried at the next look.
	Log zerolog.Logger
}

// Scheduler finds due memberships and decides them. It is safe for
// concurrent use; Run it on one instance at a time (AddWithWork), though
// two running at once still append each event once.
type Scheduler struct {
	cfg  Config
	wake chan struct{}
}

// New returns a scheduler of cfg. It fails when Pool or Decide is missing.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Pool == nil || cfg.Decide == nil {
		return nil, errors.New("expiry: Pool and Decide are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	return &Scheduler{cfg: cfg, wake: make(chan struct{}, 1)}, nil
}

// Run looks for due memberships, decides them, and sleeps until the next
// poll or a wake-up, until ctx ends. It returns when ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
		full, err := s.Once(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Log.Error().Err(err).Msg("expiry: cannot decide the due accesses; trying again at the next look")
		}
		next := s.cfg.Poll
		if full {
			next = 0
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(next)
	}
}

// Handle is the scheduler's consumer of the feed: an end of access set,
// moved, or brought by a join wakes it, so that an end set a moment ahead
// is met without waiting for the poll. A message may carry a batch of
// events (feed.Events): it wakes the scheduler once. Its only error is a
// batch message whose events do not decode.
func (s *Scheduler) Handle(msg *message.Message) error {
	if msg.Metadata.Get(feed.KeyBatch) == "" { // one event, its type in the metadata
		if wakes(msg.Metadata.Get(feed.KeyType)) {
			s.poke()
		}
		return nil
	}
	recs, err := feed.Events(msg)
	if err != nil {
		return fmt.Errorf("expiry: %w", err)
	}
	for _, rec := range recs {
		if wakes(rec.Type) {
			s.poke()
			break
		}
	}
	return nil
}

// wakes reports whether an event of type typ may bring an end of access
// nearer.
func wakes(typ string) bool {
	return typ == domain.TypeMemberAccessUntilChanged || typ == domain.TypeMemberJoined
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// dueSQL is the due memberships at $1: an end that has come, a day's
// reminder not given within a day of the end, a week's reminder not given
// within a week. It is a range scan of rm_members_access_until_due
// (migration 0026) over the ends of the next seven days, oldest first.
var dueSQL = fmt.Sprintf(`SELECT property_id, account_id FROM rm_members
	WHERE access_until IS NOT NULL AND status = 'enabled' AND access_until <= $1::timestamptz + interval '%d seconds'
	  AND (access_until <= $1
	       OR access_until <= $1::timestamptz + interval '%d seconds' AND access_reminded_s <> %d
	       OR access_reminded_s = 0)
	ORDER BY access_until LIMIT %d`,
	int64(week/time.Second), int64(day/time.Second), int64(day/time.Second), batch)

const (
	week = 7 * 24 * time.Hour
	day  = 24 * time.Hour
)

// Once decides every due membership of one look, and reports whether the
// look was full (more may be due). A membership whose decision fails is
// logged and left for the next look; the others go on.
func (s *Scheduler) Once(ctx context.Context) (full bool, err error) {
	now := s.cfg.Now().UTC()
	rows, err := s.cfg.Pool.Query(ctx, dueSQL, now)
	if err != nil {
		return false, fmt.Errorf("read the due accesses: %w", err)
	}
	type due struct{ pid, acc string }
	var all []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.pid, &d.acc); err != nil {
			rows.Close()
			return false, fmt.Errorf("read the due accesses: %w", err)
		}
		all = append(all, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read the due accesses: %w", err)
	}
	var failed int
	for _, d := range all {
		if err := s.cfg.Decide.Handle(ctx, "expiry-"+now.Format(time.RFC3339), d.pid, d.acc); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			failed++
			s.cfg.Log.Error().Err(err).Str("property_id", d.pid).Str("account_id", d.acc).Msg("expiry: cannot decide an access")
		}
	}
	// A full look whose decisions all failed would spin: it waits a poll.
	return len(all) == batch && failed < len(all), nil
}
