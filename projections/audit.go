package projections

import (
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// AuditName names the audit projection and its checkpoint.
const AuditName = "audit"

// The kinds of subject an audit row names.
const (
	SubjectMember     = "member"
	SubjectInvitation = "invitation"
	SubjectProperty   = "property"
)

// Audit returns the projection behind rm_audit: one row per event of a
// property, with when it happened, the actor (and whether its token verified
// its email, which readers show only then) and where the request came from, the member or invitation it concerns with its email, the value it
// changed (before and after) and the IDs that tie it to its request. The
// payload itself is never stored, so the token nonce stays out.
//
// rm_audit_subjects indexes each row under every key of the members it
// concerns (account IDs, emails, invitation IDs), and rm_audit_contacts
// remembers members' and invitees' emails, so the projection reads no other
// projection's tables and can be rebuilt alone.
func Audit() Projection {
	return withPersonal(auditPersonal, Projection{Name: AuditName, Tables: []string{"rm_audit", "rm_audit_subjects", "rm_audit_contacts"}, rows: newAuditBatch, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:         on(auditPropertyCreated),
		domain.TypeMemberInvited:           on(auditInvited),
		domain.TypeInvitationResent:        on(auditResent),
		domain.TypeInvitationRevoked:       on(auditRevoked),
		domain.TypeInvitationDeclined:      on(auditDeclined),
		domain.TypeInvitationAccepted:      on(auditAccepted),
		domain.TypeMemberJoined:            on(auditJoined),
		domain.TypeMemberRoleChanged:       on(auditRoleChanged),
		domain.TypeMemberAccessDisabled:    on(auditAccessDisabled),
		domain.TypeMemberAccessEnabled:     on(auditAccessEnabled),
		domain.TypeMemberRemoved:           on(auditRemoved),
		domain.TypeMemberLeft:              on(auditLeft),
		domain.TypeOwnershipTransferred:    on(auditOwnershipTransferred),
		domain.TypeInvitationPolicyChanged: on(auditPolicyChanged),

		domain.TypeRoleCreated:            on(auditRoleCreated),
		domain.TypeRoleRenamed:            on(auditRoleRenamed),
		domain.TypeRolePermissionsChanged: on(auditRolePermissionsChanged),
		domain.TypeRoleDeleted:            on(auditRoleDeleted),

		domain.TypeWebhookEndpointCreated:  on(auditWebhookCreated),
		domain.TypeWebhookEndpointUpdated:  on(auditWebhookUpdated),
		domain.TypeWebhookEndpointDisabled: on(auditWebhookDisabled),
		domain.TypeWebhookEndpointEnabled:  on(auditWebhookEnabled),
		domain.TypeWebhookSecretRotated:    on(auditWebhookSecretRotated),
		domain.TypeWebhookEndpointDeleted:  on(auditWebhookDeleted),

		domain.TypeMemberAccessUntilChanged: on(auditAccessUntilChanged),
		domain.TypeMemberAccessExpired:      on(auditAccessExpired),
		domain.TypeMemberAccessEndingSoon:   on(auditAccessEndingSoon),
	}, appendOnly: []string{"rm_audit", "rm_audit_subjects"}})
}

// auditPersonal: the actor's email with the request's IP and user agent,
// the subject's email, the subject keys that are emails, and the contacts.
var auditPersonal = []PersonalColumn{
	{Table: "rm_audit", Column: "actor_email", Account: "actor_id", IP: "client_ip", UserAgent: "user_agent"},
	{Table: "rm_audit", Column: "subject_email"},
	{Table: "rm_audit_subjects", Column: "subject_key", InKey: true},
	{Table: "rm_audit_contacts", Column: "email"},
}

// auditRecord is a row of rm_audit.
type auditRecord struct {
	PropertyID                                string
	Revision, CommitPosition, PreparePosition int64
	EventID, EventType                        string
	OccurredAt                                time.Time
	ActorID, ActorEmail, ClientIP, UserAgent  string
	ActorEmailVerified                        *bool // nil for events from before it was recorded
	SubjectKind, SubjectID, SubjectEmail      string
	ChangeField, BeforeValue, AfterValue      string
	CorrelationID, CausationID, CommandID     string
}

