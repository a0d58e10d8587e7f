package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster/infra/eventstore"
)

// FeedHead is what an event store may add to the feed for operators: where
// the feed ends now, and how many events lie after a position. The postgres
// and memory adapters have it; Status and Rebuild do without it when the
// store has not.
type FeedHead interface {
	// Head returns the position of the last event a reader can be given
	// now, or eventstore.Start for an empty feed.
	Head(ctx context.Context) (eventstore.Position, error)
	// CountAfter returns how many events a reader can be given after after.
	CountAfter(ctx context.Context, after eventstore.Position) (int64, error)
}

// Status is where one projection stands against the feed.
type Status struct {
	Name string
	// Checkpoint is the last event the projection applied (or skipped);
	// eventstore.Start when it has never run.
	Checkpoint eventstore.Position
	// UpdatedAt is when the checkpoint was last written; zero when never.
	UpdatedAt time.Time
	// Head is the last event of the feed, meaningful when HeadKnown.
	Head      eventstore.Position
	HeadKnown bool
	// Behind is how many events come after Checkpoint, or -1 when the
	// store cannot tell.
	Behind int64
	// Stopped is where and why the projection stopped (see StopOnPoison),
	// nil while it runs.
	Stopped *Failure
}

// Statuses returns the status of each of ps, in their order. head may be
// nil: Head and Behind are then unknown. The head is read once, before the
// counts, so a projection that passes it while Statuses runs shows as
// caught up. It returns the first database or feed error. It is safe for
// concurrent use.
func Statuses(ctx context.Context, pool *pgxpool.Pool, head FeedHead, ps ...Projection) ([]Status, error) {
	type stored struct {
		at      eventstore.Position
		updated time.Time
	}
	rows, err := pool.Query(ctx, `SELECT name, commit_position, prepare_position, updated_at FROM projection_checkpoints`)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	cps := map[string]stored{}
	var (
		name    string
		c, p    int64
		updated time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&name, &c, &p, &updated}, func() error {
		cps[name] = stored{at: fromDB(c, p), updated: updated.UTC()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}

	stopped, err := Stopped(ctx, pool)
	if err != nil {
		return nil, err
	}
	var end eventstore.Position
	if head != nil {
		if end, err = head.Head(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]Status, 0, len(ps))
	for _, pr := range ps {
		cp := cps[pr.Name] // missing: never ran, at Start
		st := Status{Name: pr.Name, Checkpoint: cp.at, UpdatedAt: cp.updated, Head: end, HeadKnown: head != nil, Behind: -1}
		if f, ok := stopped[pr.Name]; ok {
			st.Stopped = &f
		}
		switch {
		case head == nil:
		case !cp.at.Less(end):
			st.Behind = 0
		default:
			if st.Behind, err = head.CountAfter(ctx, cp.at); err != nil {
				return nil, err
			}
		}
		out = append(out, st)
	}
	return out, nil
}
