package limits

import (
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
)

// The defaults of the invitation limits when InviteLimits leaves them zero.
const (
	DefaultInvitationsPerActorHour   = 100
	DefaultInvitationsPerPropertyDay = 1000
	DefaultNewEmailsPerPropertyDay   = 500
)

// InviteLimits are the limits on invitations, shared by every instance.
type InviteLimits struct {
	// PerActorHour is how many invitations one account may send in a
	// clock hour, on all properties together. Zero takes the default, as
	// for the others.
	PerActorHour int
	// PerPropertyDay is how many invitations a property may send in a UTC
	// day, unless an operator set another (SetOverride).
	PerPropertyDay int
	// NewEmailsPerPropertyDay is how many distinct addresses a property
	// may invite in a UTC day, unless an operator set another.
	NewEmailsPerPropertyDay int
}

// withDefaults is l with a default for every limit left zero.
func (l InviteLimits) withDefaults() InviteLimits {
	return InviteLimits{
		PerActorHour:            cmp.Or(l.PerActorHour, DefaultInvitationsPerActorHour),
		PerPropertyDay:          cmp.Or(l.PerPropertyDay, DefaultInvitationsPerPropertyDay),
		NewEmailsPerPropertyDay: cmp.Or(l.NewEmailsPerPropertyDay, DefaultNewEmailsPerPropertyDay),
	}
}

// StoreConfig is what a Store is built from.
type StoreConfig struct {
	Pool   *pgxpool.Pool
	Limits InviteLimits
	// Now is the clock that decides the windows; time.Now when nil. The
	// instances' clocks must agree to within seconds, or a window starts
	// a little earlier on one than on another.
	Now     func() time.Time
	Metrics *Metrics
}

// Store keeps the invitation limits' counters in PostgreSQL, so every
// instance takes from one count.
type Store struct {
	pool    *pgxpool.Pool
	limits  InviteLimits
	now     func() time.Time
	metrics *Metrics
	// pruned is when this instance last deleted windows gone by (Unix seconds).
	pruned atomic.Int64
}

// NewStore returns the store of c.
func NewStore(c StoreConfig) *Store {
	c.Limits = c.Limits.withDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Store{pool: c.Pool, limits: c.Limits, now: c.Now, metrics: c.Metrics}
}

// Limits are the configured defaults.
func (s *Store) Limits() InviteLimits { return s.limits }

// taken is what one reservation added to one counter.
type taken struct {
	name   Name
	key    string
	window time.Time
	n      int
}

// Reservation is the quota an invitation took. Release gives it back when
// the invitation was not made after all.
type Reservation struct {
	s         *Store
	commandID string
	taken     []taken
	property  string
	day       time.Time
	hashes    [][]byte
}

