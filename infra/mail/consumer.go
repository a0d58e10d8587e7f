package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/projections"
)

// Delivery is what the Consumer needs of a Deliverer.
type Delivery interface {
	Deliver(ctx context.Context, eventID string, msg Message) error
}

var _ Delivery = (*Deliverer)(nil)

// Opener turns the sealed personal fields of events back into plaintext,
// or into erased markers for people who were forgotten (privacy.Vault).
type Opener interface {
	Open(ctx context.Context, recs []eventstore.RecordedEvent) error
}

// ConsumerConfig is what a Consumer is built from.
type ConsumerConfig struct {
	// Pool is the PostgreSQL database holding mail_properties and
	// mail_invitations (migration 0006).
	Pool *pgxpool.Pool
	// Deliverer sends each event's mail once, through its ledger.
	Deliverer Delivery
	// Tokens derives the invitation tokens the links carry.
	Tokens *commands.Tokens
	// AcceptURL is the dashboard page the link opens (ROSTER_ACCEPT_URL);
	// empty gives the token as a code instead.
	AcceptURL string
	// Log records the mails given up on.
	Log zerolog.Logger
	// Opener opens each event before it is read: the events keep the
	// invitee's and the inviter's emails sealed. Nil reads events as they
	// are stored, which suits only events written without sealing.
	Opener Opener
}

// Validate reports every problem of c at once.
func (c ConsumerConfig) Validate() error {
	var errs []error
	if c.Pool == nil {
		errs = append(errs, errors.New("mail consumer: no database pool"))
	}
	if c.Deliverer == nil {
		errs = append(errs, errors.New("mail consumer: no deliverer"))
	}
	if c.Tokens == nil {
		errs = append(errs, errors.New("mail consumer: no token key"))
	}
	return errors.Join(errs...)
}

// Consumer mails invitees from the event feed: on MemberInvited and
// InvitationResent it writes the invitation mail and delivers it keyed by
// the event's ID, so a redelivered event is not mailed twice. What the
// events do not carry (the property's name, and for a resend the invitee
// and role) it keeps in tables of its own, fed by the same feed. It is safe
// for concurrent use, though the router gives it one event at a time.
type Consumer struct {
	pool      *pgxpool.Pool
	deliver   Delivery
	tokens    *commands.Tokens
	acceptURL string
	log       zerolog.Logger
	opener    Opener
}

// NewConsumer returns a Consumer, or c's problems.
func NewConsumer(c ConsumerConfig) (*Consumer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Consumer{pool: c.Pool, deliver: c.Deliverer, tokens: c.Tokens, acceptURL: c.AcceptURL, log: c.Log,
		opener: c.Opener}, nil
}

// Handle is the watermill handler of one feed message. It returns nil when
// the event needs no mail, its mail is sent, or its mail has failed for
// good (it stays in the ledger as failed, for `roster mail status` and
// `roster mail retry`). It returns an error, for the router to retry, when
// the mail could not go out yet or a table could not be written. A message
// that is no feed event, or an event that cannot be decoded, is an error
// too: the router's poison queue keeps it, as does an event the Opener
// cannot open.
//
// An invitee who was forgotten has only an erased address, which no mail
// reaches: their mail is recorded in the ledger as failed, saying why, and
// not sent.
func (c *Consumer) Handle(msg *message.Message) error {
	rec, err := feed.FromMessage(msg)
	if err != nil {
		return err
	}
	ctx := msg.Context()
	if c.opener != nil {
		recs := []eventstore.RecordedEvent{rec}
		if err := c.opener.Open(ctx, recs); err != nil {
			return err
		}
		rec = recs[0]
	}
	e, err := projections.Decode(rec)
	if errors.Is(err, projections.ErrForeignStream) {
		return nil
	}
	if err != nil {
		return err
	}
	switch ev := e.Event.(type) {
	case domain.PropertyCreated:
		_, err := c.pool.Exec(ctx, `INSERT INTO mail_properties (property_id, name) VALUES ($1, $2)
			ON CONFLICT (property_id) DO UPDATE SET name = $2`, e.PropertyID, ev.Name)
		return err
	case domain.MemberInvited:
		if _, err := c.pool.Exec(ctx, `INSERT INTO mail_invitations (property_id, invitation_id, email, role)
			VALUES ($1, $2, $3, $4) ON CONFLICT (property_id, invitation_id) DO UPDATE SET email = $3, role = $4`,
			e.PropertyID, ev.InvitationID, ev.Email, string(ev.Role)); err != nil {
			return err
		}
		return c.mail(ctx, rec.ID, e, InvitationMail{InvitationID: ev.InvitationID, Email: ev.Email,
			Role: ev.Role, ExpiresAt: ev.ExpiresAt}, ev.TokenNonce)
	case domain.InvitationResent:
		inv := InvitationMail{InvitationID: ev.InvitationID, ExpiresAt: ev.ExpiresAt}
		var role string
		err := c.pool.QueryRow(ctx, `SELECT email, role FROM mail_invitations WHERE property_id = $1 AND invitation_id = $2`,
			e.PropertyID, ev.InvitationID).Scan(&inv.Email, &role)
		if err != nil {
			return fmt.Errorf("mail for event %s: the invitation %s it resends: %w", rec.ID, ev.InvitationID, err)
		}
		inv.Role = domain.Role(role)
		return c.mail(ctx, rec.ID, e, inv, ev.TokenNonce)
	}
	return nil
}

