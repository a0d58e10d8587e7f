package privacy

import (
	"bytes"
	"context"
	"crypto/cipher"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/infra/eventstore"
)

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Open rewrites the personal fields of recs in place, Data and Metadata,
// after they are read: a sealed value becomes its plaintext, or its erased
// marker when its subject was forgotten; a plain value (an event written
// before sealing existed) stays as it is, as do all other fields. It asks
// the database for the keys of all of recs' subjects in one query, every
// time: a key another process has destroyed is never used from memory.
//
// Errors name the event: a sealed value that is malformed, that names a
// subject the vault does not know, or that does not decrypt (the value or
// its key was altered); and the database's. On error recs are left as they
// were. Open is safe for concurrent use.
func (v *Vault) Open(ctx context.Context, recs []eventstore.RecordedEvent) error {
	return v.open(ctx, v.pool, "", recs)
}

// OpenTx is Open inside the caller's transaction, for a projection that
// writes what it decrypts. It reads the keys FOR SHARE, so they stay locked
// until tx ends. Forget takes the same rows FOR UPDATE before it scrubs the
// read models, so it waits for tx to commit and then scrubs what tx wrote;
// a transaction that starts reading keys after Forget has them waits for
// Forget to commit and then finds them destroyed. Either way no plaintext
// decrypted with the old key lands in a read model after the scrub.
//
// Call it before writing rows in tx (after locking the projection's
// checkpoint, as the handler does): Forget locks checkpoints, then keys,
// then read-model rows, and a transaction that takes them in that order
// cannot deadlock with it.
func (v *Vault) OpenTx(ctx context.Context, tx pgx.Tx, recs []eventstore.RecordedEvent) error {
	return v.open(ctx, tx, " FOR SHARE", recs)
}

// openSite is one sealed value found in recs.
type openSite struct {
	rec  int
	meta bool
	idx  int
	kind kind
	id   uuid.UUID
	ct   []byte
}

// sealedMark is how a sealed value begins inside a JSON document.
var sealedMark = []byte(`"` + sealedPrefix)

func (v *Vault) open(ctx context.Context, q querier, lock string, recs []eventstore.RecordedEvent) error {
	data := make([][]member, len(recs))
	meta := make([][]member, len(recs))
	var sites []openSite
	find := func(i int, isMeta bool, doc []byte, fields map[string]kind) ([]member, error) {
		ms, err := parseObject(doc)
		if err != nil {
			return nil, err
		}
		for j, m := range ms {
			k, personal := fields[m.key]
			s, ok := stringValue(m.raw)
			if !personal || !ok {
				continue
			}
			id, ct, sealed, err := parseSealed(s)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", m.key, err)
			}
			if sealed {
				sites = append(sites, openSite{rec: i, meta: isMeta, idx: j, kind: k, id: id, ct: ct})
			}
		}
		return ms, nil
	}
	for i, rec := range recs {
		// Most documents hold nothing sealed (old events, types without
		// personal fields); they are not even parsed.
		if fields := dataFields[rec.Type]; fields != nil && bytes.Contains(rec.Data, sealedMark) {
			ms, err := find(i, false, rec.Data, fields)
			if err != nil {
				return fmt.Errorf("open event %s: data: %w", rec.ID, err)
			}
			data[i] = ms
		}
		if bytes.Contains(rec.Metadata, sealedMark) {
			ms, err := find(i, true, rec.Metadata, metaFields)
			if err != nil {
				return fmt.Errorf("open event %s: metadata: %w", rec.ID, err)
			}
			meta[i] = ms
		}
	}
	if len(sites) == 0 {
		return nil
	}
	keys, err := v.keys(ctx, q, lock, sites)
	if err != nil {
		return err
	}
	// One cipher per subject for the whole call: a batch names the same
	// people many times (the actor of every event, an invitee in an
	// invitation and its acceptance), and making a cipher allocates more
	// than the value it opens.
	aeads := make(map[uuid.UUID]cipher.AEAD, len(keys))
	for _, s := range sites {
		ms := data[s.rec]
		if s.meta {
			ms = meta[s.rec]
		}
		m := &ms[s.idx]
		subj, known := keys[s.id]
		if !known {
			return fmt.Errorf("open event %s: field %s is sealed for subject %s, which the vault does not know", recs[s.rec].ID, m.key, s.id)
		}
		if subj == nil {
			m.raw = jsonString(s.kind.marker(s.id))
			continue
		}
		aead := aeads[s.id]
		if aead == nil {
			if aead, err = subj.aead(); err != nil {
				return fmt.Errorf("open event %s: %w", recs[s.rec].ID, err)
			}
			aeads[s.id] = aead
		}
		plain, err := aead.Open(nil, nil, s.ct, aad(s.id, m.key))
		if err != nil {
			return fmt.Errorf("open event %s: field %s does not decrypt for subject %s: the value or the key was altered", recs[s.rec].ID, m.key, s.id)
		}
		m.raw = jsonString(string(plain))
	}
	for i := range recs {
		if data[i] != nil {
			recs[i].Data = appendObject(make([]byte, 0, len(recs[i].Data)), data[i])
		}
		if meta[i] != nil {
			recs[i].Metadata = appendObject(make([]byte, 0, len(recs[i].Metadata)), meta[i])
		}
	}
	return nil
}

// keys reads the keys of the sites' subjects in one query: a nil subject
// is an erased one; a subject missing from the map is unknown.
func (v *Vault) keys(ctx context.Context, q querier, lock string, sites []openSite) (map[uuid.UUID]*subject, error) {
	seen := make(map[uuid.UUID]bool, 4)
	ids := make([]uuid.UUID, 0, 4)
	for _, s := range sites {
		if !seen[s.id] {
			seen[s.id] = true
			ids = append(ids, s.id)
		}
	}
	// Ordered, so that concurrent lockers take the rows in the same order.
	rows, err := q.Query(ctx, `SELECT subject_id, data_key FROM privacy_subjects
		WHERE subject_id = ANY($1::uuid[]) ORDER BY subject_id`+lock, ids)
	if err != nil {
		return nil, fmt.Errorf("privacy: read keys: %w", err)
	}
	out := make(map[uuid.UUID]*subject, len(ids))
	var (
		id  uuid.UUID
		key []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &key}, func() error {
		if key == nil {
			out[id] = nil
			return nil
		}
		s, err := newSubject(id, key)
		out[id] = s
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("privacy: read keys: %w", err)
	}
	return out, nil
}
