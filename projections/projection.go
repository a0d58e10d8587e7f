// Package projections turns the global event feed into PostgreSQL read
// models. Each projection lives in its own file with an explicit table from
// event type to reducer, owns its own tables, and writes its checkpoint in
// the same transaction as its rows, so a crash never applies an event twice
// or skips one.
package projections

import (
	"github.com/rosterhq/roster/infra/recorded"
)

// Reducer applies one event to a projection's batch: to its rows in memory
// (the projections of this package), or to its tables through b.Tx. An
// error rolls back the whole batch, checkpoint included.
type Reducer func(b *Batch, e recorded.Event) error

// Projection is a named read model: the reducer of each event type it
// handles. Events of other types are skipped but still advance its
// checkpoint. The name keys its checkpoint, so renaming it rebuilds it.
//
// The projections this package builds keep a batch's rows in memory
// (rows): their reducers change them there, and each table is read and
// written a few times per batch whatever its size (see applyDecoded). A
// caller may wrap their Reducers: the wrapped ones still get the batch.
type Projection struct {
	Name     string
	Reducers map[string]Reducer
	// Tables are every table the projection writes, and no other
	// projection does: a rebuild recreates exactly these.
	Tables []string
	// Personal are the columns of Tables that hold a person's data:
	// forgetting the person rewrites them (infra/privacy), and only them.
	Personal []PersonalColumn

	// rows starts a batch's state for the Reducers; nil for a projection
	// whose reducers write through the transaction themselves.
	rows func(b *Batch) batchRows
	// appendOnly are the Tables whose rows a rebuild writes once and never
	// changes (its COPYs): their copies are filled packed, the others
	// with room for the replay's updates (see rebuilder.prepare).
	appendOnly []string
}

// All returns every projection the service runs, in a stable order.
func All() []Projection {
	return []Projection{Properties(), Members(), Invitations(), MyInvitations(), Audit(), MyProperties(), Access(), Notifications()}
}

// PersonalColumn is a column of a projection's table that holds a person's
// email, or, beside it, the client IP and user agent of a request the person
// made (docs/ARCHITECTURE.md section 7). Forgetting the person rewrites the
// copies there with markers; a column left out would keep them, which a test
// of every text column the projections fill guards against.
type PersonalColumn struct {
	Table, Column string
	// JSONKey is the key of the email inside Column, a jsonb object; empty
	// when Column holds the email itself.
	JSONKey string
	// Claimed says the email is kept as a token claimed it, so a person's
	// copies are found trimmed and lower-cased; otherwise it is kept as the
	// domain normalizes emails, and found as it is.
	Claimed bool
	// Account names the column of the same row with the account whose key
	// sealed the value when it is not an address (a claim that is not an
	// email): forgetting the account rewrites those values.
	Account string
	// IP and UserAgent name the columns of the same row with the request's
	// client IP and user agent, sealed with the email and rewritten with it
	// (an empty one was never sealed and stays empty).
	IP, UserAgent string
	// InKey says the column is part of the table's primary key: a person's
	// rows are moved under the marker rather than updated, so rows filed
	// under two spellings of one address cannot collide.
	InKey bool
	// InID says the row's ID is derived from the email (NotificationID): a
	// person's rows take the IDs a rebuild would give them.
	InID bool
}

// Label names the column as erasure reports it: table.column, and the
// JSON key after it.
func (c PersonalColumn) Label() string {
	l := c.Table + "." + c.Column
	if c.JSONKey != "" {
		l += "." + c.JSONKey
	}
	return l
}

// withPersonal returns p declaring cols as its personal columns.
func withPersonal(cols []PersonalColumn, p Projection) Projection {
	p.Personal = cols
	return p
}
