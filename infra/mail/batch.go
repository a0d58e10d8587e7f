package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/recorded"
)

// A batch is a few mails (of one property, or of several properties that
// have a mail each) that one worker of the Dispatcher sends one after
// another, with one claim and one record of the sent ones for them all: a
// sender that is not held up by a mail server (the log sender) would
// otherwise spend most of each mail waiting for the ledger's round trips. Each mail keeps its own lease, attempt count and outcome, so
// a failure, a backoff or a takeover is the mail's alone, as with Deliver.

// claimedMail is a mail of a batch that this Deliverer holds.
type claimedMail struct {
	eventID string
	attempt int
	lease   string
	event   []byte
	local   *localAttempt
}

// sendBatch sends the mails of ids and returns each
// one's outcome as Send would, in the order of ids. A mail the batch's claim
// does not take (sent or failed meanwhile, taken by another process, or
// needing its recorded event) goes through Send alone, which says why.
func (p *Dispatcher) sendBatch(ctx context.Context, ids []string) []sendResult {
	results := make(map[string]error, len(ids))
	var mine []string
	locals := map[string]*localAttempt{}
	for _, id := range ids {
		a, ok := p.d.begin(id)
		if !ok {
			results[id] = &DeliveryError{EventID: id, Retryable: true, Err: ErrInProgress}
			continue
		}
		if a.sent { // sent before the database went away: only the ledger is behind
			results[id] = p.d.recordSent(ctx, id, a)
			p.d.end(id)
			continue
		}
		mine = append(mine, id)
		locals[id] = a
	}
	claimedAt := time.Now()
	claimed, err := p.d.claimAll(ctx, mine)
	if err != nil {
		for _, id := range mine {
			results[id] = err
			p.d.end(id)
		}
		return collect(ids, results)
	}
	events := p.openClaimed(ctx, claimed)
	var sent []claimedMail
	for i := range claimed {
		m := &claimed[i]
		m.local = locals[m.eventID]
		delete(locals, m.eventID)
		var err error
		if ctx.Err() != nil {
			// Stopping: the mails not sent yet go back as they were, their
			// attempt uncounted, rather than fail to be written.
			err = p.d.unclaim(ctx, m)
		} else {
			err = p.sendClaimed(ctx, m, events[i], claimedAt)
		}
		if err != nil {
			results[m.eventID] = err
			p.d.end(m.eventID)
			continue
		}
		sent = append(sent, *m)
	}
	for _, m := range p.d.recordAllSent(ctx, sent) {
		results[m.eventID] = m.err
		p.d.end(m.eventID)
	}
	for id := range locals { // not claimed: Send finds out why, alone
		p.d.end(id)
		results[id] = p.Send(ctx, id)
	}
	return collect(ids, results)
}

func collect(ids []string, results map[string]error) []sendResult {
	out := make([]sendResult, 0, len(ids))
	for _, id := range ids {
		out = append(out, sendResult{mail: queuedMail{EventID: id}, err: results[id]})
	}
	return out
}

// openedEvent is a claimed mail's event, decoded and opened, or why not.
type openedEvent struct {
	event recorded.Event
	err   error
}

// openClaimed decodes the events of the claimed mails and opens them in
// one call of the Opener; should that call fail, each is opened alone, so
// that one event the Opener refuses holds back no other.
func (p *Dispatcher) openClaimed(ctx context.Context, claimed []claimedMail) []openedEvent {
	out := make([]openedEvent, len(claimed))
	recs := make([]eventstore.RecordedEvent, 0, len(claimed))
	at := make([]int, 0, len(claimed)) // recs[j] is claimed[at[j]]'s
	for i, m := range claimed {
		var rec eventstore.RecordedEvent
		if err := json.Unmarshal(m.event, &rec); err != nil {
			out[i].err = fmt.Errorf("the event does not decode: %w", err)
			continue
		}
		recs = append(recs, rec)
		at = append(at, i)
	}
	opened, err := p.c.openAll(ctx, recs)
	for j, rec := range recs {
		o := &out[at[j]]
		if err != nil {
			o.event, o.err = p.c.open(ctx, rec)
		} else {
			o.event, o.err = recorded.Decode(opened[j])
		}
	}
	return out
}

