package mail

import (
	"errors"
	"fmt"
	"time"
)

// ErrPermanent is matched (with errors.Is) by every error that retrying the
// same delivery cannot fix: the server refused the recipient or the message
// with a 5xx reply, the message is malformed, or the ledger has given up on
// the event. Every other delivery error is worth retrying with backoff.
var ErrPermanent = errors.New("permanent mail failure")

// Errors of the ledger.
var (
	// ErrInProgress means another attempt holds the event right now; retry
	// later (it is not permanent and does not count as an attempt).
	ErrInProgress = errors.New("mail delivery in progress elsewhere")
	// ErrSentNotRecorded means the server accepted the mail and the ledger
	// could not be told; the Deliverer that sent it records it on its next
	// Deliver of the event, without sending again.
	ErrSentNotRecorded = errors.New("mail sent but not recorded")
	// ErrNotQueued means the ledger keeps no event to write the mail from:
	// it is sent, or it was recorded before the ledger kept events (the
	// mail is then written from the feed's copy of its event).
	ErrNotQueued = errors.New("no event queued for this mail in the ledger")
	// ErrNotFound means the ledger has no row for the event.
	ErrNotFound = errors.New("no mail for this event in the ledger")
	// ErrNotFailed means Retry was asked for a mail that has not failed.
	ErrNotFailed = errors.New("mail has not failed")
)

// Permanent reports whether err says that retrying is pointless: the mail is
// (or has just been) recorded as failed. A watermill handler acknowledges
// such a message instead of retrying it; the failure stays visible in Status.
func Permanent(err error) bool { return errors.Is(err, ErrPermanent) }

// permanentError marks a send error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

// permanent wraps err so that Permanent(err) is true.
func permanent(err error) error { return permanentError{err: err} }

// DeliveryError is what Deliverer.Deliver returns when a mail did not go out.
type DeliveryError struct {
	// EventID is the event the mail belongs to.
	EventID string
	// Attempts is how many attempts the ledger has counted for the event.
	Attempts int
	// Retryable is true when a later Deliver may succeed; false once the
	// ledger has marked the mail failed.
	Retryable bool
	// RetryAfter is the wait the ledger's backoff suggests before the next
	// attempt (zero when not retryable, or for ErrInProgress). A caller with
	// its own backoff may ignore it.
	RetryAfter time.Duration
	// Err is the cause: the SMTP error, ErrInProgress or
	// ErrSentNotRecorded.
	Err error
}

// Error names the event, the attempt and whether it will be retried.
func (e *DeliveryError) Error() string {
	verdict := "will retry"
	if !e.Retryable {
		verdict = "marked failed"
	}
	return fmt.Sprintf("mail for event %s, attempt %d (%s): %v", e.EventID, e.Attempts, verdict, e.Err)
}

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Is makes a DeliveryError that is not retryable match ErrPermanent, even
// when its cause was a temporary failure that happened once too often.
func (e *DeliveryError) Is(target error) bool { return target == ErrPermanent && !e.Retryable }
