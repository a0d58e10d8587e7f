package mail

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Status is the state of an event's mail in the ledger.
type Status string

// The states of a mail. pending → sending → sent is the usual path; a failed
// attempt goes back to pending, or to failed when it was refused for good or
// was the last one allowed; Retry takes failed back to pending.
const (
	// StatusPending: not sent yet, an earlier attempt failed (or Retry
	// re-queued it); the next Deliver tries again.
	StatusPending Status = "pending"
	// StatusSending: an attempt holds the event until its lease ends. Past
	// the lease, the attempt died with its outcome unknown.
	StatusSending Status = "sending"
	// StatusSent: the server accepted the mail. Final.
	StatusSent Status = "sent"
	// StatusFailed: refused for good, or out of attempts. Stays until Retry.
	StatusFailed Status = "failed"
)

// StatusFailureLimit is how many failures Status lists, newest first.
const StatusFailureLimit = 100

// Summary counts the ledger's mails by state and lists the latest failures.
type Summary struct {
	Pending, Sending, Sent, Failed int
	// Failures are the most recent failed mails, newest first, at most
	// StatusFailureLimit of them.
	Failures []Failure
}

// Failure is a mail the ledger has given up on.
type Failure struct {
	EventID   string
	Recipient string
	Subject   string
	Attempts  int
	LastError string
	FailedAt  time.Time
}

// Entry is the ledger's row of one event. It holds no body, link or token.
type Entry struct {
	EventID       string
	Recipient     string
	Subject       string
	Status        Status
	Attempts      int
	LastError     string
	NextAttemptAt time.Time // zero unless pending
	CreatedAt     time.Time
	UpdatedAt     time.Time
	SentAt        time.Time // zero unless sent
}

// Status counts the mails in each state and lists the latest failures, for
// `roster mail status`. Its only errors are the database's.
func (d *Deliverer) Status(ctx context.Context) (Summary, error) {
	var s Summary
	rows, err := d.pool.Query(ctx, `SELECT status, count(*) FROM mail_ledger GROUP BY status`)
	if err != nil {
		return Summary{}, fmt.Errorf("mail ledger: count: %w", err)
	}
	counts := map[Status]*int{StatusPending: &s.Pending, StatusSending: &s.Sending, StatusSent: &s.Sent, StatusFailed: &s.Failed}
	var (
		status Status
		n      int
	)
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		if p, ok := counts[status]; ok {
			*p = n
		}
		return nil
	}); err != nil {
		return Summary{}, fmt.Errorf("mail ledger: count: %w", err)
	}

	rows, err = d.pool.Query(ctx, `
SELECT event_id::text, recipient, subject, attempts, coalesce(last_error, ''), updated_at
FROM mail_ledger WHERE status = 'failed'
ORDER BY updated_at DESC, event_id LIMIT $1`, StatusFailureLimit)
	if err != nil {
		return Summary{}, fmt.Errorf("mail ledger: failures: %w", err)
	}
	s.Failures, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Failure, error) {
		var f Failure
		err := r.Scan(&f.EventID, &f.Recipient, &f.Subject, &f.Attempts, &f.LastError, &f.FailedAt)
		return f, err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("mail ledger: failures: %w", err)
	}
	return s, nil
}

// Retry re-queues the failed mail of eventID: it becomes pending with its
// attempts reset, and a Dispatcher sends it (Dispatcher.Send at once). The
// ledger holds no body: the mail is written again from its event. Errors: ErrNotFound,
// ErrNotFailed (wrapped, naming the current state), or the database's.
func (d *Deliverer) Retry(ctx context.Context, eventID string) error {
	return d.requeue(ctx, eventID, `
UPDATE mail_ledger SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
WHERE event_id = $1 AND status = 'failed'`)
}

// RetryHere re-queues the failed mail of eventID as Retry does, for the
// caller to send at once (Dispatcher.Send): it is pending, but not due
// elsewhere for retryGrace, so a Dispatcher in a running server, perhaps
// still pointed at the SMTP server that refused the mail, does not take it
// first. Should the caller not send it, it is due everywhere after the
// grace. Errors: as Retry.
func (d *Deliverer) RetryHere(ctx context.Context, eventID string) error {
	return d.requeue(ctx, eventID, `
UPDATE mail_ledger SET status = 'pending', attempts = 0, next_attempt_at = now() + make_interval(secs => $2), updated_at = now()
WHERE event_id = $1 AND status = 'failed'`, retryGrace.Seconds())
}

// retryGrace is how long a mail re-queued by RetryHere waits for its
// retrier's send before any Dispatcher may take it.
const retryGrace = time.Minute

// requeue runs query, which turns eventID's failed mail back into one to
// send, and says why when there was none.
func (d *Deliverer) requeue(ctx context.Context, eventID, query string, args ...any) error {
	if _, err := uuid.Parse(eventID); err != nil {
		return fmt.Errorf("event %q is not a UUID: %w", eventID, ErrNotFound)
	}
	tag, err := d.pool.Exec(ctx, query, append([]any{eventID}, args...)...)
	if err != nil {
		return fmt.Errorf("mail ledger: retry event %s: %w", eventID, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	e, err := d.Entry(ctx, eventID)
	if err != nil {
		return err
	}
	return fmt.Errorf("mail for event %s is %s: %w", eventID, e.Status, ErrNotFailed)
}

// Due lists, oldest first and at most limit, the events whose mail should be
// delivered now, in whichever property: pending ones whose suggested next
// attempt has come, and sending ones whose attempt died (its lease ran out,
// or it is this Deliverer's own and none of its attempts runs). The
// Dispatcher picks from the same mails, fairly across properties.
func (d *Deliverer) Due(ctx context.Context, limit int) ([]string, error) {
	rows, err := d.pool.Query(ctx, `
SELECT event_id::text FROM mail_ledger
WHERE (status = 'pending' AND coalesce(next_attempt_at <= now(), true))
   OR (status = 'sending' AND (claimed_until < now() OR (lease_holder = $2 AND NOT event_id = ANY($3::uuid[]))))
ORDER BY updated_at, event_id LIMIT $1`, limit, d.holder, d.running())
	if err != nil {
		return nil, fmt.Errorf("mail ledger: due: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("mail ledger: due: %w", err)
	}
	return ids, nil
}

// Entry returns the ledger's row of eventID. Errors: ErrNotFound, or the
// database's.
func (d *Deliverer) Entry(ctx context.Context, eventID string) (Entry, error) {
	if _, err := uuid.Parse(eventID); err != nil {
		return Entry{}, fmt.Errorf("event %q is not a UUID: %w", eventID, ErrNotFound)
	}
	var (
		e          Entry
		next, sent *time.Time
		status     string
	)
	err := d.pool.QueryRow(ctx, `
SELECT event_id::text, recipient, subject, status, attempts, coalesce(last_error, ''),
       next_attempt_at, created_at, updated_at, sent_at
FROM mail_ledger WHERE event_id = $1`, eventID).Scan(&e.EventID, &e.Recipient, &e.Subject, &status,
		&e.Attempts, &e.LastError, &next, &e.CreatedAt, &e.UpdatedAt, &sent)
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, fmt.Errorf("event %s: %w", eventID, ErrNotFound)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("mail ledger: read event %s: %w", eventID, err)
	}
	e.Status = Status(status)
	if next != nil {
		e.NextAttemptAt = *next
	}
	if sent != nil {
		e.SentAt = *sent
	}
	return e, nil
}