// contactRow is a row of rm_audit_contacts.
type contactRow struct {
	PropertyID, SubjectID, Email string
	ExpiresAt                    *time.Time
}

// auditBatch is the projection's rows as a batch changes them: the audit
// rows it adds (added holding their keys), the subject index, and the contacts (a key maps to nil
// where rm_audit_contacts has no row, and a key missing was not read;
// changed holds the keys to write back).
type auditBatch struct {
	b               *Batch
	rows            []auditRecord
	added           map[auditKey]bool
	subjects        *subjectIndex
	contacts        map[pair]*contactRow
	contactsChanged map[pair]bool
	// emails maps an email as events carry it to normalEmail's.
	emails map[string]string
}

func newAuditBatch(b *Batch) batchRows {
	return &auditBatch{b: b, added: map[auditKey]bool{}, subjects: newSubjectIndex(b), contacts: map[pair]*contactRow{}, contactsChanged: map[pair]bool{},
		emails: map[string]string{}}
}

// auditKey is rm_audit's primary key.
type auditKey struct {
	propertyID string
	revision   int64
}

// auditColumns are rm_audit's columns, in the order of sqlAuditInsert and
// auditValues.
var auditColumns = []string{"property_id", "revision", "commit_position", "prepare_position", "event_id", "event_type",
	"occurred_at", "actor_id", "actor_email", "actor_email_verified", "client_ip", "user_agent", "subject_kind",
	"subject_id", "subject_email", "change_field", "before_value", "after_value", "correlation_id", "causation_id", "command_id"}

const (
	// A row already there (the same revision) is left as it is.
	sqlAuditInsert = `INSERT INTO rm_audit (property_id, revision, commit_position, prepare_position, event_id, event_type,
		occurred_at, actor_id, actor_email, actor_email_verified, client_ip, user_agent, subject_kind, subject_id,
		subject_email, change_field, before_value, after_value, correlation_id, causation_id, command_id)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
			$7::timestamptz[], $8::text[], $9::text[], $10::boolean[], $11::text[], $12::text[], $13::text[], $14::text[],
			$15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[])
		ON CONFLICT (property_id, revision) DO NOTHING`

	sqlContactsLoad = `SELECT t.property_id, t.subject_id, t.email, t.expires_at FROM rm_audit_contacts t
		JOIN unnest($1::text[], $2::text[]) AS k(p, s) ON t.property_id = k.p AND t.subject_id = k.s`
	sqlContactsUpsert = `INSERT INTO rm_audit_contacts (property_id, subject_id, email, expires_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
		ON CONFLICT (property_id, subject_id) DO UPDATE SET email = EXCLUDED.email, expires_at = EXCLUDED.expires_at`
)

// load reads the contacts of the members and invitations the events name
// (both sides of a transfer), and the index rows an acceptance files
// again.
func (s *auditBatch) load(b *pgx.Batch, events []recorded.Event) {
	var keys, under []pair
	ask := func(pid, subjectID string) {
		if k := (pair{pid, subjectID}); !known(s.contacts, k) {
			s.contacts[k] = nil
			keys = append(keys, k)
		}
	}
	for _, e := range events {
		switch ev := e.Event.(type) {
		case domain.OwnershipTransferred:
			ask(e.PropertyID, ev.To)
			ask(e.PropertyID, ev.From)
		case domain.InvitationAccepted:
			ask(e.PropertyID, ev.InvitationID)
			under = s.subjects.ask(under, pair{e.PropertyID, ev.AccountID})
			under = s.subjects.ask(under, pair{e.PropertyID, ev.InvitationID})
		default:
			if id := memberOf(ev); id != "" {
				ask(e.PropertyID, id)
			} else if id := invitationOf(ev); id != "" {
				ask(e.PropertyID, id)
			}
		}
	}
	if len(keys) > 0 {
		ps, ss := pairArrays(keys)
		b.Queue(sqlContactsLoad, ps, ss).Query(s.scanContacts)
	}
	if len(under) > 0 {
		s.subjects.queueLoad(b, under)
	}
}

