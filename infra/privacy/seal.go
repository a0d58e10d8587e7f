package privacy

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// sealOp is one field to seal: the member at idx, under the subject keyed by key.
type sealOp struct {
	idx int
	key string
}

// Seal rewrites the personal fields of events in place, Data and Metadata,
// before they are appended. An email in a payload is sealed under its own
// subject; the metadata's actor email, client IP and user agent under the
// actor's: its normalized email, or its account ID (actor_id) when the email
// is empty or not an address. Keys of people not seen before are made, all
// in one round trip; known ones come from memory.
//
// Errors: an event whose payload or metadata is not a JSON object, a payload
// email that is not an address (the domain never writes one), personal
// metadata without an actor to key it by, and the database's. On error the
// events are left as they were. Seal is safe for concurrent use.
func (v *Vault) Seal(ctx context.Context, events []eventstore.EventData) error {
	return v.seal(events, func(keys []string) (map[string]*subject, error) { return v.subjects(ctx, keys) })
}

// seal is Seal with the subjects of the fields' keys given by subjects,
// which a Batch gives without a round trip.
func (v *Vault) seal(events []eventstore.EventData, subjects func(keys []string) (map[string]*subject, error)) error {
	type plan struct {
		data, meta []member
		dataOps    []sealOp
		metaOps    []sealOp
	}
	plans := make([]plan, len(events))
	var keys []string
	for i, e := range events {
		p := &plans[i]
		if fields := dataFields[e.Type]; fields != nil && len(e.Data) > 0 {
			ms, err := parseObject(e.Data)
			if err != nil {
				return fmt.Errorf("seal event %s: data: %w", e.ID, err)
			}
			for j, m := range ms {
				s, ok := stringValue(m.raw)
				if _, personal := fields[m.key]; !personal || !ok || s == "" {
					continue
				}
				email, err := domain.NormalizeEmail(s)
				if err != nil {
					return fmt.Errorf("seal event %s: field %s: %w", e.ID, m.key, err)
				}
				p.dataOps = append(p.dataOps, sealOp{idx: j, key: emailKey(email)})
				keys = append(keys, emailKey(email))
			}
			p.data = ms
		}
		if len(e.Metadata) == 0 {
			continue
		}
		ms, err := parseObject(e.Metadata)
		if err != nil {
			return fmt.Errorf("seal event %s: metadata: %w", e.ID, err)
		}
		var actorEmail, actorID string
		for j, m := range ms {
			s, ok := stringValue(m.raw)
			switch {
			case !ok:
			case m.key == "actor_email":
				actorEmail = s
			case m.key == "actor_id":
				actorID = s
			}
			if _, personal := metaFields[m.key]; personal && ok && s != "" {
				p.metaOps = append(p.metaOps, sealOp{idx: j})
			}
		}
		if len(p.metaOps) == 0 {
			continue
		}
		key, err := actorKey(actorEmail, actorID)
		if err != nil {
			return fmt.Errorf("seal event %s: %w", e.ID, err)
		}
		for k := range p.metaOps {
			p.metaOps[k].key = key
		}
		keys = append(keys, key)
		p.meta = ms
	}
	if len(keys) == 0 {
		return nil
	}
	subjectOf, err := subjects(keys)
	if err != nil {
		return err
	}
	// One cipher per person for the whole call, as in open: an event seals
	// its actor's email, address and user agent under one key.
	ciphers := make(map[*subject]cipher.AEAD, len(keys))
	seal := func(subj *subject, field, plain string) (string, error) {
		aead := ciphers[subj]
		if aead == nil {
			var err error
			if aead, err = subj.aead(); err != nil {
				return "", err
			}
			ciphers[subj] = aead
		}
		return sealValue(aead, subj, field, plain)
	}
	sealed := make([][2][]byte, len(events))
	for i := range events {
		p := &plans[i]
		sealed[i] = [2][]byte{events[i].Data, events[i].Metadata}
		for _, op := range p.dataOps {
			m := &p.data[op.idx]
			s, _ := stringValue(m.raw)
			v, err := seal(subjectOf[op.key], m.key, s)
			if err != nil {
				return fmt.Errorf("seal event %s: %w", events[i].ID, err)
			}
			m.raw = jsonString(v)
		}
		for _, op := range p.metaOps {
			m := &p.meta[op.idx]
			s, _ := stringValue(m.raw)
			v, err := seal(subjectOf[op.key], m.key, s)
			if err != nil {
				return fmt.Errorf("seal event %s: %w", events[i].ID, err)
			}
			m.raw = jsonString(v)
		}
		if len(p.dataOps) > 0 {
			sealed[i][0] = appendObject(make([]byte, 0, len(events[i].Data)+64*len(p.dataOps)), p.data)
		}
		if len(p.metaOps) > 0 {
			sealed[i][1] = appendObject(make([]byte, 0, len(events[i].Metadata)+64*len(p.metaOps)), p.meta)
		}
	}
	for i := range events {
		events[i].Data, events[i].Metadata = sealed[i][0], sealed[i][1]
	}
	return nil
}

func emailKey(email string) string { return "e:" + email }
func accountKey(id string) string  { return "a:" + id }

