package projections

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
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
// property, with when it happened, the actor and where the request came
// from, the member or invitation it concerns with its email, the value it
// changed (before and after) and the IDs that tie it to its request. The
// payload itself is never stored, so the token nonce stays out.
//
// rm_audit_subjects indexes each row under every key of the members it
// concerns (account IDs, emails, invitation IDs), and rm_audit_contacts
// remembers members' and invitees' emails, so the projection reads no other
// projection's tables and can be rebuilt alone.
func Audit() Projection {
	return Projection{Name: AuditName, Tables: []string{"rm_audit", "rm_audit_subjects", "rm_audit_contacts"}, Reducers: map[string]Reducer{
		domain.TypePropertyCreated:      On(auditPropertyCreated),
		domain.TypeMemberInvited:        On(auditInvited),
		domain.TypeInvitationResent:     On(auditResent),
		domain.TypeInvitationRevoked:    On(auditRevoked),
		domain.TypeInvitationDeclined:   On(auditDeclined),
		domain.TypeInvitationAccepted:   On(auditAccepted),
		domain.TypeMemberJoined:         On(auditJoined),
		domain.TypeMemberRoleChanged:    On(auditRoleChanged),
		domain.TypeMemberAccessDisabled: On(auditAccessDisabled),
		domain.TypeMemberAccessEnabled:  On(auditAccessEnabled),
		domain.TypeMemberRemoved:        On(auditRemoved),
		domain.TypeMemberLeft:           On(auditLeft),
		domain.TypeOwnershipTransferred: On(auditOwnershipTransferred),
	}}
}

// auditRow is what a reducer knows about its event beyond the envelope.
type auditRow struct {
	kind, id, email      string
	field, before, after string
	// keys are more subject keys the row is found by, besides id and email.
	keys []string
}

func auditPropertyCreated(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.PropertyCreated) error {
	// The creator's history starts here, before it joins as the owner.
	return writeAudit(ctx, tx, e, auditRow{kind: SubjectProperty, id: e.PropertyID,
		field: "name", after: ev.Name, keys: []string{ev.OwnerID}})
}

func auditInvited(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberInvited) error {
	if err := rememberContact(ctx, tx, e, ev.InvitationID, ev.Email, &ev.ExpiresAt); err != nil {
		return err
	}
	return writeAudit(ctx, tx, e, auditRow{kind: SubjectInvitation, id: ev.InvitationID, email: ev.Email,
		field: "role", after: string(ev.Role)})
}

func auditResent(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationResent) error {
	email, was, err := contact(ctx, tx, e, ev.InvitationID)
	if err != nil {
		return err
	}
	if err := rememberContact(ctx, tx, e, ev.InvitationID, email, &ev.ExpiresAt); err != nil {
		return err
	}
	before := ""
	if was != nil {
		before = stamp(*was)
	}
	return writeAudit(ctx, tx, e, auditRow{kind: SubjectInvitation, id: ev.InvitationID, email: email,
		field: "expires_at", before: before, after: stamp(ev.ExpiresAt)})
}

func auditRevoked(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationRevoked) error {
	return auditInvitationClosed(ctx, tx, e, ev.InvitationID, domain.InviteRevoked, "")
}

func auditDeclined(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationDeclined) error {
	return auditInvitationClosed(ctx, tx, e, ev.InvitationID, domain.InviteDeclined, "")
}

// auditAccepted also files the invitation's earlier rows under the account
// that accepted it: they are the start of that membership's history.
func auditAccepted(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.InvitationAccepted) error {
	if _, err := tx.Exec(ctx, `INSERT INTO rm_audit_subjects (property_id, subject_key, occurred_at, revision)
		SELECT property_id, $3, occurred_at, revision FROM rm_audit_subjects
		WHERE property_id = $1 AND subject_key = $2
		ON CONFLICT DO NOTHING`, e.PropertyID, ev.InvitationID, ev.AccountID); err != nil {
		return err
	}
	return auditInvitationClosed(ctx, tx, e, ev.InvitationID, domain.InviteAccepted, ev.AccountID)
}

// auditInvitationClosed writes the row of an invitation leaving pending;
// accountID, when set, is the account that accepted it.
func auditInvitationClosed(ctx context.Context, tx pgx.Tx, e Envelope, invitationID string, to domain.InvitationStatus, accountID string) error {
	email, _, err := contact(ctx, tx, e, invitationID)
	if err != nil {
		return err
	}
	return writeAudit(ctx, tx, e, auditRow{kind: SubjectInvitation, id: invitationID, email: email,
		field: "status", before: string(domain.InvitePending), after: string(to), keys: []string{accountID}})
}

