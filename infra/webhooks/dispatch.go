package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// claimed is a delivery this process holds and sends now.
type claimed struct {
	id                     int64
	lease                  uuid.UUID
	attempt                int
	endpointID, propertyID string
	eventID, url           string
	body                   []byte
	nonce, previousNonce   string
	previousUntil          *time.Time
	failingSince           *time.Time
}

// outcome is what one attempt came to.
type outcome struct {
	status   int // 0 when no answer came
	err      error
	duration time.Duration
}

func (o outcome) ok() bool { return o.err == nil && o.status >= 200 && o.status < 300 }

// Run sends deliveries until ctx ends, then waits for those under way and
// returns nil: the first open delivery of every enabled endpoint whose
// time has come, up to Workers at once, one per endpoint so each endpoint
// gets its events in order and a slow or dead one holds up no other. A
// database that does not answer is retried at the poll interval.
func (w *Webhooks) Run(ctx context.Context) error {
	inFlight := map[string]bool{} // endpoints being sent to
	done := make(chan string)
	defer func() {
		for len(inFlight) > 0 {
			delete(inFlight, <-done)
		}
	}()
	for {
		if free := w.c.Workers - len(inFlight); free > 0 {
			busy := make([]string, 0, len(inFlight))
			for e := range inFlight {
				busy = append(busy, e)
			}
			picked, err := w.claimDue(ctx, busy, free)
			if err != nil && ctx.Err() == nil {
				w.c.Log.Warn().Err(err).Msg("webhooks: cannot pick the deliveries due")
			}
			for _, c := range picked {
				inFlight[c.endpointID] = true
				go func() { w.work(ctx, c); done <- c.endpointID }()
			}
		}
		timer := time.NewTimer(w.c.Poll)
		select {
		case e := <-done:
			delete(inFlight, e)
		case <-w.queued:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil
		}
		timer.Stop()
	}
}

// Drain sends every delivery due by the clock now, and those that come due
// (the next of an endpoint once its first is delivered), and returns once
// none is due: for tests and operators, with a clock they move. It returns
// how many attempts it made. Errors: the database's, and ctx's.
func (w *Webhooks) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		picked, err := w.claimDue(ctx, nil, w.c.Workers)
		if err != nil {
			return total, err
		}
		if len(picked) == 0 {
			return total, ctx.Err()
		}
		done := make(chan struct{}, len(picked))
		for _, c := range picked {
			go func() { w.attempt(ctx, c); done <- struct{}{} }()
		}
		for range picked {
			<-done
		}
		total += len(picked)
	}
}

// NextDue returns when the next open delivery of an enabled endpoint is due;
// ok is false when none is open. Errors: the database's.
func (w *Webhooks) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	var next *time.Time
	err = w.c.Pool.QueryRow(ctx, `
SELECT min(CASE WHEN h.status = 'pending' THEN h.next_attempt_at ELSE h.claimed_until END)
FROM webhook_endpoints e
CROSS JOIN LATERAL (SELECT d.status, d.next_attempt_at, d.claimed_until FROM webhook_deliveries d
    WHERE d.endpoint_id = e.endpoint_id AND d.status IN ('pending', 'sending') ORDER BY d.id LIMIT 1) h
WHERE e.enabled AND NOT e.deleted`).Scan(&next)
	if err != nil || next == nil {
		return time.Time{}, false, err
	}
	return *next, true, nil
}