// actorKey is the subject of the metadata's personal fields: the actor's
// email when it is an address, else the actor's account, so the fields
// still belong to one person and go when that person is forgotten.
func actorKey(email, accountID string) (string, error) {
	if e, err := domain.NormalizeEmail(email); err == nil {
		return emailKey(e), nil
	}
	if accountID == "" {
		return "", fmt.Errorf("metadata holds personal fields but neither an actor email nor an actor_id to key them by")
	}
	return accountKey(accountID), nil
}

// maxLookupRounds bounds the statements one lookup makes: a key inserted by
// a concurrent Seal after this statement began is seen by the next one.
const maxLookupRounds = 3

// subjects returns the live subject of every key, from memory or from one
// statement that finds the known ones and makes the new ones.
func (v *Vault) subjects(ctx context.Context, keys []string) (map[string]*subject, error) {
	out := make(map[string]*subject, len(keys))
	var missing []string
	v.mu.RLock()
	gen := v.gen
	for _, k := range keys {
		if _, seen := out[k]; seen {
			continue
		}
		if s, ok := v.cache[k]; ok {
			out[k] = s
			continue
		}
		out[k] = nil
		missing = append(missing, k)
	}
	v.mu.RUnlock()
	if len(missing) == 0 {
		return out, nil
	}
	// Sorted, so that statements inserting keys for the same people lock
	// their rows in one order (as Batch.Keys).
	slices.Sort(missing)
	found := make(map[string]*subject, len(missing))
	for round := 0; len(missing) > 0; round++ {
		if round == maxLookupRounds {
			return nil, fmt.Errorf("privacy: no key for %d subject(s) after %d lookups", len(missing), round)
		}
		if err := v.lookup(ctx, missing, found); err != nil {
			return nil, err
		}
		still := missing[:0]
		for _, k := range missing {
			if found[k] == nil {
				still = append(still, k)
			}
		}
		missing = still
	}
	v.remember(gen, found)
	for k, s := range found {
		out[k] = s
	}
	return out, nil
}

// sqlFindOrCreate inserts a subject for each key that has no live one and
// returns the live subject of every key. The inserted rows come from the
// INSERT; the ones that existed from the SELECT, which sees the table as it
// was when the statement began. A row another transaction commits meanwhile
// conflicts with the insert and is invisible to the SELECT: that key is
// missing from the answer and the caller asks again.
const sqlFindOrCreate = `
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::bytea[]) AS i(email, account_id, subject_id, data_key)
), inserted AS (
    INSERT INTO privacy_subjects (subject_id, email, account_id, data_key)
    SELECT subject_id, NULLIF(email, ''), NULLIF(account_id, ''), data_key FROM input
    ON CONFLICT DO NOTHING
    RETURNING subject_id, email, account_id, data_key
)
SELECT subject_id, coalesce(email, ''), coalesce(account_id, ''), data_key FROM inserted
UNION ALL
SELECT subject_id, coalesce(email, ''), coalesce(account_id, ''), data_key FROM privacy_subjects
WHERE erased_at IS NULL AND (email = ANY($1::text[]) OR account_id = ANY($2::text[]))`

// lookup runs sqlFindOrCreate for keys and adds what it finds to found.
func (v *Vault) lookup(ctx context.Context, keys []string, found map[string]*subject) error {
	emails := make([]string, len(keys))
	accounts := make([]string, len(keys))
	ids := make([]uuid.UUID, len(keys))
	secrets := make([][]byte, len(keys))
	for i, k := range keys {
		if k[0] == 'e' {
			emails[i] = k[2:]
		} else {
			accounts[i] = k[2:]
		}
		ids[i] = uuid.New()
		secrets[i] = make([]byte, 32)
		if _, err := rand.Read(secrets[i]); err != nil {
			return fmt.Errorf("privacy: make a key: %w", err)
		}
	}
	rows, err := v.pool.Query(ctx, sqlFindOrCreate, emails, accounts, ids, secrets)
	if err != nil {
		return fmt.Errorf("privacy: find or create keys: %w", err)
	}
	var (
		id             uuid.UUID
		email, account string
		key            []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &email, &account, &key}, func() error {
		s, err := newSubject(id, key)
		if err != nil {
			return err
		}
		if email != "" {
			found[emailKey(email)] = s
		} else {
			found[accountKey(account)] = s
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("privacy: find or create keys: %w", err)
	}
	return nil
}

// Prepare makes sure the keys of actor (its metadata's subject) and of the
// addresses in emails exist and are in memory, so the Seal of a command's
// events, which runs while the command holds its property, finds them
// without a round trip. Addresses that are not valid are skipped: the
// command refuses them anyway.
func (v *Vault) Prepare(ctx context.Context, actor domain.Actor, emails []string) error {
	keys := make([]string, 0, len(emails)+1)
	if k, err := actorKey(actor.Email, actor.AccountID); err == nil {
		keys = append(keys, k)
	}
	for _, raw := range emails {
		if e, err := domain.NormalizeEmail(raw); err == nil {
			keys = append(keys, emailKey(e))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	_, err := v.subjects(ctx, keys)
	return err
}