func (s *auditBatch) scanContacts(rows pgx.Rows) error {
	var r contactRow
	_, err := pgx.ForEachRow(rows, []any{&r.PropertyID, &r.SubjectID, &r.Email, &r.ExpiresAt}, func() error {
		row := r
		s.contacts[pair{r.PropertyID, r.SubjectID}] = &row
		return nil
	})
	return err
}

func (s *auditBatch) flush(b *pgx.Batch) {
	if len(s.rows) > 0 {
		if s.b.bulk {
			// Each row is its event's own revision: none can be there.
			rows := make([][]any, len(s.rows))
			for i := range s.rows {
				rows[i] = auditValues(&s.rows[i])
			}
			s.b.copyRows("rm_audit", auditColumns, rows)
		} else {
			b.Queue(sqlAuditInsert, auditArrays(s.rows)...)
		}
	}
	s.subjects.flush(b)
	if n := len(s.contactsChanged); n > 0 {
		ps, ss, emails, expires := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]*time.Time, 0, n)
		for k := range s.contactsChanged {
			r := s.contacts[k] // never deleted
			ps, ss, emails, expires = append(ps, r.PropertyID), append(ss, r.SubjectID), append(emails, r.Email), append(expires, r.ExpiresAt)
		}
		b.Queue(sqlContactsUpsert, ps, ss, emails, expires)
	}
}

// auditValues is r's values in the order of auditColumns, for COPY.
func auditValues(r *auditRecord) []any {
	return []any{r.PropertyID, r.Revision, r.CommitPosition, r.PreparePosition, r.EventID, r.EventType,
		r.OccurredAt, r.ActorID, r.ActorEmail, r.ActorEmailVerified, r.ClientIP, r.UserAgent, r.SubjectKind,
		r.SubjectID, r.SubjectEmail, r.ChangeField, r.BeforeValue, r.AfterValue, r.CorrelationID, r.CausationID, r.CommandID}
}

// auditArrays is rows as one array per column of auditColumns, for unnest.
func auditArrays(rows []auditRecord) []any {
	n := len(rows)
	ps, events, types, actors, actorEmails, ips, agents := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	kinds, ids, emails, fields, befores, afters := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	corrs, causes, cmds := make([]string, n), make([]string, n), make([]string, n)
	revs, commits, prepares := make([]int64, n), make([]int64, n), make([]int64, n)
	at, verified := make([]time.Time, n), make([]*bool, n)
	for i, r := range rows {
		ps[i], revs[i], commits[i], prepares[i], events[i], types[i] = r.PropertyID, r.Revision, r.CommitPosition, r.PreparePosition, r.EventID, r.EventType
		at[i], actors[i], actorEmails[i], verified[i], ips[i], agents[i] = r.OccurredAt, r.ActorID, r.ActorEmail, r.ActorEmailVerified, r.ClientIP, r.UserAgent
		kinds[i], ids[i], emails[i], fields[i], befores[i], afters[i] = r.SubjectKind, r.SubjectID, r.SubjectEmail, r.ChangeField, r.BeforeValue, r.AfterValue
		corrs[i], causes[i], cmds[i] = r.CorrelationID, r.CausationID, r.CommandID
	}
	return []any{ps, revs, commits, prepares, events, types, at, actors, actorEmails, verified, ips, agents,
		kinds, ids, emails, fields, befores, afters, corrs, causes, cmds}
}

// auditEntry is what a step knows about its event beyond the envelope.
type auditEntry struct {
	kind, id, email      string
	field, before, after string
	// keys are more subject keys the row is found by, besides id and email.
	keys []string
}

func auditPropertyCreated(s *auditBatch, e recorded.Event, ev domain.PropertyCreated) error {
	// The creator's history starts here, before it joins as the owner.
	return writeAudit(s, e, auditEntry{kind: SubjectProperty, id: e.PropertyID,
		field: "name", after: ev.Name, keys: []string{ev.OwnerID}})
}

func auditInvited(s *auditBatch, e recorded.Event, ev domain.MemberInvited) error {
	rememberContact(s, e, ev.InvitationID, ev.Email, &ev.ExpiresAt)
	return writeAudit(s, e, auditEntry{kind: SubjectInvitation, id: ev.InvitationID, email: ev.Email,
		field: "role", after: string(ev.Role)})
}