func auditJoined(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberJoined) error {
	if err := rememberContact(ctx, tx, e, ev.AccountID, ev.Email, nil); err != nil {
		return err
	}
	return writeAudit(ctx, tx, e, auditRow{kind: SubjectMember, id: ev.AccountID, email: ev.Email,
		field: "role", after: string(ev.Role)})
}

func auditRoleChanged(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRoleChanged) error {
	return auditMember(ctx, tx, e, ev.AccountID, "role", string(ev.From), string(ev.To))
}

func auditAccessDisabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessDisabled) error {
	return auditMember(ctx, tx, e, ev.AccountID, "status", string(domain.StatusEnabled), string(domain.StatusDisabled))
}

func auditAccessEnabled(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberAccessEnabled) error {
	return auditMember(ctx, tx, e, ev.AccountID, "status", string(domain.StatusDisabled), string(domain.StatusEnabled))
}

func auditRemoved(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberRemoved) error {
	return auditMember(ctx, tx, e, ev.AccountID, "", "", "")
}

func auditLeft(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.MemberLeft) error {
	return auditMember(ctx, tx, e, ev.AccountID, "", "", "")
}

// auditMember writes the row of an event about one member.
func auditMember(ctx context.Context, tx pgx.Tx, e Envelope, accountID, field, before, after string) error {
	email, _, err := contact(ctx, tx, e, accountID)
	if err != nil {
		return err
	}
	return writeAudit(ctx, tx, e, auditRow{kind: SubjectMember, id: accountID, email: email,
		field: field, before: before, after: after})
}

// auditOwnershipTransferred names the new owner as the subject; the row is
// in the previous owner's history too.
func auditOwnershipTransferred(ctx context.Context, tx pgx.Tx, e Envelope, ev domain.OwnershipTransferred) error {
	toEmail, _, err := contact(ctx, tx, e, ev.To)
	if err != nil {
		return err
	}
	fromEmail, _, err := contact(ctx, tx, e, ev.From)
	if err != nil {
		return err
	}
	return writeAudit(ctx, tx, e, auditRow{kind: SubjectMember, id: ev.To, email: toEmail,
		field: "owner", before: ev.From, after: ev.To, keys: []string{ev.From, fromEmail}})
}

// writeAudit inserts the event's row and files it under its subject keys.
// A row already there (the same revision) is left as it is.
func writeAudit(ctx context.Context, tx pgx.Tx, e Envelope, row auditRow) error {
	commit, prepare, err := toDB(e.Position)
	if err != nil {
		return err
	}
	m := e.Meta
	_, err = tx.Exec(ctx, `INSERT INTO rm_audit (property_id, revision, commit_position, prepare_position,
		event_id, event_type, occurred_at, actor_id, actor_email, client_ip, user_agent,
		subject_kind, subject_id, subject_email, change_field, before_value, after_value,
		correlation_id, causation_id, command_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT (property_id, revision) DO NOTHING`,
		e.PropertyID, int64(e.Revision), commit, prepare,
		m.EventID, e.Type, e.At(), m.ActorID, normalEmail(m.ActorEmail), m.ClientIP, m.UserAgent,
		row.kind, row.id, normalEmail(row.email), row.field, row.before, row.after,
		m.CorrelationID, m.CausationID, m.CommandID)
	if err != nil {
		return err
	}
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
	_, err = tx.Exec(ctx, `INSERT INTO rm_audit_subjects (property_id, subject_key, occurred_at, revision)
		SELECT $1, k, $3, $4 FROM unnest($2::text[]) AS k
		ON CONFLICT DO NOTHING`, e.PropertyID, slices.Compact(keys), e.At(), int64(e.Revision))
	return err
}

// rememberContact records the email of a member or invitee, and an
// invitation's expiry when expires is not nil.
func rememberContact(ctx context.Context, tx pgx.Tx, e Envelope, subjectID, email string, expires *time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO rm_audit_contacts (property_id, subject_id, email, expires_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (property_id, subject_id) DO UPDATE SET email = $3, expires_at = $4`,
		e.PropertyID, subjectID, normalEmail(email), expires)
	return err
}

// contact returns the email of a member or invitee and an invitation's
// expiry as last recorded; both are empty for a subject never seen, which a
// well-formed stream does not have.
func contact(ctx context.Context, tx pgx.Tx, e Envelope, subjectID string) (string, *time.Time, error) {
	var (
		email   string
		expires *time.Time
	)
	err := tx.QueryRow(ctx, `SELECT email, expires_at FROM rm_audit_contacts
		WHERE property_id = $1 AND subject_id = $2`, e.PropertyID, subjectID).Scan(&email, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil
	}
	return email, expires, err
}

// normalEmail lower-cases and trims an email the way the domain stores
// them, so filters compare like with like whatever a token carried.
func normalEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// stamp formats an instant for the before and after columns.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
