// Package projections turns the global event feed into PostgreSQL read
// models. Each projection lives in its own file with an explicit table from
// event type to reducer, owns its own tables, and writes its checkpoint in
// the same transaction as its rows, so a crash never applies an event twice
// or skips one.
package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/recorded"
)

// Reducer applies one event to a projection's tables inside the batch's
// transaction. An error rolls back the whole batch, checkpoint included.
type Reducer func(ctx context.Context, tx pgx.Tx, e recorded.Event) error

// Projection is a named read model: the reducer of each event type it
// handles. Events of other types are skipped but still advance its
// checkpoint. The name keys its checkpoint, so renaming it rebuilds it.
//
// The projections this package builds apply a batch set-wise, reading and
// writing each table a few times per batch whatever its size; their
// Reducers apply one event the same way. A Projection made of Reducers of
// its own, or whose Reducers map was replaced (to wrap them), applies a
// batch one reducer call after another, in feed order.
type Projection struct {
	Name     string
	Reducers map[string]Reducer
	// Tables are every table the projection writes, and no other
	// projection does: a rebuild recreates exactly these.
	Tables []string

	// set is the set-wise form of the projections this package builds,
	// which applies a batch in a few statements per table; see folded.
	set fold
}

// All returns every projection the service runs, in a stable order.
func All() []Projection {
	return []Projection{Properties(), Members(), Invitations(), MyInvitations(), Audit(), MyProperties(), Access(), Notifications()}
}