// sendClaimed writes the claimed mail m from its event e and sends it. On
// success m.local says the mail is sent, for the record that follows; on
// failure the outcome is written, fenced by m's lease, and returned.
func (p *Dispatcher) sendClaimed(ctx context.Context, m *claimedMail, e openedEvent, claimedAt time.Time) error {
	if e.err != nil {
		return p.d.releaseUnwritten(ctx, m, e.err)
	}
	inv, msg, err := p.c.invitation(ctx, p.c.pool, m.eventID, e.event)
	if err != nil && ctx.Err() != nil {
		return p.d.unclaim(ctx, m)
	}
	if err != nil {
		return p.d.releaseUnwritten(ctx, m, err)
	}
	if erased(inv.Email) {
		// Forgotten since the mail was recorded.
		return p.d.failClaimed(ctx, m, "not sent: the invitee was forgotten, and an erased address reaches no one")
	}
	msg.ID = m.eventID
	// As in Deliver: the send is over before the lease can have run out.
	sendCtx, cancel := context.WithDeadline(withInvitation(ctx, inv), claimedAt.Add(p.d.lease-p.d.lease/10))
	sendErr := p.d.sender.Send(sendCtx, msg)
	cancel()
	if sendErr == nil {
		m.local.sent = true
		return nil
	}
	rctx, cancelRecord := context.WithTimeout(context.WithoutCancel(ctx), p.d.recordTimeout)
	defer cancelRecord()
	return p.d.recordFailure(rctx, m.eventID, m.attempt, m.lease, sendErr)
}

// claimAll takes, for one attempt each, the mails of ids the ledger keeps
// an event for that are pending, or whose attempt died (its lease ran out,
// or it is this Deliverer's own: begin has made sure none of its attempts
// at them runs), and have attempts left. It returns the ones taken, in the
// order of ids. Its errors are the database's.
func (d *Deliverer) claimAll(ctx context.Context, ids []string) ([]claimedMail, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// The same order of row locks in every process: two claims of
	// overlapping batches wait for each other instead of deadlocking.
	sorted := slices.Sorted(slices.Values(ids))
	rows, err := d.pool.Query(ctx, sqlClaimAll, sorted, d.lease.Seconds(), d.max, d.holder)
	if err != nil {
		return nil, fmt.Errorf("mail ledger: claim %d events: %w", len(ids), err)
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimedMail, error) {
		var m claimedMail
		err := r.Scan(&m.eventID, &m.attempt, &m.lease, &m.event)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("mail ledger: claim %d events: %w", len(ids), err)
	}
	at := make(map[string]int, len(ids))
	for i, id := range ids {
		at[id] = i
	}
	slices.SortFunc(claimed, func(a, b claimedMail) int { return at[a.eventID] - at[b.eventID] })
	return claimed, nil
}

// sentOutcome is what recordAllSent made of one sent mail.
type sentOutcome struct {
	eventID string
	err     error
}

// recordAllSent writes that the mails sent went out, in one statement,
// retrying a database that does not answer for the record timeout as
// recordSent does. Past it, each stays sent in its local attempt
// (ErrSentNotRecorded), and the next Deliver or batch of it records it
// without sending.
func (d *Deliverer) recordAllSent(ctx context.Context, sent []claimedMail) []sentOutcome {
	if len(sent) == 0 {
		return nil
	}
	ids := make([]string, 0, len(sent))
	for _, m := range sent {
		ids = append(ids, m.eventID)
	}
	slices.Sort(ids)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.recordTimeout)
	defer cancel()
	wait := 20 * time.Millisecond
	var err error
	for {
		if _, err = d.pool.Exec(rctx, sqlMarkAllSent, ids); err == nil {
			break
		}
		select {
		case <-rctx.Done():
		case <-time.After(wait):
			wait = min(2*wait, time.Second)
			continue
		}
		break
	}
	out := make([]sentOutcome, 0, len(sent))
	for _, m := range sent {
		o := sentOutcome{eventID: m.eventID}
		if err == nil {
			m.local.sent = false
		} else {
			o.err = &DeliveryError{EventID: m.eventID, Retryable: true,
				Err: fmt.Errorf("%w (this process records it once the database answers, and does not send it again): %w",
					ErrSentNotRecorded, err)}
		}
		out = append(out, o)
	}
	return out
}

