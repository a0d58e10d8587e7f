package mail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of DelivererConfig.
const (
	DefaultMaxAttempts = 8
	DefaultLease       = 5 * time.Minute
	// DefaultRecordTimeout is how long an attempt keeps trying to write its
	// outcome, after the caller's context has ended too.
	DefaultRecordTimeout = 10 * time.Second
)

// Sender sends one message. Deliverer records what Send returns: an error
// matching ErrPermanent fails the mail at once, any other is retried.
type Sender interface {
	Send(ctx context.Context, msg Message) error
}

// DelivererConfig is what a Deliverer is built from.
type DelivererConfig struct {
	// Pool is the PostgreSQL database holding the mail_ledger table
	// (migration 0004).
	Pool *pgxpool.Pool
	// Sender sends the mails, an *SMTPSender in production.
	Sender Sender
	// MaxAttempts is how many attempts an event's mail gets before it is
	// marked failed; DefaultMaxAttempts when zero.
	MaxAttempts int
	// Lease is how long an attempt holds its event. A row still 'sending'
	// after it belongs to an attempt that died, and is sent again. It must
	// exceed the longest send (a few SMTP timeouts), or a slow attempt may
	// be overtaken and the mail sent twice; until it ends, Deliver of that
	// event returns ErrInProgress. DefaultLease when zero.
	Lease time.Duration
	// Backoff is the wait the ledger suggests after the n-th failed attempt
	// (n from 1), recorded as next_attempt_at and returned in
	// DeliveryError.RetryAfter; DefaultBackoff when nil.
	Backoff func(attempt int) time.Duration
	// RecordTimeout is how long an attempt retries writing its outcome to a
	// database that does not answer before Deliver returns. A sent mail
	// whose outcome is still unwritten then is remembered, and the next
	// Deliver of its event writes it without sending.
	// DefaultRecordTimeout when zero.
	RecordTimeout time.Duration
}

func (c *DelivererConfig) setDefaults() {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.Backoff == nil {
		c.Backoff = DefaultBackoff
	}
	if c.RecordTimeout == 0 {
		c.RecordTimeout = DefaultRecordTimeout
	}
}

// Validate reports every problem of c at once.
func (c DelivererConfig) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("mail deliverer: no database pool"))
	}
	if c.Sender == nil {
		errs = append(errs, errors.New("mail deliverer: no sender"))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("mail deliverer: max attempts %d is negative", c.MaxAttempts))
	}
	if c.Lease < 0 {
		errs = append(errs, fmt.Errorf("mail deliverer: lease %s is negative", c.Lease))
	}
	if c.RecordTimeout < 0 {
		errs = append(errs, fmt.Errorf("mail deliverer: record timeout %s is negative", c.RecordTimeout))
	}
	return errors.Join(errs...)
}

// DefaultBackoff doubles from 30 seconds after the first failure up to an
// hour: eight attempts span about an hour.
func DefaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Deliverer sends each event's mail at least once and, as far as its ledger
// can tell, never twice. It is safe for concurrent use, by several processes
// too: the ledger row is the lock, taken for one attempt under a lease that
// names the Deliverer holding it (its holder) and the attempt (a lease ID).
//
// What each phase of an attempt risks, when the process or its database
// goes away in it:
//   - The claim: nothing is sent before it is known to hold. A claim that
//     committed without the answer reaching the holder leaves a row
//     'sending' under its lease; the same Deliverer takes it again at once,
//     recognising its holder, and a stranger waits for the lease to end.
//   - The send: a mail the server accepted (250 at the end of DATA) is sent
//     at most once by this Deliverer from then on: it never sends it again,
//     and writes 'sent' as soon as the database answers, retrying for
//     RecordTimeout and, past it, the next time Deliver is called for the
//     event. A send that failed is at-least-once: when the server dropped
//     the connection after the whole message, it may have been delivered,
//     yet it is sent again, since losing an invitation is worse than
//     sending it twice.
//   - The outcome: written with the caller's context ended too, and fenced
//     by the lease ID, so an attempt overtaken by another cannot overwrite
//     the other's outcome; 'sent' wins over any other.
//
// The one window left for a duplicate is the process dying (not merely
// losing the database) after the server accepted the mail and before the
// ledger says 'sent': what the process knew dies with it, and once the
// lease has run out another Deliverer sends again. Both copies carry the
// same Message-ID, derived from the event ID, so mail systems that
// de-duplicate by Message-ID show one.
type Deliverer struct {
	pool          *pgxpool.Pool
	sender        Sender
	max           int
	lease         time.Duration
	backoff       func(int) time.Duration
	recordTimeout time.Duration
	// holder names this Deliverer in the leases it takes: no other has the
	// same, so a 'sending' row under it is one of this Deliverer's.
	holder string

	mu sync.Mutex
	// attempts are this Deliverer's attempts in progress, and its sent
	// mails whose outcome the ledger does not have yet, by event.
	attempts map[string]*localAttempt
}

