// Package readmodels answers the queries of the HTTP API from the tables the
// projections write. Store reads PostgreSQL only, never the event store: what
// it shows is as fresh as the projections' checkpoints, and WaitFor lets a
// caller wait for its own change to arrive.
//
// History answers about the past, which no table keeps, by folding a
// property's events. It starts from a snapshot of that same fold, kept in
// PostgreSQL every few hundred events (history_snapshots), rather than from
// history tables with validity intervals: a snapshot is the fold's own
// state, so an answer from one is the full fold's by construction, and as a
// cache of the events it can be deleted at any time, which forgetting a
// person does (docs/ARCHITECTURE.md, section 8).
package readmodels

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/projections"
)

// pollInterval is how often WaitFor reads the checkpoints.
const pollInterval = 5 * time.Millisecond

// Store reads the read models. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// names are the projections WaitFor and Position wait on.
	names []string
	// now is the clock answers that depend on the moment read (whose
	// access has ended); time.Now unless WithClock set another.
	now func() time.Time
}

// WithClock returns a Store like s whose answers take the moment from now.
func (s *Store) WithClock(now func() time.Time) *Store {
	c := *s
	c.now = now
	return &c
}

// clock is the moment an answer is given at.
func (s *Store) clock() time.Time {
	if s.now == nil {
		return time.Now().UTC()
	}
	return s.now().UTC()
}

// New returns a Store reading the database behind pool.
func New(pool *pgxpool.Pool) *Store {
	var names []string
	for _, p := range projections.All() {
		names = append(names, p.Name)
	}
	return &Store{pool: pool, names: names}
}

// invalid is the error for a bad filter value, naming the field and value.
func invalid(field, value, why string) error {
	return &domain.Error{
		Kind:    domain.KindInvalid,
		Code:    domain.CodeInvalidRequest,
		Message: fmt.Sprintf("%s %q %s", field, value, why),
		Problems: []domain.Problem{{Index: -1, Field: field, Value: value,
			Code: domain.CodeInvalidRequest, Message: why}},
	}
}

// utc gives times read from PostgreSQL one location, so that answers compare
// and print alike whatever the session's time zone.
func utc(ts ...*time.Time) {
	for _, t := range ts {
		*t = t.UTC()
	}
}

// isNoRows reports whether err says a single-row query found nothing.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
