package mail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of DispatcherConfig.
const (
	DefaultWorkers     = 8
	DefaultPerProperty = 2
	DefaultPoll        = time.Second
	// DefaultBatch is the batch of a sender that does not wait for a mail
	// server (the log sender); an *SMTPSender's is 1.
	DefaultBatch = 64
)

// DispatcherConfig is what a Dispatcher is built from.
type DispatcherConfig struct {
	// Consumer records the mails and writes them again from their events.
	Consumer *Consumer
	// Deliverer sends them through its ledger: the Consumer's.
	Deliverer *Deliverer
	// Workers is how many mails are sent at once in all (N);
	// DefaultWorkers when zero.
	Workers int
	// PerProperty is how many of one property's mails are sent at once (K):
	// a property with a backlog takes no more of the workers, and the
	// others' mails go past it. DefaultPerProperty when zero.
	PerProperty int
	// Poll is how often an idle Dispatcher looks for mails due without
	// being told (a backoff ended, another process recorded one, a lease ran
	// out); the Consumer wakes it for the mails it records. DefaultPoll when
	// zero.
	Poll time.Duration
	// Batch is how many mails a worker claims at once and sends one after
	// another, recording the sent ones together: with a sender that waits
	// for no mail server, the ledger's round trips are most of a mail's
	// cost. A batch holds one property's mails, or the single mails of
	// several; it counts against Workers, and against PerProperty of each
	// of its properties, as one mail does, so another property's mail waits
	// for a free worker, not for a batch. DefaultBatch when zero, except
	// for an *SMTPSender, whose mails go one by one: a batch's sends share
	// the lease of its claim, which covers a few SMTP timeouts, not dozens.
	Batch int
	// Log records the mails that failed, for good or for now.
	Log zerolog.Logger
}

// Validate reports every problem of c at once.
func (c DispatcherConfig) Validate() error {
	var errs []error
	if c.Consumer == nil {
		errs = append(errs, errors.New("mail dispatcher: no consumer"))
	}
	if c.Deliverer == nil {
		errs = append(errs, errors.New("mail dispatcher: no deliverer"))
	}
	if c.Consumer != nil && c.Deliverer != nil && c.Consumer.ledger != c.Deliverer {
		errs = append(errs, errors.New("mail dispatcher: the deliverer is not the consumer's"))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("mail dispatcher: %d workers is negative", c.Workers))
	}
	if c.PerProperty < 0 {
		errs = append(errs, fmt.Errorf("mail dispatcher: %d per property is negative", c.PerProperty))
	}
	if c.Batch < 0 {
		errs = append(errs, fmt.Errorf("mail dispatcher: batch of %d is negative", c.Batch))
	}
	if c.Poll < 0 {
		errs = append(errs, fmt.Errorf("mail dispatcher: poll interval %s is negative", c.Poll))
	}
	return errors.Join(errs...)
}

// Dispatcher sends the mails the Consumer records, from the ledger rather
// than in the feed's order: up to Workers at once, at most PerProperty of
// one property, picking the first mail of every property before the second
// of any. So one property's backlog of thousands delays another's mail by a
// few sends at most, and a mail that cannot go out now (its server refuses
// for the moment, its database went away midway) holds back no other.
// Several processes may each run one over the same ledger: its leases keep
// them from sending a mail twice.
type Dispatcher struct {
	c           *Consumer
	d           *Deliverer
	workers     int
	perProperty int
	poll        time.Duration
	batch       int
	log         zerolog.Logger
}

// NewDispatcher returns a Dispatcher, or c's problems.
func NewDispatcher(c DispatcherConfig) (*Dispatcher, error) {
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.PerProperty == 0 {
		c.PerProperty = DefaultPerProperty
	}
	if c.Poll == 0 {
		c.Poll = DefaultPoll
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
		if _, smtp := c.Deliverer.sender.(*SMTPSender); smtp {
			c.Batch = 1
		}
	}
	return &Dispatcher{c: c.Consumer, d: c.Deliverer, workers: c.Workers, perProperty: c.PerProperty,
		poll: c.Poll, batch: c.Batch, log: c.Log}, nil
}

// Run sends mails until ctx ends, then waits for the sends under way (their
// outcomes are written) and returns nil. A database that does not answer
// is retried, with backoff up to the poll interval.
func (p *Dispatcher) Run(ctx context.Context) error {
	_ = p.loop(ctx, false)
	return nil
}

// Drain sends every mail due now, and the mails that come due while it
// does, and returns once none is left (a mail pending a backoff, or held by
// another process, is not waited for). Errors: the database's when it
// cannot pick, and ctx's.
func (p *Dispatcher) Drain(ctx context.Context) error {
	return p.loop(ctx, true)
}