// ReserveInvitations takes the quota of inviting emails to the property,
// for the actor, before anything is written: one invitation per row, and
// one new email per address the property has not invited today. Past any
// limit it takes nothing and returns a *Refusal naming the first limit it
// would pass; a bulk invite is counted row by row and refused whole.
//
// commandID, when not empty, is the ID of a command sent with an
// Idempotency-Key (commands.CommandID): a command already counted under it
// is not counted again, so its retry reaches the executor, which answers
// it as the first time.
func (s *Store) ReserveInvitations(ctx context.Context, commandID, propertyID, actorID string, emails []string) (*Reservation, error) {
	now := s.now().UTC()
	hour := now.Truncate(time.Hour)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	res := &Reservation{s: s, commandID: commandID, property: propertyID, day: day}
	hashes := emailHashes(propertyID, emails)
	n := len(emails)
	var (
		counted          bool
		refused          *string
		used, lim, asked *int
		fresh            [][]byte
	)
	// One call, so the account's counter row is locked only for the call
	// (migrations/0031_limit_reserve_function.sql).
	err := s.pool.QueryRow(ctx, `SELECT counted, refused, used, lim, asked, fresh FROM limit_reserve_invitations(
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		commandID, propertyID, actorID, hour, day, n, s.limits.PerActorHour, s.limits.PerPropertyDay,
		s.limits.NewEmailsPerPropertyDay, hashes, now).Scan(&counted, &refused, &used, &lim, &asked, &fresh)
	if err != nil {
		return nil, fmt.Errorf("reserve invitations: %w", err)
	}
	if !counted {
		res.commandID = "" // counted by its first attempt, which keeps it
		return res, nil
	}
	if refused != nil {
		if used == nil || lim == nil || asked == nil {
			return nil, fmt.Errorf("reserve invitations: refused by %s without its count", *refused)
		}
		ref := refusalOf(Name(*refused), *used, *asked, *lim, hour, day, now)
		s.metrics.refused(ref.Limit)
		return nil, ref
	}
	res.taken = []taken{{InvitationsPerActor, actorID, hour, n}, {InvitationsPerProperty, propertyID, day, n}}
	if len(fresh) > 0 {
		res.taken = append(res.taken, taken{NewEmailsPerProperty, propertyID, day, len(fresh)})
		res.hashes = fresh
	}
	s.maybePrune(ctx, now)
	return res, nil
}

// refusalOf is the refusal of the limit name, which had counted used in
// its window (the hour or the UTC day that starts at hour or day) when n
// more would have passed limit.
func refusalOf(name Name, used, n, limit int, hour, day, now time.Time) *Refusal {
	window, length := day, 24*time.Hour
	var msg string
	switch name {
	case InvitationsPerActor:
		window, length = hour, time.Hour
		msg = fmt.Sprintf("you sent %d invitations this hour; %d more would pass the limit of %d an hour per account", used, n, limit)
	case InvitationsPerProperty:
		msg = fmt.Sprintf("this property sent %d invitations today (UTC); %d more would pass its limit of %d a day", used, n, limit)
	default:
		msg = fmt.Sprintf("this property invited %d new addresses today (UTC); %d more would pass its limit of %d a day", used, n, limit)
	}
	return refusal(name, limit, length, limit-used, window.Add(length).Sub(now), msg)
}

// Release gives the reservation's quota back: the invitation was refused
// after all (a bad row, a caller without the right, a repeated
// Idempotency-Key), so it sent nothing. A request between the reservation
// and its release may have been refused for the quota it held, which errs
// on the strict side.
func (r *Reservation) Release(ctx context.Context) error {
	if r == nil || (len(r.taken) == 0 && r.commandID == "") {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	return pgx.BeginFunc(ctx, r.s.pool, func(tx pgx.Tx) error {
		if r.commandID != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM limit_reservations WHERE command_id = $1`, r.commandID); err != nil {
				return fmt.Errorf("release the command's reservation: %w", err)
			}
		}
		for _, t := range r.taken {
			if _, err := tx.Exec(ctx, `UPDATE limit_counters SET count = greatest(count - $4, 0)
				WHERE name = $1 AND key = $2 AND window_start = $3`, string(t.name), t.key, t.window, t.n); err != nil {
				return fmt.Errorf("release limit %s: %w", t.name, err)
			}
		}
		if len(r.hashes) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM limit_new_emails WHERE property_id = $1 AND day = $2 AND email_hash = ANY($3)`,
				r.property, r.day, r.hashes); err != nil {
				return fmt.Errorf("release new emails: %w", err)
			}
		}
		return nil
	})
}

// maybePrune deletes, at most once an hour per instance, the windows that
// can count no more: counters of before yesterday and the hashed emails of
// days gone by. A failure is left for the next time.
func (s *Store) maybePrune(ctx context.Context, now time.Time) {
	last := s.pruned.Load()
	if now.Unix()-last < 3600 || !s.pruned.CompareAndSwap(last, now.Unix()) {
		return
	}
	_ = s.Prune(ctx, now)
}

// Prune deletes the counters, hashed emails and commands' reservations of
// windows that ended before the day before now.
func (s *Store) Prune(ctx context.Context, now time.Time) error {
	day := now.UTC().Truncate(24 * time.Hour)
	if _, err := s.pool.Exec(ctx, `DELETE FROM limit_counters WHERE window_start < $1`, day.Add(-24*time.Hour)); err != nil {
		return fmt.Errorf("prune limit counters: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM limit_new_emails WHERE day < $1`, day); err != nil {
		return fmt.Errorf("prune new emails: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM limit_reservations WHERE reserved_at < $1`, day.Add(-24*time.Hour)); err != nil {
		return fmt.Errorf("prune reservations: %w", err)
	}
	return nil
}

// emailHashes are the distinct emails' hashes under the property, in
// order: the normal form of domain.NormalizeEmail, so two spellings of one
// inbox count once; a value that is no email (the command refuses it, and
// the reservation is released) is hashed as given. Hashing under the
// property keeps the table from telling which properties invited one
// person.
func emailHashes(propertyID string, emails []string) [][]byte {
	var out [][]byte
	for _, e := range emails {
		norm, err := domain.NormalizeEmail(e)
		if err != nil {
			norm = strings.TrimSpace(e)
		}
		h := sha256.Sum256([]byte(propertyID + "\x00" + norm))
		out = append(out, h[:])
	}
	slices.SortFunc(out, func(a, b []byte) int { return strings.Compare(string(a), string(b)) })
	return slices.CompactFunc(out, func(a, b []byte) bool { return string(a) == string(b) })
}
