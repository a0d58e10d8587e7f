package webhooks

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// record writes the outcome o of attempt c started at: delivered, due again
// after the backoff, or, once the endpoint has failed in a row for the
// retry horizon, failed for good with the endpoint disabled. The attempt's
// lease fences it: an attempt overtaken by another process writes nothing.
func (w *Webhooks) record(ctx context.Context, c claimed, at time.Time, o outcome) error {
	tx, err := w.c.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("webhooks: record delivery %d: %w", c.id, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// An outcome lost to a database crash is an attempt made again:
	// deliveries are at least once, and the receiver de-duplicates by
	// webhook-id. So the outcome does not wait for the disk.
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit TO off`); err != nil {
		return fmt.Errorf("webhooks: record delivery %d: %w", c.id, err)
	}
	var code *int
	if o.status != 0 {
		code = &o.status
	}
	var why *string
	if o.err != nil {
		s := truncate(o.err.Error(), 1000)
		why = &s
	}
	ms := int(o.duration.Milliseconds())
	var (
		status    = "delivered"
		next      = at
		disable   bool
		delivered *time.Time
	)
	if o.ok() {
		delivered = &at
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE endpoint_id = $1`, c.endpointID); err != nil {
			return fmt.Errorf("webhooks: record delivery %d: %w", c.id, err)
		}
	} else {
		since := at
		if c.failingSince != nil {
			since = *c.failingSince
		}
		giveUp := since.Add(w.c.RetryHorizon)
		if !at.Before(giveUp) {
			status, disable = "failed", true
		} else {
			status, next = "pending", at.Add(w.backoff(c.attempt))
			// The last attempt is at the horizon, not a backoff past it.
			if next.After(giveUp) {
				next = giveUp
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $2), enabled = enabled AND NOT $3
WHERE endpoint_id = $1`, c.endpointID, since, disable); err != nil {
			return fmt.Errorf("webhooks: record delivery %d: %w", c.id, err)
		}
	}
	tag, err := tx.Exec(ctx, `
UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, claimed_until = NULL, lease_id = NULL,
    last_status_code = $5, last_error = $6, last_duration_ms = $7, delivered_at = $8
WHERE id = $1 AND lease_id = $2`, c.id, c.lease, status, next, code, why, ms, delivered)
	if err != nil {
		return fmt.Errorf("webhooks: record delivery %d: %w", c.id, err)
	}
	if tag.RowsAffected() == 0 {
		return nil // overtaken: its claim ran out and another attempt holds it
	}
	if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, c.id, c.attempt, at, code, why, ms); err != nil {
		return fmt.Errorf("webhooks: record delivery %d: %w", c.id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("webhooks: record delivery %d: %w", c.id, err)
	}
	if !o.ok() {
		w.c.Log.Info().Err(o.err).Str("endpoint_id", c.endpointID).Int64("delivery", c.id).Int("attempt", c.attempt).
			Str("status", status).Time("next_attempt_at", next).Msg("webhook delivery failed")
	}
	if disable {
		w.c.Log.Warn().Str("property_id", c.propertyID).Str("endpoint_id", c.endpointID).
			Dur("failing_for", w.c.RetryHorizon).Msg("webhook endpoint disabled: its deliveries failed for the whole retry horizon")
		// The endpoint is stopped here already; a disabling that fails to
		// reach its stream leaves it listed as enabled, until an admin
		// disables and enables it again.
		if w.c.Disable != nil {
			if err := w.c.Disable(c.propertyID, c.endpointID); err != nil {
				w.c.Log.Error().Err(err).Str("property_id", c.propertyID).Str("endpoint_id", c.endpointID).
					Msg("webhooks: the failing endpoint is stopped, but its disabling could not be recorded in the property")
			}
		}
	}
	return nil
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