// localAttempt is what a Deliverer knows of its own attempt at an event.
type localAttempt struct {
	running bool // a Deliver of the event is under way
	sent    bool // the server accepted the mail; the ledger does not say so yet
}

// NewDeliverer returns a Deliverer over c's ledger and sender, or c's
// problems.
func NewDeliverer(c DelivererConfig) (*Deliverer, error) {
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Deliverer{pool: c.Pool, sender: c.Sender, max: c.MaxAttempts, lease: c.Lease, backoff: c.Backoff,
		recordTimeout: c.RecordTimeout, holder: newHolder(), attempts: map[string]*localAttempt{}}, nil
}

// newHolder is a holder name no other Deliverer has: where and which
// process, for an operator reading the ledger, and a random part.
func newHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
}

// Deliver sends msg as the mail of event eventID (a UUID), unless the ledger
// says it is sent already; msg.ID is set to eventID. It returns nil when the
// mail is sent, now or before. Otherwise the error is a *DeliveryError, or a
// ledger error, and:
//   - Permanent(err) is true when the mail is marked failed: the server
//     refused it for good, it failed MaxAttempts times, or it had failed
//     before. It stays failed until Retry.
//   - otherwise the caller should call again later, with backoff: the
//     attempt failed and was counted, another attempt holds the event
//     (ErrInProgress, not counted), the database could not be reached, or
//     the mail was sent and the ledger could not be told
//     (ErrSentNotRecorded: the next call records it without sending).
//
// An eventID that is not a UUID is a permanent error, sent and recorded
// nowhere.
func (d *Deliverer) Deliver(ctx context.Context, eventID string, msg Message) error {
	if _, err := uuid.Parse(eventID); err != nil {
		return permanent(fmt.Errorf("mail: event ID %q is not a UUID", eventID))
	}
	mine, ok := d.begin(eventID)
	if !ok {
		return &DeliveryError{EventID: eventID, Retryable: true, Err: ErrInProgress}
	}
	defer d.end(eventID)
	if mine.sent {
		// Sent before the database went away: only the ledger is behind.
		return d.recordSent(ctx, eventID, mine)
	}
	claimedAt := time.Now()
	attempt, lease, claimed, err := d.claim(ctx, eventID, msg)
	if err != nil {
		return fmt.Errorf("mail ledger: claim event %s: %w", eventID, err)
	}
	if !claimed {
		return d.notClaimed(ctx, eventID)
	}

	msg.ID = eventID
	// The send must be over before the lease can have run out: past it,
	// another Deliverer may be sending the same mail. A process stopped
	// mid-send (SIGSTOP, a long pause) wakes to an ended context, which the
	// sender checks before each write, rather than finishing a mail its
	// successor has sent too. The margin covers clock drift against the
	// database, whose clock set the lease's end.
	sendCtx, cancelSend := context.WithDeadline(ctx, claimedAt.Add(d.lease-d.lease/10))
	sendErr := d.sender.Send(sendCtx, msg)
	cancelSend()
	if sendErr == nil {
		mine.sent = true
		return d.recordSent(ctx, eventID, mine)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.recordTimeout)
	defer cancel()
	return d.recordFailure(rctx, eventID, attempt, lease, sendErr)
}

// begin marks eventID's attempt as running in this Deliverer, unless one
// is already. The returned state is the running attempt's alone until end.
func (d *Deliverer) begin(eventID string) (*localAttempt, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.attempts[eventID]
	if a == nil {
		a = &localAttempt{}
		d.attempts[eventID] = a
	}
	if a.running {
		return nil, false
	}
	a.running = true
	return a, true
}

