package projections

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/recorded"
)

// perProperty is a table of one text value per property, inside a batch:
// who owns it (rm_members_owners, rm_access_owners) or its name
// (rm_my_invitations_properties, rm_notifications_properties), as one
// projection last saw it. Each projection keeps its own, so it reads no
// other projection's tables and can be rebuilt alone.
type perProperty struct {
	b *Batch
	// rows maps a property to its value, nil when the table has none, and
	// a property missing was not read; changed holds those to write back.
	rows    map[string]*string
	changed map[string]bool
	// loadSQL reads the rows of an array of properties; upsertSQL writes
	// arrays of properties and values.
	loadSQL, upsertSQL string
}

func newPerProperty(b *Batch, loadSQL, upsertSQL string) *perProperty {
	return &perProperty{b: b, rows: map[string]*string{}, changed: map[string]bool{}, loadSQL: loadSQL, upsertSQL: upsertSQL}
}

// ask appends pid to pids, for the batch's load, unless it is known.
func (t *perProperty) ask(pids []string, pid string) []string {
	if _, ok := t.rows[pid]; ok {
		return pids
	}
	t.rows[pid] = nil
	return append(pids, pid)
}

func (t *perProperty) scan(rows pgx.Rows) error {
	var pid, value string
	_, err := pgx.ForEachRow(rows, []any{&pid, &value}, func() error {
		v := value
		t.rows[pid] = &v
		return nil
	})
	return err
}

// get returns the property's value and whether the table has one.
func (t *perProperty) get(pid string) (string, bool) {
	if _, ok := t.rows[pid]; !ok {
		t.rows[pid] = nil
		t.b.query("a row of "+pid, t.loadSQL, t.scan, []string{pid})
	}
	if v := t.rows[pid]; v != nil {
		return *v, true
	}
	return "", false
}

func (t *perProperty) put(pid, value string) { t.rows[pid], t.changed[pid] = &value, true }

func (t *perProperty) flush(b *pgx.Batch) {
	if len(t.changed) == 0 {
		return
	}
	var pids, values []string
	for pid := range t.changed {
		pids, values = append(pids, pid), append(values, *t.rows[pid])
	}
	b.Queue(t.upsertSQL, pids, values)
}

// setOwner records ownerID as the property's owner in owners and moves
// the owner flag, through flag, off the previous owner's row and onto the
// new owner's. Every row's flag was set from owners (when it joined, or by
// the last change of owner), so only those two rows can hold the wrong
// one: this is the UPDATE of every row of the property whose flag is
// wrong, without reading them all.
func setOwner(owners *perProperty, e recorded.Event, ownerID string, flag func(accountID string, isOwner bool, at time.Time)) {
	was, had := owners.get(e.PropertyID)
	owners.put(e.PropertyID, ownerID)
	if had && was == ownerID {
		return
	}
	at := dbTime(e.At())
	if had {
		flag(was, false, at)
	}
	flag(ownerID, true, at)
}