func auditResent(s *auditBatch, e recorded.Event, ev domain.InvitationResent) error {
	email, was := contact(s, e, ev.InvitationID)
	rememberContact(s, e, ev.InvitationID, email, &ev.ExpiresAt)
	before := ""
	if was != nil {
		before = stamp(*was)
	}
	return writeAudit(s, e, auditEntry{kind: SubjectInvitation, id: ev.InvitationID, email: email,
		field: "expires_at", before: before, after: stamp(ev.ExpiresAt)})
}

func auditRevoked(s *auditBatch, e recorded.Event, ev domain.InvitationRevoked) error {
	return auditInvitationClosed(s, e, ev.InvitationID, domain.InviteRevoked, "")
}

func auditDeclined(s *auditBatch, e recorded.Event, ev domain.InvitationDeclined) error {
	return auditInvitationClosed(s, e, ev.InvitationID, domain.InviteDeclined, "")
}

// auditAccepted also files the invitation's earlier rows under the account
// that accepted it: they are the start of that membership's history. Rows
// filed under the account already (an invitation accepted twice) stay as
// they are.
func auditAccepted(s *auditBatch, e recorded.Event, ev domain.InvitationAccepted) error {
	filed := s.subjects.Under(e.PropertyID, ev.AccountID)
	for _, st := range s.subjects.Under(e.PropertyID, ev.InvitationID) {
		if !slices.ContainsFunc(filed, st.same) {
			s.subjects.Insert(subjectRow{PropertyID: e.PropertyID, Key: ev.AccountID, OccurredAt: st.OccurredAt, Revision: st.Revision})
		}
	}
	return auditInvitationClosed(s, e, ev.InvitationID, domain.InviteAccepted, ev.AccountID)
}

// auditInvitationClosed writes the row of an invitation leaving pending;
// accountID, when set, is the account that accepted it.
func auditInvitationClosed(s *auditBatch, e recorded.Event, invitationID string, to domain.InvitationStatus, accountID string) error {
	email, _ := contact(s, e, invitationID)
	return writeAudit(s, e, auditEntry{kind: SubjectInvitation, id: invitationID, email: email,
		field: "status", before: string(domain.InvitePending), after: string(to), keys: []string{accountID}})
}

func auditJoined(s *auditBatch, e recorded.Event, ev domain.MemberJoined) error {
	rememberContact(s, e, ev.AccountID, ev.Email, nil)
	return writeAudit(s, e, auditEntry{kind: SubjectMember, id: ev.AccountID, email: ev.Email,
		field: "role", after: string(ev.Role)})
}

func auditRoleChanged(s *auditBatch, e recorded.Event, ev domain.MemberRoleChanged) error {
	return auditMember(s, e, ev.AccountID, "role", string(ev.From), string(ev.To))
}

func auditAccessDisabled(s *auditBatch, e recorded.Event, ev domain.MemberAccessDisabled) error {
	return auditMember(s, e, ev.AccountID, "status", string(domain.StatusEnabled), string(domain.StatusDisabled))
}

func auditAccessEnabled(s *auditBatch, e recorded.Event, ev domain.MemberAccessEnabled) error {
	return auditMember(s, e, ev.AccountID, "status", string(domain.StatusDisabled), string(domain.StatusEnabled))
}

func auditRemoved(s *auditBatch, e recorded.Event, ev domain.MemberRemoved) error {
	return auditMember(s, e, ev.AccountID, "", "", "")
}

func auditLeft(s *auditBatch, e recorded.Event, ev domain.MemberLeft) error {
	return auditMember(s, e, ev.AccountID, "", "", "")
}

// auditMember writes the row of an event about one member.
func auditMember(s *auditBatch, e recorded.Event, accountID, field, before, after string) error {
	email, _ := contact(s, e, accountID)
	return writeAudit(s, e, auditEntry{kind: SubjectMember, id: accountID, email: email,
		field: field, before: before, after: after})
}

// auditOwnershipTransferred names the new owner as the subject; the row is
// in the previous owner's history too.
func auditOwnershipTransferred(s *auditBatch, e recorded.Event, ev domain.OwnershipTransferred) error {
	toEmail, _ := contact(s, e, ev.To)
	fromEmail, _ := contact(s, e, ev.From)
	return writeAudit(s, e, auditEntry{kind: SubjectMember, id: ev.To, email: toEmail,
		field: "owner", before: ev.From, after: ev.To, keys: []string{ev.From, fromEmail}})
}