// mail completes inv with the property's name, the inviter and the token,
// and delivers it as the mail of event eventID.
func (c *Consumer) mail(ctx context.Context, eventID string, e projections.Envelope, inv InvitationMail, nonce string) error {
	inv.PropertyID = e.PropertyID
	inv.InvitedBy = e.Meta.ActorEmail
	if erased(inv.InvitedBy) {
		inv.InvitedBy = "" // the mail says "An admin"
	}
	inv.Token = c.tokens.Mint(e.PropertyID, inv.InvitationID, nonce)
	err := c.pool.QueryRow(ctx, `SELECT name FROM mail_properties WHERE property_id = $1`, e.PropertyID).Scan(&inv.PropertyName)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	msg, err := Invitation(inv, c.acceptURL)
	if err != nil {
		return err
	}
	if erased(inv.Email) {
		return c.skip(ctx, eventID, msg, "not sent: the invitee was forgotten, and an erased address reaches no one")
	}
	err = c.deliver.Deliver(withInvitation(ctx, inv), eventID, msg)
	if err != nil && Permanent(err) {
		c.log.Error().Err(err).Str("event_id", eventID).Str("property_id", inv.PropertyID).
			Str("invitation_id", inv.InvitationID).
			Msg("invitation email failed for good; see roster mail status, and roster mail retry once fixed")
		return nil
	}
	return err
}

// erased reports whether addr is under the reserved .invalid top-level
// domain (RFC 2606), where the erased markers of forgotten people are and
// no mail can go.
func erased(addr string) bool {
	return strings.HasSuffix(strings.ToLower(strings.TrimSpace(addr)), ".invalid")
}

// skip records the mail of eventID as failed for why, without sending it;
// a mail already sent or being sent is left as it is.
func (c *Consumer) skip(ctx context.Context, eventID string, msg Message, why string) error {
	if _, err := uuid.Parse(eventID); err != nil {
		c.log.Error().Str("event_id", eventID).Msg("invitation email to a forgotten invitee not recorded: the event ID is not a UUID")
		return nil
	}
	_, err := c.pool.Exec(ctx, `
INSERT INTO mail_ledger AS l (event_id, recipient, subject, status, last_error)
VALUES ($1, $2, $3, 'failed', $4)
ON CONFLICT (event_id) DO UPDATE
SET status = 'failed', last_error = $4, claimed_until = NULL, next_attempt_at = NULL, updated_at = now()
WHERE l.status IN ('pending', 'failed')`, eventID, oneLine(msg.To), oneLine(msg.Subject), why)
	if err != nil {
		return fmt.Errorf("mail ledger: record event %s as not sent: %w", eventID, err)
	}
	return nil
}
