package mail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of DelivererConfig.
const (
	DefaultMaxAttempts = 8
	DefaultLease       = 5 * time.Minute
)

// recordTimeout bounds writing an attempt's outcome, which goes on after the
// caller's context has ended: a sent mail left unrecorded is the one way to
// send it twice.
const recordTimeout = 10 * time.Second

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
// too: the ledger row is the lock.
//
// The one window for a duplicate: the server has accepted the mail and the
// process dies (or loses the database) before the ledger says 'sent'. The row
// stays 'sending'; once its lease has run out, the next Deliver cannot know
// whether the mail went out and sends it again, since losing an invitation is
// worse than sending it twice. The window is kept short (the outcome is
// written at once, even when the caller's context has ended), and both copies
// carry the same Message-ID, derived from the event ID, so mail systems that
// de-duplicate by Message-ID show one.
type Deliverer struct {
	pool    *pgxpool.Pool
	sender  Sender
	max     int
	lease   time.Duration
	backoff func(int) time.Duration
}

// NewDeliverer returns a Deliverer over c's ledger and sender, or c's
// problems.
func NewDeliverer(c DelivererConfig) (*Deliverer, error) {
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Deliverer{pool: c.Pool, sender: c.Sender, max: c.MaxAttempts, lease: c.Lease, backoff: c.Backoff}, nil
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
//     (ErrInProgress, not counted), or the database could not be reached.
//
// An eventID that is not a UUID is a permanent error, sent and recorded
// nowhere.
func (d *Deliverer) Deliver(ctx context.Context, eventID string, msg Message) error {
	if _, err := uuid.Parse(eventID); err != nil {
		return permanent(fmt.Errorf("mail: event ID %q is not a UUID", eventID))
	}
	attempt, claimed, err := d.claim(ctx, eventID, msg)
	if err != nil {
		return fmt.Errorf("mail ledger: claim event %s: %w", eventID, err)
	}
	if !claimed {
		return d.notClaimed(ctx, eventID)
	}

	msg.ID = eventID
	sendErr := d.sender.Send(ctx, msg)

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if sendErr == nil {
		if _, err := d.pool.Exec(rctx, sqlMarkSent, eventID); err != nil {
			return fmt.Errorf("mail ledger: event %s was sent but not recorded, so it will be sent again: %w", eventID, err)
		}
		return nil
	}
	return d.recordFailure(rctx, eventID, attempt, sendErr)
}

// claim takes the event for one attempt: it inserts the row, or takes a
// pending one, or one whose attempt died, counting the attempt. It reports
// the attempt's number and whether the event was taken.
func (d *Deliverer) claim(ctx context.Context, eventID string, msg Message) (int, bool, error) {
	var attempt int
	err := d.pool.QueryRow(ctx, sqlClaim, eventID, oneLine(msg.To), oneLine(msg.Subject),
		d.lease.Seconds(), d.max).Scan(&attempt)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return attempt, err == nil, err
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
	err := d.pool.QueryRow(ctx, sqlInspect, eventID).Scan(&status, &attempts, &lastError, &stale)
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
// used up. The update is fenced by the attempt number, so an attempt whose
// lease was taken over cannot overwrite its successor's outcome.
func (d *Deliverer) recordFailure(ctx context.Context, eventID string, attempt int, sendErr error) error {
	text := truncate(sendErr.Error(), 2000)
	if Permanent(sendErr) || attempt >= d.max {
		if !Permanent(sendErr) {
			text = fmt.Sprintf("gave up after %d attempts: %s", attempt, text)
		}
		if _, err := d.pool.Exec(ctx, sqlFail, eventID, attempt, text); err != nil {
			return errors.Join(&DeliveryError{EventID: eventID, Attempts: attempt, Retryable: true, Err: sendErr},
				fmt.Errorf("mail ledger: record failure of event %s: %w", eventID, err))
		}
		return &DeliveryError{EventID: eventID, Attempts: attempt, Err: sendErr}
	}
	wait := d.backoff(attempt)
	if _, err := d.pool.Exec(ctx, sqlRelease, eventID, attempt, text, wait.Seconds()); err != nil {
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
	// pending one, or one whose attempt outlived its lease, as long as it
	// has attempts left. No row back: not taken.
	sqlClaim = `
INSERT INTO mail_ledger AS l (event_id, recipient, subject, status, attempts, claimed_until)
VALUES ($1, $2, $3, 'sending', 1, now() + make_interval(secs => $4))
ON CONFLICT (event_id) DO UPDATE
SET status = 'sending', attempts = l.attempts + 1, claimed_until = EXCLUDED.claimed_until,
    next_attempt_at = NULL, updated_at = now()
WHERE (l.status = 'pending' OR (l.status = 'sending' AND l.claimed_until < now()))
  AND l.attempts < $5
RETURNING attempts`

	sqlInspect = `
SELECT status, attempts, coalesce(last_error, ''), coalesce(status = 'sending' AND claimed_until < now(), false)
FROM mail_ledger WHERE event_id = $1`

	// sqlMarkSent wins over any other outcome: the mail went out.
	sqlMarkSent = `
UPDATE mail_ledger
SET status = 'sent', sent_at = now(), updated_at = now(), claimed_until = NULL, next_attempt_at = NULL, last_error = NULL
WHERE event_id = $1 AND status <> 'sent'`

	sqlFail = `
UPDATE mail_ledger
SET status = 'failed', last_error = $3, claimed_until = NULL, next_attempt_at = NULL, updated_at = now()
WHERE event_id = $1 AND status = 'sending' AND attempts = $2`

	sqlRelease = `
UPDATE mail_ledger
SET status = 'pending', last_error = $3, claimed_until = NULL,
    next_attempt_at = now() + make_interval(secs => $4), updated_at = now()
WHERE event_id = $1 AND status = 'sending' AND attempts = $2`

	sqlGiveUp = `
UPDATE mail_ledger
SET status = 'failed', last_error = $3, claimed_until = NULL, next_attempt_at = NULL, updated_at = now()
WHERE event_id = $1 AND status = $2`
)