// writeAudit adds the event's row and files it under its subject keys.
func writeAudit(s *auditBatch, e recorded.Event, row auditEntry) error {
	commit, prepare, err := toDB(e.Position)
	if err != nil {
		return err
	}
	m, at := e.Meta, dbTime(e.At())
	s.insert(auditRecord{PropertyID: e.PropertyID, Revision: int64(e.Revision), CommitPosition: commit, PreparePosition: prepare,
		EventID: m.EventID, EventType: e.Type, OccurredAt: at, ActorID: m.ActorID, ActorEmail: s.email(m.ActorEmail), ActorEmailVerified: m.ActorEmailVerified,
		ClientIP: m.ClientIP, UserAgent: m.UserAgent, SubjectKind: row.kind, SubjectID: row.id, SubjectEmail: s.email(row.email),
		ChangeField: row.field, BeforeValue: row.before, AfterValue: row.after,
		CorrelationID: m.CorrelationID, CausationID: m.CausationID, CommandID: m.CommandID})
	keys := append([]string{s.email(row.email)}, row.keys...)
	if row.kind != SubjectProperty {
		keys = append(keys, row.id)
	}
	for i, k := range keys {
		if strings.Contains(k, "@") {
			keys[i] = s.email(k)
		}
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == "" })
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		s.subjects.Insert(subjectRow{PropertyID: e.PropertyID, Key: k, OccurredAt: at, Revision: int64(e.Revision)})
	}
	return nil
}

// rememberContact records the email of a member or invitee, and an
// invitation's expiry when expires is not nil.
func rememberContact(s *auditBatch, e recorded.Event, subjectID, email string, expires *time.Time) {
	if expires != nil {
		t := dbTime(*expires)
		expires = &t
	}
	k := pair{e.PropertyID, subjectID}
	s.contacts[k] = &contactRow{PropertyID: e.PropertyID, SubjectID: subjectID, Email: s.email(email), ExpiresAt: expires}
	s.contactsChanged[k] = true
}

// contact returns the email of a member or invitee and an invitation's
// expiry as last recorded; both are empty for a subject never seen, which a
// well-formed stream does not have.
func contact(s *auditBatch, e recorded.Event, subjectID string) (string, *time.Time) {
	k := pair{e.PropertyID, subjectID}
	if !known(s.contacts, k) {
		s.contacts[k] = nil
		s.b.query("rm_audit_contacts", sqlContactsLoad, s.scanContacts, []string{k.a}, []string{k.b})
	}
	if c := s.contacts[k]; c != nil {
		return c.Email, c.ExpiresAt
	}
	return "", nil
}

// normalEmail is an email the way the domain stores them (domain.EmailKey),
// so filters compare like with like whatever a token carried, and a claim
// the domain refuses, such as one with a Kelvin sign, is never lower-cased
// into someone else's address.
func normalEmail(s string) string { return domain.EmailKey(s) }

// email is normalEmail(raw), worked out once a batch: an audit row asks for
// its emails up to four times, and a batch's events come from few people,
// while the domain's checks of an address took a sixth of the replay's
// own time in a rebuild's profile.
func (s *auditBatch) email(raw string) string {
	e, ok := s.emails[raw]
	if !ok {
		e = normalEmail(raw)
		s.emails[raw] = e
	}
	return e
}

// stamp formats an instant for the before and after columns.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// subjectRow is a row of rm_audit_subjects.
type subjectRow struct {
	PropertyID, Key string
	OccurredAt      time.Time
	Revision        int64
}

// same reports whether r and o file the same audit row.
func (r subjectRow) same(o subjectRow) bool {
	return r.Revision == o.Revision && r.OccurredAt.Equal(o.OccurredAt)
}