// end forgets eventID's attempt, unless it holds a sent mail the ledger has
// not recorded.
func (d *Deliverer) end(eventID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.attempts[eventID]
	a.running = false
	if !a.sent {
		delete(d.attempts, eventID)
	}
}

// running lists the events this Deliverer is attempting right now.
func (d *Deliverer) running() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]string, 0, len(d.attempts))
	for id, a := range d.attempts {
		if a.running {
			ids = append(ids, id)
		}
	}
	return ids
}

// completeSent records the mail of eventID as sent when this Deliverer sent
// it and the ledger has not heard of it yet; done reports whether it was
// such a mail, err whether the ledger heard of it now. Either way it sends
// nothing.
func (d *Deliverer) completeSent(ctx context.Context, eventID string) (done bool, err error) {
	mine, ok := d.begin(eventID)
	if !ok {
		return false, nil
	}
	defer d.end(eventID)
	if !mine.sent {
		return false, nil
	}
	return true, d.recordSent(ctx, eventID, mine)
}

// recordSent writes that eventID's mail went out, retrying a database that
// does not answer for the record timeout, with the caller's context ended
// too. Past it, the mail stays sent in a's memory (ErrSentNotRecorded).
func (d *Deliverer) recordSent(ctx context.Context, eventID string, a *localAttempt) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.recordTimeout)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		_, err := d.pool.Exec(rctx, sqlMarkSent, eventID)
		if err == nil {
			a.sent = false
			return nil
		}
		select {
		case <-rctx.Done():
			return &DeliveryError{EventID: eventID, Retryable: true,
				Err: fmt.Errorf("%w (this process records it once the database answers, and does not send it again): %w",
					ErrSentNotRecorded, err)}
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// claim takes the event for one attempt: it inserts the row, or takes a
// pending one, or one whose attempt died: its lease ran out, or it is this
// Deliverer's own (begin has made sure no attempt of its own is running).
// It counts the attempt, and reports the attempt's number, its lease ID and
// whether the event was taken.
func (d *Deliverer) claim(ctx context.Context, eventID string, msg Message) (attempt int, lease string, claimed bool, err error) {
	err = d.pool.QueryRow(ctx, sqlClaim, eventID, oneLine(msg.To), oneLine(msg.Subject),
		d.lease.Seconds(), d.max, d.holder).Scan(&attempt, &lease)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	return attempt, lease, err == nil, err
}

// notClaimed explains why claim did not take the event, giving up on it when
// it has had all its attempts.
func (d *Deliverer) notClaimed(ctx context.Context, eventID string) error {
	var (
		status    string
		attempts  int
		lastError string
		stale     bool
	)
	err := d.pool.QueryRow(ctx, sqlInspect, eventID, d.holder).Scan(&status, &attempts, &lastError, &stale)
	if errors.Is(err, pgx.ErrNoRows) {
		return &DeliveryError{EventID: eventID, Retryable: true, Err: ErrInProgress}
	}
	if err != nil {
		return fmt.Errorf("mail ledger: read event %s: %w", eventID, err)
	}
	switch {
	case status == string(StatusSent):
		return nil
	case status == string(StatusFailed):
		return &DeliveryError{EventID: eventID, Attempts: attempts, Err: fmt.Errorf("failed before: %s", lastError)}
	case (status == string(StatusPending) || stale) && attempts >= d.max:
		why := fmt.Sprintf("gave up after %d attempts: %s", attempts, lastError)
		if stale {
			why = fmt.Sprintf("gave up after %d attempts, the last one interrupted with its outcome unknown", attempts)
		}
		if _, err := d.pool.Exec(ctx, sqlGiveUp, eventID, status, why); err != nil {
			return fmt.Errorf("mail ledger: mark event %s failed: %w", eventID, err)
		}
		return &DeliveryError{EventID: eventID, Attempts: attempts, Err: errors.New(why)}
	}
	return &DeliveryError{EventID: eventID, Attempts: attempts, Retryable: true, Err: ErrInProgress}
}

// recordFailure writes a failed attempt: pending again with a suggested
// next attempt, or failed when the error is permanent or the attempts are
// used up. The update is fenced by the attempt's lease ID, so an attempt
// whose lease was taken over cannot overwrite its successor's outcome.
// When it cannot be written the row stays 'sending' under this Deliverer's
// lease, and its next Deliver of the event takes it again.
func (d *Deliverer) recordFailure(ctx context.Context, eventID string, attempt int, lease string, sendErr error) error {
	text := truncate(sendErr.Error(), 2000)
	if Permanent(sendErr) || attempt >= d.max {
		if !Permanent(sendErr) {
			text = fmt.Sprintf("gave up after %d attempts: %s", attempt, text)
		}
		if _, err := d.pool.Exec(ctx, sqlFail, eventID, lease, text); err != nil {
			return errors.Join(&DeliveryError{EventID: eventID, Attempts: attempt, Retryable: true, Err: sendErr},
				fmt.Errorf("mail ledger: record failure of event %s: %w", eventID, err))
		}
		return &DeliveryError{EventID: eventID, Attempts: attempt, Err: sendErr}
	}
	wait := d.backoff(attempt)
	if _, err := d.pool.Exec(ctx, sqlRelease, eventID, lease, text, wait.Seconds()); err != nil {
		return errors.Join(&DeliveryError{EventID: eventID, Attempts: attempt, Retryable: true, Err: sendErr},
			fmt.Errorf("mail ledger: record failure of event %s: %w", eventID, err))
	}
	return &DeliveryError{EventID: eventID, Attempts: attempt, Retryable: true, RetryAfter: wait, Err: sendErr}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}

const (
	// sqlClaim inserts the event's row as 'sending', or takes an existing
	// pending one, or one whose attempt outlived its lease or is the
	// holder's ($6) own, as long as it has attempts left. No row back: not
	// taken.
	sqlClaim = `
INSERT INTO mail_ledger AS l (event_id, recipient, subject, status, attempts, claimed_until, lease_holder, lease_id)
VALUES ($1, $2, $3, 'sending', 1, now() + make_interval(secs => $4), $6, gen_random_uuid())
ON CONFLICT (event_id) DO UPDATE
SET status = 'sending', attempts = l.attempts + 1, claimed_until = EXCLUDED.claimed_until,
    lease_holder = EXCLUDED.lease_holder, lease_id = EXCLUDED.lease_id, next_attempt_at = NULL, updated_at = now()
WHERE (l.status = 'pending' OR (l.status = 'sending' AND (l.claimed_until < now() OR l.lease_holder = $6)))
  AND l.attempts < $5
RETURNING attempts, lease_id::text`

	// sqlInspect: an attempt counts as dead (stale) when its lease ran out
	// or it is the holder's ($2) own, which no attempt of the holder runs.
	sqlInspect = `
SELECT status, attempts, coalesce(last_error, ''),
       coalesce(status = 'sending' AND (claimed_until < now() OR lease_holder = $2), false)
FROM mail_ledger WHERE event_id = $1`

	// sqlMarkSent wins over any other outcome: the mail went out. The event
	// the mail was written from is no longer needed.
	sqlMarkSent = `
UPDATE mail_ledger
SET status = 'sent', sent_at = now(), updated_at = now(), claimed_until = NULL, next_attempt_at = NULL, last_error = NULL,
    lease_holder = NULL, lease_id = NULL, event = NULL
WHERE event_id = $1 AND status <> 'sent'`

	sqlFail = `
UPDATE mail_ledger
SET status = 'failed', last_error = $3, claimed_until = NULL, next_attempt_at = NULL, lease_holder = NULL, lease_id = NULL,
    updated_at = now()
WHERE event_id = $1 AND status = 'sending' AND lease_id = $2`

	sqlRelease = `
UPDATE mail_ledger
SET status = 'pending', last_error = $3, claimed_until = NULL, lease_holder = NULL, lease_id = NULL,
    next_attempt_at = now() + make_interval(secs => $4), updated_at = now()
WHERE event_id = $1 AND status = 'sending' AND lease_id = $2`

	sqlGiveUp = `
UPDATE mail_ledger
SET status = 'failed', last_error = $3, claimed_until = NULL, next_attempt_at = NULL, lease_holder = NULL, lease_id = NULL,
    updated_at = now()
WHERE event_id = $1 AND status = $2`
)