// claimDue claims up to limit deliveries due now, the first open one of
// each enabled endpoint not in busy.
func (w *Webhooks) claimDue(ctx context.Context, busy []string, limit int) ([]claimed, error) {
	now := w.c.Now()
	if busy == nil {
		busy = []string{}
	}
	rows, err := w.c.Pool.Query(ctx, `
SELECT h.id FROM webhook_endpoints e
CROSS JOIN LATERAL (SELECT d.id, d.status, d.next_attempt_at, d.claimed_until FROM webhook_deliveries d
    WHERE d.endpoint_id = e.endpoint_id AND d.status IN ('pending', 'sending') ORDER BY d.id LIMIT 1) h
WHERE e.enabled AND NOT e.deleted AND e.endpoint_id <> ALL($2::text[])
  AND ((h.status = 'pending' AND h.next_attempt_at <= $1) OR (h.status = 'sending' AND h.claimed_until < $1))
ORDER BY h.id LIMIT $3`, now, busy, limit)
	if err != nil {
		return nil, fmt.Errorf("webhooks: pick the deliveries due: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("webhooks: pick the deliveries due: %w", err)
	}
	out := make([]claimed, 0, len(ids))
	for _, id := range ids {
		c, ok, err := w.claim(ctx, id, now)
		if err != nil {
			return out, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// claim takes delivery id for one attempt, unless another process took it
// first or it is no longer its endpoint's first open delivery. The claim
// lasts a little over one request, so a process that dies holding it is
// replaced soon after.
func (w *Webhooks) claim(ctx context.Context, id int64, now time.Time) (claimed, bool, error) {
	return w.claimWhere(ctx, `d.id = $1`, id, now)
}

// claimNext claims endpointID's first open delivery if it is due: what a
// worker sends next after a success, without waiting for the next pick.
func (w *Webhooks) claimNext(ctx context.Context, endpointID string, now time.Time) (claimed, bool, error) {
	return w.claimWhere(ctx, `d.id = (SELECT o.id FROM webhook_deliveries o WHERE o.endpoint_id = $1
    AND o.status IN ('pending', 'sending') ORDER BY o.id LIMIT 1)`, endpointID, now)
}

func (w *Webhooks) claimWhere(ctx context.Context, which string, arg any, now time.Time) (claimed, bool, error) {
	c := claimed{lease: uuid.New()}
	err := w.c.Pool.QueryRow(ctx, `
UPDATE webhook_deliveries d SET status = 'sending', claimed_until = $2, lease_id = $3, attempts = d.attempts + 1, last_attempt_at = $4
FROM webhook_endpoints e
WHERE `+which+` AND e.endpoint_id = d.endpoint_id AND e.enabled AND NOT e.deleted
  AND ((d.status = 'pending' AND d.next_attempt_at <= $4) OR (d.status = 'sending' AND d.claimed_until < $4))
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o WHERE o.endpoint_id = d.endpoint_id
                  AND o.status IN ('pending', 'sending') AND o.id < d.id)
RETURNING d.id, d.attempts, d.endpoint_id, d.property_id, d.event_id, e.url, d.body,
          e.secret_nonce, coalesce(e.previous_nonce, ''), e.previous_until, e.failing_since`,
		arg, now.Add(2*w.c.Timeout+5*time.Second), c.lease, now).Scan(&c.id, &c.attempt, &c.endpointID, &c.propertyID, &c.eventID,
		&c.url, &c.body, &c.nonce, &c.previousNonce, &c.previousUntil, &c.failingSince)
	if errors.Is(err, pgx.ErrNoRows) {
		return claimed{}, false, nil
	}
	if err != nil {
		return claimed{}, false, fmt.Errorf("webhooks: claim a delivery (%v): %w", arg, err)
	}
	return c, true, nil
}

// work sends c, and after each success the endpoint's next delivery if it
// is due, until one fails, none is due or ctx ends: one worker per
// endpoint, so its deliveries go one after the other, in order.
func (w *Webhooks) work(ctx context.Context, c claimed) {
	for w.attempt(ctx, c) && ctx.Err() == nil {
		next, ok, err := w.claimNext(ctx, c.endpointID, w.c.Now())
		if err != nil || !ok {
			return
		}
		c = next
	}
}

// attempt sends c once and records the outcome; it reports whether c was
// delivered and recorded so.
func (w *Webhooks) attempt(ctx context.Context, c claimed) bool {
	at := w.c.Now()
	o := w.send(ctx, c, at)
	if err := w.record(ctx, c, at, o); err != nil {
		w.c.Log.Warn().Err(err).Int64("delivery", c.id).Msg("webhooks: the outcome of a delivery was not recorded; it will be sent again")
		return false
	}
	return o.ok()
}

// send posts c's body to its endpoint, signed as Standard Webhooks says:
// webhook-id is the event's ID, so a receiver de-duplicates by it.
func (w *Webhooks) send(ctx context.Context, c claimed, at time.Time) outcome {
	u, err := url.Parse(c.url)
	if err != nil || (u.Scheme != "https" && !(w.c.AllowHTTP && u.Scheme == "http")) {
		return outcome{err: fmt.Errorf("url %q is not https://", c.url)}
	}
	keys := [][]byte{w.c.Secrets.raw(c.propertyID, c.endpointID, c.nonce)}
	if c.previousNonce != "" && c.previousUntil != nil && at.Before(*c.previousUntil) {
		keys = append(keys, w.c.Secrets.raw(c.propertyID, c.endpointID, c.previousNonce))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Roster-Webhooks/1")
	req.Header.Set("webhook-id", c.eventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	sig, err := Sign(keys, c.eventID, at, c.body)
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return outcome{err: err, duration: time.Since(start)}
	}
	// The answer's body is not read beyond a little: it means nothing here,
	// and a receiver must not make us hold a connection for long.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	o := outcome{status: resp.StatusCode, duration: time.Since(start)}
	if !o.ok() {
		o.err = fmt.Errorf("the endpoint answered %d", resp.StatusCode)
	}
	return o
}