// subjectIndex is rm_audit_subjects inside a batch: rows are only added
// (INSERT ... ON CONFLICT DO NOTHING), and read back by property and
// subject key, when an accepted invitation's rows are filed under the
// account that accepted it.
type subjectIndex struct {
	b     *Batch
	added []subjectRow
	seen  map[subjectRow]bool
	// addedUnder indexes added by (property, key).
	addedUnder map[pair][]int
	// under holds the stored rows of each (property, key) read.
	under map[pair][]subjectRow
}

const (
	sqlSubjectsUnder = `SELECT property_id, subject_key, occurred_at, revision FROM rm_audit_subjects t
		JOIN unnest($1::text[], $2::text[]) AS k(c0, c1) ON t.property_id = k.c0 AND t.subject_key = k.c1`
	sqlSubjectsInsert = `INSERT INTO rm_audit_subjects (property_id, subject_key, occurred_at, revision)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[]) ON CONFLICT DO NOTHING`
)

func newSubjectIndex(b *Batch) *subjectIndex {
	return &subjectIndex{b: b, seen: map[subjectRow]bool{}, addedUnder: map[pair][]int{}, under: map[pair][]subjectRow{}}
}

// Insert files a row, unless the batch filed the same one already.
func (x *subjectIndex) Insert(r subjectRow) {
	r.OccurredAt = r.OccurredAt.UTC()
	if x.seen[r] {
		return
	}
	x.seen[r] = true
	k := pair{r.PropertyID, r.Key}
	x.addedUnder[k] = append(x.addedUnder[k], len(x.added))
	x.added = append(x.added, r)
}

// Under returns the rows filed under (pid, key): stored, or filed by the
// batch.
func (x *subjectIndex) Under(pid, key string) []subjectRow {
	k := pair{pid, key}
	stored, ok := x.under[k]
	if !ok {
		x.under[k] = nil
		x.b.query("rm_audit_subjects", sqlSubjectsUnder, x.scan, []string{pid}, []string{key})
		stored = x.under[k]
	}
	out := slices.Clone(stored)
	for _, i := range x.addedUnder[k] {
		if r := x.added[i]; !slices.ContainsFunc(stored, r.same) {
			out = append(out, r)
		}
	}
	return out
}

// ask appends k to keys, for the batch's load, unless it is known.
func (x *subjectIndex) ask(keys []pair, k pair) []pair {
	if _, ok := x.under[k]; ok {
		return keys
	}
	x.under[k] = nil
	return append(keys, k)
}

func (x *subjectIndex) queueLoad(b *pgx.Batch, keys []pair) {
	ps, ks := pairArrays(keys)
	b.Queue(sqlSubjectsUnder, ps, ks).Query(x.scan)
}

func (x *subjectIndex) scan(rows pgx.Rows) error {
	var r subjectRow
	_, err := pgx.ForEachRow(rows, []any{&r.PropertyID, &r.Key, &r.OccurredAt, &r.Revision}, func() error {
		k := pair{r.PropertyID, r.Key}
		x.under[k] = append(x.under[k], r)
		return nil
	})
	return err
}

func (x *subjectIndex) flush(b *pgx.Batch) {
	if len(x.added) == 0 {
		return
	}
	if x.b.bulk {
		// Every row is new: an event files its own revision, and an
		// acceptance only what the account does not have.
		rows := make([][]any, len(x.added))
		for i, r := range x.added {
			rows[i] = []any{r.PropertyID, r.Key, r.OccurredAt, r.Revision}
		}
		x.b.copyRows("rm_audit_subjects", []string{"property_id", "subject_key", "occurred_at", "revision"}, rows)
		return
	}
	pids, keys := make([]string, len(x.added)), make([]string, len(x.added))
	ats, revs := make([]time.Time, len(x.added)), make([]int64, len(x.added))
	for i, r := range x.added {
		pids[i], keys[i], ats[i], revs[i] = r.PropertyID, r.Key, r.OccurredAt, r.Revision
	}
	b.Queue(sqlSubjectsInsert, pids, keys, ats, revs)
}

// insert adds an audit row, unless the batch added its revision already
// (the first stays, as with the insert's ON CONFLICT DO NOTHING).
func (s *auditBatch) insert(r auditRecord) {
	k := auditKey{r.PropertyID, r.Revision}
	if s.added[k] {
		return
	}
	s.added[k] = true
	s.rows = append(s.rows, r)
}