// Send writes the mail of eventID from its recorded event and delivers it
// now, whatever the fairness: for an operator's retry. It returns nil when
// the mail is sent, now or before. Errors: ErrNotQueued or ErrNotFound
// (wrapped) when the ledger keeps no event for it, Deliverer.Deliver's, and
// the Opener's when the event cannot be opened.
func (p *Dispatcher) Send(ctx context.Context, eventID string) error {
	if done, err := p.d.completeSent(ctx, eventID); done {
		return err // sent before; nothing to write
	}
	rec, sent, err := p.d.queued(ctx, eventID)
	if err != nil || sent {
		return err
	}
	e, err := p.c.open(ctx, rec)
	if err != nil {
		return p.unwritten(ctx, eventID, err)
	}
	inv, msg, err := p.c.invitation(ctx, p.c.pool, eventID, e)
	if err != nil {
		return p.unwritten(ctx, eventID, err)
	}
	if erased(inv.Email) {
		// Forgotten since the mail was recorded.
		return p.c.skip(ctx, p.c.pool, eventID, msg, "not sent: the invitee was forgotten, and an erased address reaches no one")
	}
	return p.d.Deliver(withInvitation(ctx, inv), eventID, msg)
}

// unwritten counts a failure to write the mail of eventID as an attempt,
// so the mail waits for the backoff instead of being picked again at once.
func (p *Dispatcher) unwritten(ctx context.Context, eventID string, cause error) error {
	err := fmt.Errorf("mail of event %s cannot be written: %w", eventID, cause)
	if perr := p.d.postpone(ctx, eventID, cause); perr != nil {
		return errors.Join(err, perr)
	}
	return err
}

// sendResult is the outcome of one mail.
type sendResult struct {
	mail queuedMail
	err  error
}

// batchDone is the outcome of one worker's batch.
type batchDone struct {
	batch   mailBatch
	results []sendResult // in the order of batch.mails
}

// send sends the batch ids; a batch of one goes through Send.
func (p *Dispatcher) send(ctx context.Context, ids []string) []sendResult {
	if len(ids) == 1 {
		return []sendResult{{mail: queuedMail{EventID: ids[0]}, err: p.Send(ctx, ids[0])}}
	}
	return p.sendBatch(ctx, ids)
}

// loop picks and sends mails until ctx ends or, with drain, until none is
// due and none is being sent. A mail whose send failed here is not picked
// again before a poll interval has passed, whatever the ledger says of it:
// a failure the ledger could not record must not make a busy loop.
func (p *Dispatcher) loop(ctx context.Context, drain bool) error {
	inFlight := map[string]bool{} // events being sent
	busy := map[string]int{}      // property → batches with its mails in flight
	batches := 0                  // in flight, one per worker
	cooling := map[string]time.Time{}
	done := make(chan batchDone)
	finish := func(b batchDone) {
		batches--
		for _, pid := range b.batch.properties() {
			if busy[pid]--; busy[pid] == 0 {
				delete(busy, pid)
			}
		}
		for i, r := range b.results {
			r.mail = b.batch.mails[i]
			delete(inFlight, r.mail.EventID)
			if r.err != nil {
				cooling[r.mail.EventID] = time.Now().Add(p.poll)
			}
			p.report(r)
		}
	}
	defer func() {
		for batches > 0 {
			finish(<-done)
		}
	}()
	var retry time.Duration // after a failed pick
	for {
		var pickErr error
		if free := p.workers - batches; free > 0 {
			exclude := p.d.running()
			for id := range inFlight {
				exclude = append(exclude, id)
			}
			now := time.Now()
			for id, until := range cooling {
				if now.Before(until) {
					exclude = append(exclude, id)
				} else {
					delete(cooling, id)
				}
			}
			picked, err := p.d.next(ctx, exclude, busy, p.perProperty, free, p.batch)
			pickErr = err
			for _, b := range picked {
				batches++
				for _, pid := range b.properties() {
					busy[pid]++
				}
				for _, m := range b.mails {
					inFlight[m.EventID] = true
				}
				go func() { done <- batchDone{batch: b, results: p.send(ctx, b.eventIDs())} }()
			}
		}
		wait := p.poll
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case pickErr != nil:
			if drain && batches == 0 {
				return pickErr
			}
			retry = min(max(2*retry, p.poll/16), p.poll)
			wait = retry
			p.log.Warn().Err(pickErr).Dur("retry_in", wait).Msg("invitation mail: cannot read the ledger")
		case drain && batches == 0:
			return nil
		default:
			retry = 0
		}
		timer := time.NewTimer(wait)
		select {
		case b := <-done:
			finish(b)
		case <-p.c.queued:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
}

// report logs a mail that did not go out.
func (p *Dispatcher) report(r sendResult) {
	switch err := r.err; {
	case err == nil:
	case Permanent(err):
		p.log.Error().Err(err).Str("event_id", r.mail.EventID).Str("property_id", r.mail.PropertyID).
			Msg("invitation email failed for good; see roster mail status, and roster mail retry once fixed")
	case errors.Is(err, ErrInProgress):
		p.log.Debug().Err(err).Str("event_id", r.mail.EventID).Msg("invitation email taken by another process")
	default:
		ev := p.log.Warn().Err(err).Str("event_id", r.mail.EventID).Str("property_id", r.mail.PropertyID)
		var de *DeliveryError
		if errors.As(err, &de) && de.RetryAfter > 0 {
			ev = ev.Dur("retry_after", de.RetryAfter)
		}
		ev.Msg("invitation email not sent yet; it will be retried")
	}
}
