package privacy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/infra/emailaddr"
)

// NotifyChannel is the PostgreSQL channel Forget notifies and Watch listens
// on. The payload lists the erased subject IDs; nothing personal.
const NotifyChannel = "roster_privacy_forget"

// Forgotten says what Forget did.
type Forgotten struct {
	// Email is the address forgotten, normalized.
	Email string `json:"email"`
	// Erased is true when a live key was destroyed by this call: the
	// email's, or that of an account the read models tie to it. False means
	// there was none: the email was never sealed, or was forgotten before.
	Erased bool `json:"erased"`
	// Marker is the erased address that now stands for Email in the read
	// models and in what Open gives; empty when nothing stood for it.
	Marker string `json:"marker,omitempty"`
	// Subjects are the IDs of the subjects erased by this call.
	Subjects []string `json:"subjects"`
	// Scrubbed counts the read-model rows rewritten, by "table.column"
	// (prefixed by the schema for the copies of a rebuild in progress).
	Scrubbed map[string]int64 `json:"scrubbed"`
}

// maxForgetAttempts bounds how often Forget starts over after PostgreSQL
// broke a deadlock or a serialization failure by aborting it.
const maxForgetAttempts = 4

// Forget destroys the key of the person with this email, and the keys of
// the accounts the read models tie to that email (an actor whose token
// carried no usable email had its metadata sealed under its account), then
// rewrites every plaintext copy of that person's data in the read models
// with the markers Open now gives, so a rebuild yields the same rows. It all
// happens in one transaction, which ends by notifying NotifyChannel so every
// process's Watch drops what it has cached.
//
// Forgetting an email that has no key (never sealed, or forgotten before)
// is no error: Forgotten says so, and plaintext copies written before
// sealing existed are still scrubbed, under a new erased subject.
//
// Errors: an *domain.Error with KindInvalid and CodeInvalidEmail for an
// email that is not an address; the database's. Forget is safe for
// concurrent use.
func (v *Vault) Forget(ctx context.Context, email string) (Forgotten, error) {
	norm, err := emailaddr.Normalize(email)
	if err != nil {
		return Forgotten{}, err
	}
	for attempt := 1; ; attempt++ {
		f, err := v.forget(ctx, norm)
		var pgErr *pgconn.PgError
		if err != nil && attempt < maxForgetAttempts && errors.As(err, &pgErr) &&
			(pgErr.Code == "40P01" || pgErr.Code == "40001") {
			continue
		}
		if err != nil {
			return Forgotten{}, fmt.Errorf("forget %s: %w", norm, err)
		}
		// This process hears its own notification too; flushing now
		// spares the wait.
		v.flush()
		return f, nil
	}
}

func (v *Vault) forget(ctx context.Context, email string) (Forgotten, error) {
	f := Forgotten{Email: email, Subjects: []string{}, Scrubbed: map[string]int64{}}
	tx, err := v.pool.Begin(ctx)
	if err != nil {
		return f, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	// Projections copy plaintext from one read-model row to another (the
	// audit takes a member's email from its own contacts table), which no
	// key lock covers. Holding every projection's checkpoint row waits for
	// the batches in flight to commit, so the scrub below sees their rows,
	// and holds back new ones until the scrub has committed. Projections
	// lock their checkpoint first too, so the order is the same everywhere.
	if _, err := tx.Exec(ctx, `SELECT name FROM projection_checkpoints ORDER BY name FOR UPDATE`); err != nil {
		return f, fmt.Errorf("lock the projections' checkpoints: %w", err)
	}
	accounts, err := linkedAccounts(ctx, tx, email)
	if err != nil {
		return f, err
	}
	// FOR UPDATE waits for every OpenTx that read these keys to end.
	rows, err := tx.Query(ctx, `SELECT subject_id, coalesce(email, ''), coalesce(account_id, '') FROM privacy_subjects
		WHERE erased_at IS NULL AND (email = $1 OR account_id = ANY($2::text[]))
		ORDER BY subject_id FOR UPDATE`, email, accounts)
	if err != nil {
		return f, fmt.Errorf("lock the keys: %w", err)
	}
	type live struct {
		id      uuid.UUID
		account string
	}
	var (
		erased  []uuid.UUID
		ofEmail *uuid.UUID
		ofAccts []live
		id      uuid.UUID
		e, a    string
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &e, &a}, func() error {
		erased = append(erased, id)
		if e != "" {
			own := id
			ofEmail = &own
		} else {
			ofAccts = append(ofAccts, live{id: id, account: a})
		}
		return nil
	}); err != nil {
		return f, fmt.Errorf("lock the keys: %w", err)
	}
	if len(erased) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE privacy_subjects
			SET data_key = NULL, email = NULL, account_id = NULL, erased_at = now()
			WHERE subject_id = ANY($1::uuid[])`, erased); err != nil {
			return f, fmt.Errorf("destroy the keys: %w", err)
		}
		f.Erased = true
	}

	schemas, err := scrubSchemas(ctx, tx)
	if err != nil {
		return f, err
	}
	markerID := uuid.New()
	if ofEmail != nil {
		markerID = *ofEmail
	}
	marker := ErasedEmail(markerID)
	scrubbedEmail := int64(0)
	for _, s := range schemas {
		n, err := s.scrubEmail(ctx, tx, email, marker, f.Scrubbed)
		if err != nil {
			return f, err
		}
		scrubbedEmail += n
	}
	for _, acct := range ofAccts {
		for _, s := range schemas {
			if err := s.scrubAccount(ctx, tx, acct.account, ErasedEmail(acct.id), f.Scrubbed); err != nil {
				return f, err
			}
		}
	}
	if err := dropSnapshots(ctx, tx, email, accounts, f.Scrubbed); err != nil {
		return f, err
	}
	switch {
	case ofEmail != nil:
		f.Marker = marker
	case scrubbedEmail > 0:
		// Plaintext copies of an email that has no key: events written
		// before sealing existed. They are scrubbed all the same, under a
		// subject recorded as erased so that the marker is accounted for.
		if _, err := tx.Exec(ctx, `INSERT INTO privacy_subjects (subject_id, erased_at) VALUES ($1, now())`, markerID); err != nil {
			return f, fmt.Errorf("record the erased subject: %w", err)
		}
		erased = append(erased, markerID)
		f.Marker = marker
	}
	for _, id := range erased {
		f.Subjects = append(f.Subjects, id.String())
	}
	if len(erased) > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, strings.Join(f.Subjects, ",")); err != nil {
			return f, fmt.Errorf("notify: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return f, err
	}
	return f, nil
}

// linkedAccounts are the accounts the read models know under email: as a
// member, as an actor, as the member an audit row is about.
func linkedAccounts(ctx context.Context, tx pgx.Tx, email string) ([]string, error) {
	rows, err := tx.Query(ctx, `
		SELECT account_id FROM rm_members WHERE email = $1
		UNION SELECT actor_id FROM rm_audit WHERE actor_email = $1 AND actor_id <> ''
		UNION SELECT subject_id FROM rm_audit WHERE subject_kind = 'member' AND subject_email = $1`, email)
	if err != nil {
		return nil, fmt.Errorf("find the accounts of the email: %w", err)
	}
	accounts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find the accounts of the email: %w", err)
	}
	return accounts, nil
}
