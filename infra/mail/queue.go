package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
)

// The ledger as the queue the Dispatcher sends from: the Consumer records
// each mail with the property it belongs to and the event it is written
// from (migration 0010), and the Dispatcher picks the mails due, a few per
// property at a time.

// queuedMail is a mail the Dispatcher may send now.
type queuedMail struct {
	EventID    string
	PropertyID string
}

// record queues, through q, the mail msg of event rec for property propertyID: pending,
// written from rec when it is sent. A mail the ledger has already is left
// as it is, except that a row recorded before the ledger kept events (and
// not sent) gets its property and event. rec is stored as the feed gave it,
// personal fields sealed; its errors are the database's. Its time is the
// statement's, not the transaction's: the mails of one batch of the feed
// are recorded in one transaction, and the Dispatcher sends a property's
// mails in the order of that time (an invitation before its resend).
func (d *Deliverer) record(ctx context.Context, q querier, propertyID string, rec eventstore.RecordedEvent, msg Message) error {
	stored, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("mail ledger: record event %s: %w", rec.ID, err)
	}
	_, err = q.Exec(ctx, `
INSERT INTO mail_ledger AS l (event_id, recipient, subject, status, property_id, event, created_at)
VALUES ($1, $2, $3, 'pending', $4, $5, clock_timestamp())
ON CONFLICT (event_id) DO UPDATE
SET property_id = EXCLUDED.property_id, event = EXCLUDED.event, updated_at = now()
WHERE l.event IS NULL AND l.status <> 'sent'`, rec.ID, oneLine(msg.To), oneLine(msg.Subject), propertyID, stored)
	if err != nil {
		return fmt.Errorf("mail ledger: record event %s: %w", rec.ID, err)
	}
	return nil
}

// queued returns the event the mail of eventID is written from. sent is
// true when the mail is sent. Errors: ErrNotQueued when the ledger keeps no
// event for an unsent mail, ErrNotFound, or the database's.
func (d *Deliverer) queued(ctx context.Context, eventID string) (rec eventstore.RecordedEvent, sent bool, err error) {
	var (
		status string
		stored []byte
	)
	err = d.pool.QueryRow(ctx, `SELECT status, event FROM mail_ledger WHERE event_id = $1`, eventID).Scan(&status, &stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return rec, false, fmt.Errorf("event %s: %w", eventID, ErrNotFound)
	case err != nil:
		return rec, false, fmt.Errorf("mail ledger: read event %s: %w", eventID, err)
	case status == string(StatusSent):
		return rec, true, nil
	case stored == nil:
		return rec, false, fmt.Errorf("event %s: %w", eventID, ErrNotQueued)
	}
	if err := json.Unmarshal(stored, &rec); err != nil {
		return rec, false, fmt.Errorf("mail ledger: the event of %s does not decode: %w", eventID, err)
	}
	return rec, false, nil
}

// postpone counts an attempt at eventID's pending mail that failed before
// sending (the mail could not be written from its event), suggesting the
// next one after the backoff, or failing the mail when the attempts are
// used up. A mail that is not pending, or that changed meanwhile, is left
// alone. Its errors are the database's.
func (d *Deliverer) postpone(ctx context.Context, eventID string, cause error) error {
	var attempts int
	err := d.pool.QueryRow(ctx, `SELECT attempts FROM mail_ledger WHERE event_id = $1 AND status = 'pending'`, eventID).Scan(&attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mail ledger: postpone event %s: %w", eventID, err)
	}
	n, why := attempts+1, truncate("the mail could not be written: "+cause.Error(), 2000)
	if n >= d.max {
		_, err = d.pool.Exec(ctx, `
UPDATE mail_ledger SET status = 'failed', attempts = $3, last_error = $4, next_attempt_at = NULL, updated_at = now()
WHERE event_id = $1 AND status = 'pending' AND attempts = $2`, eventID, attempts, n, fmt.Sprintf("gave up after %d attempts: %s", n, why))
	} else {
		_, err = d.pool.Exec(ctx, `
UPDATE mail_ledger SET attempts = $3, last_error = $4, next_attempt_at = now() + make_interval(secs => $5), updated_at = now()
WHERE event_id = $1 AND status = 'pending' AND attempts = $2`, eventID, attempts, n, why, d.backoff(n).Seconds())
	}
	if err != nil {
		return fmt.Errorf("mail ledger: postpone event %s: %w", eventID, err)
	}
	return nil
}

// mailBatch is the mails one worker of the Dispatcher sends now, oldest
// first within each property: a property's batch, or the few mails of
// several properties that have only those, packed together up to the
// batch size so that a thousand properties of one mail each do not take a
// thousand picks.
type mailBatch struct {
	mails []queuedMail
}

// properties lists the properties of b's mails, each once.
func (b mailBatch) properties() []string {
	var ps []string
	for _, m := range b.mails {
		if !slices.Contains(ps, m.PropertyID) {
			ps = append(ps, m.PropertyID)
		}
	}
	return ps
}

// eventIDs lists b's events, in order.
func (b mailBatch) eventIDs() []string {
	ids := make([]string, 0, len(b.mails))
	for _, m := range b.mails {
		ids = append(ids, m.EventID)
	}
	return ids
}