// releaseUnwritten gives back the claimed mail m, which could not be
// written from its event: pending again after the backoff, its attempt
// counted (the claim did), or failed once the attempts are used up, as
// postpone does for a mail not claimed yet.
func (d *Deliverer) releaseUnwritten(ctx context.Context, m *claimedMail, cause error) error {
	err := fmt.Errorf("mail of event %s cannot be written: %w", m.eventID, cause)
	why := truncate("the mail could not be written: "+cause.Error(), 2000)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.recordTimeout)
	defer cancel()
	var werr error
	if m.attempt >= d.max {
		_, werr = d.pool.Exec(rctx, sqlFail, m.eventID, m.lease, fmt.Sprintf("gave up after %d attempts: %s", m.attempt, why))
	} else {
		_, werr = d.pool.Exec(rctx, sqlRelease, m.eventID, m.lease, why, d.backoff(m.attempt).Seconds())
	}
	if werr != nil {
		return errors.Join(err, fmt.Errorf("mail ledger: postpone event %s: %w", m.eventID, werr))
	}
	return err
}

// unclaim gives back the claimed mail m unsent, as it was before the
// claim: its attempt is not counted, and it is due at once. It returns why:
// ctx's error, with the database's should the row stay claimed (its lease
// then runs out, or this Deliverer takes it again as its own).
func (d *Deliverer) unclaim(ctx context.Context, m *claimedMail) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.recordTimeout)
	defer cancel()
	err := &DeliveryError{EventID: m.eventID, Attempts: m.attempt - 1, Retryable: true, Err: context.Cause(ctx)}
	if _, werr := d.pool.Exec(rctx, sqlUnclaim, m.eventID, m.lease); werr != nil {
		return errors.Join(err, fmt.Errorf("mail ledger: give back event %s: %w", m.eventID, werr))
	}
	return err
}

// failClaimed records the claimed mail m as failed for why, unsent.
func (d *Deliverer) failClaimed(ctx context.Context, m *claimedMail, why string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.recordTimeout)
	defer cancel()
	if _, err := d.pool.Exec(rctx, sqlFailUnsent, m.eventID, m.lease, why); err != nil {
		return fmt.Errorf("mail ledger: record event %s as not sent: %w", m.eventID, err)
	}
	return nil
}

const (
	// sqlClaimAll takes what sqlClaim would of rows that exist, each under
	// a lease ID of its own, and returns their events.
	sqlClaimAll = `
UPDATE mail_ledger AS l
SET status = 'sending', attempts = l.attempts + 1, claimed_until = now() + make_interval(secs => $2),
    lease_holder = $4, lease_id = gen_random_uuid(), next_attempt_at = NULL, updated_at = now()
WHERE l.event_id = ANY($1::uuid[]) AND l.event IS NOT NULL
  AND (l.status = 'pending' OR (l.status = 'sending' AND (l.claimed_until < now() OR l.lease_holder = $4)))
  AND l.attempts < $3
RETURNING l.event_id::text, l.attempts, l.lease_id::text, l.event`

	sqlMarkAllSent = `
UPDATE mail_ledger
SET status = 'sent', sent_at = now(), updated_at = now(), claimed_until = NULL, next_attempt_at = NULL, last_error = NULL,
    lease_holder = NULL, lease_id = NULL, event = NULL
WHERE event_id = ANY($1::uuid[]) AND status <> 'sent'`

	sqlUnclaim = `
UPDATE mail_ledger
SET status = 'pending', attempts = attempts - 1, claimed_until = NULL, lease_holder = NULL, lease_id = NULL,
    updated_at = now()
WHERE event_id = $1 AND status = 'sending' AND lease_id = $2`

	// sqlFailUnsent is what the Consumer's skip writes, for a mail this
	// attempt holds.
	sqlFailUnsent = `
UPDATE mail_ledger
SET status = 'failed', last_error = $3, claimed_until = NULL, next_attempt_at = NULL, lease_holder = NULL, lease_id = NULL,
    event = NULL, updated_at = now()
WHERE event_id = $1 AND status = 'sending' AND lease_id = $2`
)
