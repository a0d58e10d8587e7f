package projections

import (
	"fmt"
	"slices"
	"strconv"
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
	return withPersonal(auditPersonal, setwise(AuditName, []string{"rm_audit", "rm_audit_subjects", "rm_audit_contacts"}, newAuditBatch, map[string]step[*auditBatch]{
		domain.TypePropertyCreated:         onEvent(auditPropertyCreated),
		domain.TypeMemberInvited:           onEvent(auditInvited),
		domain.TypeInvitationResent:        onEvent(auditResent),
		domain.TypeInvitationRevoked:       onEvent(auditRevoked),
		domain.TypeInvitationDeclined:      onEvent(auditDeclined),
		domain.TypeInvitationAccepted:      onEvent(auditAccepted),
		domain.TypeMemberJoined:            onEvent(auditJoined),
		domain.TypeMemberRoleChanged:       onEvent(auditRoleChanged),
		domain.TypeMemberAccessDisabled:    onEvent(auditAccessDisabled),
		domain.TypeMemberAccessEnabled:     onEvent(auditAccessEnabled),
		domain.TypeMemberRemoved:           onEvent(auditRemoved),
		domain.TypeMemberLeft:              onEvent(auditLeft),
		domain.TypeOwnershipTransferred:    onEvent(auditOwnershipTransferred),
		domain.TypeInvitationPolicyChanged: onEvent(auditPolicyChanged),

		domain.TypeRoleCreated:            onEvent(auditRoleCreated),
		domain.TypeRoleRenamed:            onEvent(auditRoleRenamed),
		domain.TypeRolePermissionsChanged: onEvent(auditRolePermissionsChanged),
		domain.TypeRoleDeleted:            onEvent(auditRoleDeleted),

		domain.TypeWebhookEndpointCreated:  onEvent(auditWebhookCreated),
		domain.TypeWebhookEndpointUpdated:  onEvent(auditWebhookUpdated),
		domain.TypeWebhookEndpointDisabled: onEvent(auditWebhookDisabled),
		domain.TypeWebhookEndpointEnabled:  onEvent(auditWebhookEnabled),
		domain.TypeWebhookSecretRotated:    onEvent(auditWebhookSecretRotated),
		domain.TypeWebhookEndpointDeleted:  onEvent(auditWebhookDeleted),

		domain.TypeMemberAccessUntilChanged: onEvent(auditAccessUntilChanged),
		domain.TypeMemberAccessExpired:      onEvent(auditAccessExpired),
		domain.TypeMemberAccessEndingSoon:   onEvent(auditAccessEndingSoon),
	}))
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

var (
	// A row already there (the same revision) is left as it is.
	auditSpec = (&insertSpec[auditRecord]{
		name:     "rm_audit",
		key:      func(r *auditRecord) rowKey { return rowKey{r.PropertyID, strconv.FormatInt(r.Revision, 10)} },
		conflict: "(property_id, revision) DO NOTHING",
		unique:   true, // an event is one revision of its property's stream
		cols: []column[auditRecord]{
			col("property_id", func(r *auditRecord) any { return &r.PropertyID }),
			col("revision", func(r *auditRecord) any { return &r.Revision }),
			col("commit_position", func(r *auditRecord) any { return &r.CommitPosition }),
			col("prepare_position", func(r *auditRecord) any { return &r.PreparePosition }),
			col("event_id", func(r *auditRecord) any { return &r.EventID }),
			col("event_type", func(r *auditRecord) any { return &r.EventType }),
			col("occurred_at", func(r *auditRecord) any { return &r.OccurredAt }),
			col("actor_id", func(r *auditRecord) any { return &r.ActorID }),
			col("actor_email", func(r *auditRecord) any { return &r.ActorEmail }),
			col("actor_email_verified", func(r *auditRecord) any { return &r.ActorEmailVerified }),
			col("client_ip", func(r *auditRecord) any { return &r.ClientIP }),
			col("user_agent", func(r *auditRecord) any { return &r.UserAgent }),
			col("subject_kind", func(r *auditRecord) any { return &r.SubjectKind }),
			col("subject_id", func(r *auditRecord) any { return &r.SubjectID }),
			col("subject_email", func(r *auditRecord) any { return &r.SubjectEmail }),
			col("change_field", func(r *auditRecord) any { return &r.ChangeField }),
			col("before_value", func(r *auditRecord) any { return &r.BeforeValue }),
			col("after_value", func(r *auditRecord) any { return &r.AfterValue }),
			col("correlation_id", func(r *auditRecord) any { return &r.CorrelationID }),
			col("causation_id", func(r *auditRecord) any { return &r.CausationID }),
			col("command_id", func(r *auditRecord) any { return &r.CommandID }),
		},
	}).build()
	contactsSpec = (&tableSpec[contactRow]{
		name: "rm_audit_contacts", keyCols: []string{"property_id", "subject_id"},
		key: func(r *contactRow) rowKey { return rowKey{r.PropertyID, r.SubjectID} },
		cols: []column[contactRow]{
			col("property_id", func(r *contactRow) any { return &r.PropertyID }),
			col("subject_id", func(r *contactRow) any { return &r.SubjectID }),
			col("email", func(r *contactRow) any { return &r.Email }),
			col("expires_at", func(r *contactRow) any { return &r.ExpiresAt }),
		},
	}).build()
)

type auditBatch struct {
	rows     *inserts[auditRecord]
	subjects *subjectIndex
	contacts *table[contactRow]
}

func newAuditBatch(u *unit) *auditBatch {
	return &auditBatch{rows: newInserts(u, auditSpec), subjects: newSubjectIndex(u), contacts: newTable(u, contactsSpec)}
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
	if s.rows.u.recording {
		return nil // it reads nothing
	}
	commit, prepare, err := toDB(e.Position)
	if err != nil {
		return err
	}
	m, at := e.Meta, dbTime(e.At())
	s.rows.Insert(auditRecord{PropertyID: e.PropertyID, Revision: int64(e.Revision), CommitPosition: commit, PreparePosition: prepare,
		EventID: m.EventID, EventType: e.Type, OccurredAt: at, ActorID: m.ActorID, ActorEmail: normalEmail(m.ActorEmail), ActorEmailVerified: m.ActorEmailVerified,
		ClientIP: m.ClientIP, UserAgent: m.UserAgent, SubjectKind: row.kind, SubjectID: row.id, SubjectEmail: normalEmail(row.email),
		ChangeField: row.field, BeforeValue: row.before, AfterValue: row.after,
		CorrelationID: m.CorrelationID, CausationID: m.CausationID, CommandID: m.CommandID})
	keys := append([]string{normalEmail(row.email)}, row.keys...)
	if row.kind != SubjectProperty {
		keys = append(keys, row.id)
	}
	for i, k := range keys {
		if strings.Contains(k, "@") {
			keys[i] = normalEmail(k)
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
	s.contacts.Put(contactRow{PropertyID: e.PropertyID, SubjectID: subjectID, Email: normalEmail(email), ExpiresAt: expires})
}

// contact returns the email of a member or invitee and an invitation's
// expiry as last recorded; both are empty for a subject never seen, which a
// well-formed stream does not have.
func contact(s *auditBatch, e recorded.Event, subjectID string) (string, *time.Time) {
	c, _ := s.contacts.Get(rowKey{e.PropertyID, subjectID})
	return c.Email, c.ExpiresAt
}

// normalEmail is an email the way the domain stores them (domain.EmailKey),
// so filters compare like with like whatever a token carried, and a claim
// the domain refuses, such as one with a Kelvin sign, is never lower-cased
// into someone else's address.
func normalEmail(s string) string { return domain.EmailKey(s) }

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
	u     *unit
	added []subjectRow
	seen  map[subjectRow]bool
	// addedUnder indexes added by (property, key).
	addedUnder map[rowKey][]int
	// under holds the stored rows of each (property, key) loaded; asked
	// the pairs the recording asked for, in order.
	under map[rowKey][]subjectRow
	asked []rowKey
}

const (
	sqlSubjectsUnder = `SELECT property_id, subject_key, occurred_at, revision FROM rm_audit_subjects t
		JOIN unnest($1::text[], $2::text[]) AS k(c0, c1) ON t.property_id = k.c0 AND t.subject_key = k.c1`
	sqlSubjectsInsert = `INSERT INTO rm_audit_subjects (property_id, subject_key, occurred_at, revision)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[]) ON CONFLICT DO NOTHING`
)

func newSubjectIndex(u *unit) *subjectIndex {
	x := &subjectIndex{u: u, seen: map[subjectRow]bool{}, addedUnder: map[rowKey][]int{}, under: map[rowKey][]subjectRow{}}
	u.tables = append(u.tables, x)
	return x
}

// Insert files a row, unless the batch filed the same one already.
func (x *subjectIndex) Insert(r subjectRow) {
	if x.u.recording {
		return
	}
	r.OccurredAt = r.OccurredAt.UTC()
	if x.seen[r] {
		return
	}
	x.seen[r] = true
	k := rowKey{r.PropertyID, r.Key}
	x.addedUnder[k] = append(x.addedUnder[k], len(x.added))
	x.added = append(x.added, r)
}

// Under returns the rows filed under (pid, key): stored, or filed by the
// batch.
func (x *subjectIndex) Under(pid, key string) []subjectRow {
	k := rowKey{pid, key}
	stored, ok := x.under[k]
	if !ok {
		if x.u.recording {
			x.asked = append(x.asked, k)
			return nil
		}
		x.load([]rowKey{k}, nil)
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

// load reads the rows under keys, at once or, with b, in b.
func (x *subjectIndex) load(keys []rowKey, b *pgx.Batch) {
	for _, k := range keys {
		x.under[k] = nil
	}
	each := func(rows pgx.Rows) error {
		var r subjectRow
		_, err := pgx.ForEachRow(rows, []any{&r.PropertyID, &r.Key, &r.OccurredAt, &r.Revision}, func() error {
			k := rowKey{r.PropertyID, r.Key}
			x.under[k] = append(x.under[k], r)
			return nil
		})
		return err
	}
	args := keyArrays(2, keys)
	if b != nil {
		b.Queue(sqlSubjectsUnder, args...).Query(each)
		return
	}
	if x.u.err != nil {
		return
	}
	rows, err := x.u.tx.Query(x.u.ctx, sqlSubjectsUnder, args...)
	if err == nil {
		err = each(rows)
	}
	if err != nil {
		x.u.fail(fmt.Errorf("load rm_audit_subjects: %w", err))
	}
}

func (x *subjectIndex) startPass() {
	x.added, x.seen, x.addedUnder = nil, map[subjectRow]bool{}, map[rowKey][]int{}
}

func (x *subjectIndex) queueLoads(b *pgx.Batch) bool {
	var keys []rowKey
	for _, k := range x.asked {
		if _, ok := x.under[k]; !ok {
			keys = append(keys, k)
			x.under[k] = nil
		}
	}
	x.asked = nil
	if len(keys) > 0 {
		x.load(keys, b)
	}
	return len(keys) > 0
}

func (x *subjectIndex) queueWrites(b *pgx.Batch) {
	if len(x.added) == 0 {
		return
	}
	if x.u.bulk {
		// Every row is new: an event files its own revision, and an
		// acceptance only what the account does not have.
		rows := make([][]any, len(x.added))
		for i, r := range x.added {
			rows[i] = []any{r.PropertyID, r.Key, r.OccurredAt, r.Revision}
		}
		x.u.copyRows("rm_audit_subjects", []string{"property_id", "subject_key", "occurred_at", "revision"}, rows)
		return
	}
	pids, keys := make([]string, len(x.added)), make([]string, len(x.added))
	ats, revs := make([]time.Time, len(x.added)), make([]int64, len(x.added))
	for i, r := range x.added {
		pids[i], keys[i], ats[i], revs[i] = r.PropertyID, r.Key, r.OccurredAt, r.Revision
	}
	b.Queue(sqlSubjectsInsert, pids, keys, ats, revs)
}