// next picks at most limit batches of at most size mails to send now,
// fairly across properties: a property's oldest mails first, and the first
// batch of every property before the second of any. A property gets at
// most perProperty batches minus its busy count (the batches with its mails
// already being sent here); exclude are the events being sent here. Due are
// pending mails whose backoff has passed and 'sending' ones whose attempt
// died: their lease ran out, or it is this Deliverer's own (an attempt that
// lost the database midway). A mail waits while an older one of its
// property to the same recipient is open, so an invitee gets a resend's
// mail after the invitation's, whose token it replaces. Its errors are the
// database's.
//
// The properties with open mail are walked through the queue index one at
// a time (a loose index scan), so a backlog of one costs its first few rows,
// not all of them.
func (d *Deliverer) next(ctx context.Context, exclude []string, busy map[string]int, perProperty, limit, size int) ([]mailBatch, error) {
	props := make([]string, 0, len(busy))
	counts := make([]int32, 0, len(busy))
	for p, n := range busy {
		props = append(props, p)
		counts = append(counts, int32(n))
	}
	if exclude == nil {
		exclude = []string{}
	}
	rows, err := d.pool.Query(ctx, sqlNext, d.holder, exclude, props, counts, perProperty, limit, size)
	if err != nil {
		return nil, fmt.Errorf("mail ledger: pick the mails to send: %w", err)
	}
	type pickedRow struct {
		queuedMail
		batch int
	}
	picked, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pickedRow, error) {
		var q pickedRow
		err := r.Scan(&q.EventID, &q.PropertyID, &q.batch)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("mail ledger: pick the mails to send: %w", err)
	}
	// A property's batches in the order of their first mail, which is the
	// order of fairness; then packed, in that order, into workers' batches.
	type key struct {
		property string
		batch    int
	}
	at := map[key]int{}
	var own [][]queuedMail
	for _, q := range picked {
		k := key{q.PropertyID, q.batch}
		i, ok := at[k]
		if !ok {
			i = len(own)
			at[k] = i
			own = append(own, nil)
		}
		own[i] = append(own[i], q.queuedMail)
	}
	var batches []mailBatch
	for _, mails := range own {
		last := len(batches) - 1
		if last >= 0 && len(batches[last].mails)+len(mails) <= size &&
			!slices.Contains(batches[last].properties(), mails[0].PropertyID) {
			batches[last].mails = append(batches[last].mails, mails...)
			continue
		}
		if len(batches) == limit {
			break
		}
		batches = append(batches, mailBatch{mails: mails})
	}
	return batches, nil
}

// sqlNext first finds each property's oldest due mail (its head) and
// whether it has more, then ranks the batches a property may take by their
// number (its first before any property's second) and its head's age. It
// keeps the first ones up to $6 batches' worth of mails (a property with
// one due mail weighs one mail, another a whole batch), and only then
// reads their mails: the rows read are about the properties with open mail
// plus the mails picked, not a batch for every property.
const sqlNext = `
WITH RECURSIVE props(property_id) AS (
    (SELECT property_id FROM mail_ledger
     WHERE status IN ('pending', 'sending') AND property_id IS NOT NULL
     ORDER BY property_id LIMIT 1)
  UNION ALL
    SELECT (SELECT l.property_id FROM mail_ledger l
            WHERE l.status IN ('pending', 'sending') AND l.property_id IS NOT NULL AND l.property_id > p.property_id
            ORDER BY l.property_id LIMIT 1)
    FROM props p WHERE p.property_id IS NOT NULL
), busy(property_id, n) AS (
    SELECT * FROM unnest($3::text[], $4::int[])
), heads AS (
    SELECT p.property_id, coalesce(b.n, 0) AS n, h.created_at, h.event_id, h.due
    FROM props p
    LEFT JOIN busy b ON b.property_id = p.property_id
    CROSS JOIN LATERAL (
        SELECT x.event_id, x.created_at, count(*) OVER () AS due
        FROM (SELECT l.event_id, l.created_at FROM mail_ledger l
              WHERE l.property_id = p.property_id AND ` + dueMail + `
              ORDER BY l.created_at, l.event_id
              LIMIT 2) x
        ORDER BY x.created_at, x.event_id
        LIMIT 1
    ) h
    WHERE p.property_id IS NOT NULL AND coalesce(b.n, 0) < $5
), slots AS (
    SELECT h.property_id, k, CASE WHEN h.due > 1 THEN $7::int ELSE 1 END AS weight,
           sum(CASE WHEN h.due > 1 THEN $7::int ELSE 1 END)
               OVER (ORDER BY k, h.created_at, h.event_id ROWS UNBOUNDED PRECEDING) AS upto
    FROM heads h CROSS JOIN generate_series(0, CASE WHEN h.due > 1 THEN $5 - h.n - 1 ELSE 0 END) k
), chosen AS (
    SELECT property_id, count(*) AS batches FROM slots
    WHERE upto - weight < $6::int * $7::int
    GROUP BY property_id
)
SELECT q.event_id::text, c.property_id, ((q.rn - 1) / $7::int)::int AS batch
FROM chosen c
CROSS JOIN LATERAL (
    SELECT l.event_id, l.created_at, row_number() OVER (ORDER BY l.created_at, l.event_id) AS rn
    FROM mail_ledger l
    WHERE l.property_id = c.property_id AND ` + dueMail + `
    ORDER BY l.created_at, l.event_id
    LIMIT c.batches * $7::int
) q
ORDER BY batch, q.created_at, q.event_id`

// dueMail is the condition on a mail l of a property the Dispatcher may
// send now.
const dueMail = `l.status IN ('pending', 'sending') AND l.event IS NOT NULL
      AND ((l.status = 'pending' AND coalesce(l.next_attempt_at <= now(), true))
           OR (l.status = 'sending' AND (l.claimed_until < now() OR l.lease_holder = $1)))
      AND l.event_id <> ALL($2::uuid[])
      AND NOT EXISTS (
          SELECT 1 FROM mail_ledger o
          WHERE o.property_id IS NOT NULL AND o.property_id = l.property_id AND o.recipient = l.recipient AND o.status IN ('pending', 'sending')
            AND (o.created_at, o.event_id) < (l.created_at, l.event_id))`
