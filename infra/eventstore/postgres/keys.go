package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Key is a person's data key as privacy_subjects (migration 0007) keeps
// it: exactly one of Email and AccountID is set, and Data is 32 bytes. The
// vault (infra/privacy) makes them; AppendWithKeys stores them.
type Key struct {
	Subject   uuid.UUID
	Email     string
	AccountID string
	Data      []byte
}

// KeysTakenError is AppendWithKeys' answer when some of the keys' people
// have a live key already: nothing was stored, and Live holds the live keys
// of the people the keys were for (fewer than asked when one was erased
// meanwhile). Events sealed under the refused keys must be sealed again
// under Live before they are appended.
type KeysTakenError struct {
	Stream string
	Live   []Key
}

func (e *KeysTakenError) Error() string {
	return fmt.Sprintf("stream %s: %d of the append's people have keys already", e.Stream, len(e.Live))
}

// AppendWithKeys is Append that also stores keys, the people's keys made
// for these events, in the append's own transaction (roster_append with keys,
// migrations/0033_append_with_keys.sql): a new person costs no statement
// of its own, and no stored event names a key that was not stored. It
// answers as Append does, and a *KeysTakenError when a key's person has a
// live key already; with no keys it is Append.
func (s *Store) AppendWithKeys(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData, keys []Key) (eventstore.AppendResult, error) {
	return s.append(ctx, stream, expected, events, keys)
}

func (s *Store) append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData, keys []Key) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	for _, k := range keys {
		if (k.Email == "") == (k.AccountID == "") || len(k.Data) != 32 {
			return eventstore.AppendResult{}, fmt.Errorf("append to stream %s: key %s: %w: want one of email and account, and 32 bytes",
				stream, k.Subject, eventstore.ErrInvalidAppend)
		}
	}
	want, ok := wantRevision(expected)
	if !ok {
		return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: -1}
	}
	ids, types, data, metadata := appendArgs(events)
	// Keys go as text, as the event IDs do: pgx's simple protocol, which
	// poolers in transaction mode require, sends no uuid or bytea arrays.
	keyIDs := make([]string, len(keys))
	emails := make([]string, len(keys))
	accounts := make([]string, len(keys))
	secrets := make([]string, len(keys))
	for i, k := range keys {
		keyIDs[i], emails[i], accounts[i], secrets[i] = k.Subject.String(), k.Email, k.AccountID, hex.EncodeToString(k.Data)
	}
	rows, err := s.pool.Query(ctx, `SELECT outcome, last_revision, tx, last_seq, key_id, key_email, key_account, key_data
		FROM roster_append($1, $2, $3::text[]::uuid[], $4::text[], $5::text[], $6::text[], $7::text[]::uuid[], $8::text[], $9::text[], $10::text[])`,
		stream, want, ids, types, data, metadata, keyIDs, emails, accounts, secrets)
	if err != nil {
		return eventstore.AppendResult{}, appendError(stream, err)
	}
	var (
		outcome       string
		revision, seq *int64
		commit        *uint64
		keyID         *uuid.UUID
		email, acct   *string
		secret        []byte
		live          []Key
		answered      bool
	)
	_, err = pgx.ForEachRow(rows, []any{&outcome, &revision, &commit, &seq, &keyID, &email, &acct, &secret}, func() error {
		answered = true
		if outcome == "keys" && keyID != nil && email != nil && acct != nil {
			live = append(live, Key{Subject: *keyID, Email: *email, AccountID: *acct, Data: append([]byte(nil), secret...)})
		}
		return nil
	})
	if err != nil {
		return eventstore.AppendResult{}, appendError(stream, err)
	}
	if !answered {
		// Only the 'keys' answer can be empty: every live key it found
		// was erased before it looked.
		outcome = "keys"
	}
	switch outcome {
	case "keys":
		return eventstore.AppendResult{}, &KeysTakenError{Stream: stream, Live: live}
	case "appended", "repeat":
		s.announce()
		return eventstore.AppendResult{Revision: uint64(*revision),
			Position: eventstore.Position{Commit: *commit, Prepare: uint64(*seq)}}, nil
	case "conflict":
		return eventstore.AppendResult{}, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: *revision}
	case "duplicate":
		return eventstore.AppendResult{}, fmt.Errorf("stream %s: %w", stream, eventstore.ErrDuplicateEvent)
	}
	return eventstore.AppendResult{}, fmt.Errorf("append to stream %s: roster_append answered %q", stream, outcome)
}

// notifyTimeout bounds one NOTIFY of announce's.
const notifyTimeout = 5 * time.Second

// announce signals the feed's subscribers, this process's and every other
// one's, that an append committed, by a NOTIFY on notifyChannel. The NOTIFYs go one at a time from a goroutine, each
// standing for every append announced while the one before was under way,
// in a transaction of their own that does not wait for its flush (it
// changes nothing but the signal, and the appends it announces are
// flushed already). A NOTIFY lost with the process leaves the other
// processes to their subscriptions' polling, as a lost connection does.
func (s *Store) announce() {
	s.pending.Store(true)
	if s.notifying.CompareAndSwap(false, true) {
		go s.notifyLoop()
	}
}

func (s *Store) notifyLoop() {
	for {
		for s.pending.Swap(false) {
			ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
			_, _ = s.pool.Exec(ctx, `SELECT set_config('synchronous_commit', 'off', true), pg_notify('`+notifyChannel+`', '')`)
			cancel()
		}
		s.notifying.Store(false)
		// An announce between the last Swap and the Store left the NOTIFY
		// to this loop: take it back unless another loop has started.
		if !s.pending.Load() || !s.notifying.CompareAndSwap(false, true) {
			return
		}
	}
}

// wantRevision is expected as roster_append takes it: -2 for any, -1 for
// no stream, else the exact last revision; false when no stored revision
// can match.
func wantRevision(expected eventstore.ExpectedRevision) (int64, bool) {
	if rev, exact := expected.Revision(); exact {
		if rev > math.MaxInt64 {
			return 0, false
		}
		return int64(rev), true
	}
	if expected.IsNoStream() {
		return -1, true
	}
	return -2, true
}

// appendArgs lays events out as roster_append's arrays.
func appendArgs(events []eventstore.EventData) (ids, types, data []string, metadata []*string) {
	ids = make([]string, len(events))
	types = make([]string, len(events))
	data = make([]string, len(events))
	metadata = make([]*string, len(events))
	for i, e := range events {
		ids[i], types[i], data[i] = e.ID, e.Type, string(e.Data)
		if len(e.Metadata) > 0 {
			m := string(e.Metadata)
			metadata[i] = &m
		}
	}
	return ids, types, data, metadata
}

// appendError is an append's failure as the caller gets it.
func appendError(stream string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.ConstraintName == eventIDConstraint {
		return fmt.Errorf("stream %s: %w", stream, eventstore.ErrDuplicateEvent)
	}
	return fmt.Errorf("append to stream %s: %w", stream, err)
}
