package mail

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
	"github.com/rosterhq/roster/infra/invitetoken"
	"github.com/rosterhq/roster/infra/recorded"
)

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
	// Deliverer keeps the ledger the mails are recorded in, for a
	// Dispatcher over the same Deliverer to send.
	Deliverer *Deliverer
	// Tokens derives the invitation tokens the links carry.
	Tokens *invitetoken.Key
	// AcceptURL is the dashboard page the link opens (ROSTER_ACCEPT_URL);
	// empty gives the token as a code instead.
	AcceptURL string
	// Log records the mails that cannot be recorded.
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

// Consumer records the invitation mails of the event feed in the ledger:
// on MemberInvited and InvitationResent it writes the invitation mail and
// queues it, keyed by the event's ID, so a redelivered event is not mailed
// twice. It sends nothing itself: a Dispatcher sends from the ledger, so a
// mail that cannot go out holds back neither the feed nor the mails of
// other properties. What the events do not carry (the property's name, and
// for a resend the invitee and role) it keeps in tables of its own, fed by
// the same feed. It is safe for concurrent use, though the router gives it
// one message at a time.
type Consumer struct {
	pool      *pgxpool.Pool
	ledger    *Deliverer
	tokens    *invitetoken.Key
	acceptURL string
	log       zerolog.Logger
	opener    Opener
	// queued wakes a Dispatcher when a mail is recorded.
	queued chan struct{}
}

// NewConsumer returns a Consumer, or c's problems.
func NewConsumer(c ConsumerConfig) (*Consumer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Consumer{pool: c.Pool, ledger: c.Deliverer, tokens: c.Tokens, acceptURL: c.AcceptURL, log: c.Log,
		opener: c.Opener, queued: make(chan struct{}, 1)}, nil
}

// Handle is the watermill handler of one feed message, of one event or of
// a batch (feed.Events), whose events it opens together. It returns nil when
// the event needs no mail or its mail is recorded in the ledger, pending
// for a Dispatcher (or sent or failed already: the ledger keeps it as it
// is). It returns an error, for the router to retry, when a table could not
// be written. A message that is no feed event, or an event that cannot be
// decoded, is an error too: the router's poison queue keeps it, as does an
// event the Opener cannot open.
//
// An invitee who was forgotten has only an erased address, which no mail
// reaches: their mail is recorded in the ledger as failed, saying why, and
// not sent.
func (c *Consumer) Handle(msg *message.Message) error {
	recs, err := feed.Events(msg)
	if err != nil {
		return err
	}
	ctx := msg.Context()
	opened, err := c.openAll(ctx, recs)
	if err != nil {
		return err
	}
	n, queued, err := c.apply(ctx, recs, opened)
	if err != nil && n > 0 {
		// The events before the failing one are recorded without it, as
		// they would have been one at a time: their mails go out while the
		// failing one is retried.
		var perr error
		if _, queued, perr = c.apply(context.WithoutCancel(ctx), recs[:n], opened[:n]); perr != nil {
			return errors.Join(err, perr)
		}
	}
	if queued {
		select {
		case c.queued <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
	return err
}

// apply records what recs (as stored; opened, the same events opened) ask
// in one transaction: one commit for a batch of hundreds of invitations
// rather than two for each, which kept the ledger far behind the feed after
// a burst. The commit does not wait for the disk: the checkpoint saved
// after it, with a commit that does, flushes it too, and a crash before
// that redelivers the message. Each event's writes are keyed by it (the
// property, the invitation, the ledger's event ID), so a redelivered
// message gives each event its effect once, and a mail recorded or sent
// already is left as it is. On error nothing is recorded, and failed is the
// index of the event that failed (0 when the commit did: no event is to
// blame, and the message is delivered again whole). queued reports that a
// mail was queued for sending.
func (c *Consumer) apply(ctx context.Context, recs, opened []eventstore.RecordedEvent) (failed int, queued bool, err error) {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("mail consumer: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return 0, false, fmt.Errorf("mail consumer: %w", err)
	}
	for i, rec := range recs {
		e, err := recorded.Decode(opened[i])
		if errors.Is(err, recorded.ErrForeignStream) {
			continue
		}
		if err != nil {
			return i, false, err
		}
		q, err := c.handle(ctx, tx, rec, e)
		if err != nil {
			return i, false, err
		}
		queued = queued || q
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, fmt.Errorf("mail consumer: commit: %w", err)
	}
	return len(recs), queued, nil
}

// querier is a pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// handle records, through q, what event rec (as stored), e (decoded and
// opened), asks. queued reports that a mail was queued for sending.
func (c *Consumer) handle(ctx context.Context, q querier, rec eventstore.RecordedEvent, e recorded.Event) (queued bool, err error) {
	switch ev := e.Event.(type) {
	case domain.PropertyCreated:
		_, err := q.Exec(ctx, `INSERT INTO mail_properties (property_id, name) VALUES ($1, $2)
			ON CONFLICT (property_id) DO UPDATE SET name = $2`, e.PropertyID, ev.Name)
		return false, err
	case domain.MemberInvited:
		if _, err := q.Exec(ctx, `INSERT INTO mail_invitations (property_id, invitation_id, email, role)
			VALUES ($1, $2, $3, $4) ON CONFLICT (property_id, invitation_id) DO UPDATE SET email = $3, role = $4`,
			e.PropertyID, ev.InvitationID, ev.Email, string(ev.Role)); err != nil {
			return false, err
		}
		return c.record(ctx, q, rec, e)
	case domain.InvitationResent:
		return c.record(ctx, q, rec, e)
	}
	return false, nil
}

// open decodes rec, opening its sealed fields first. Errors: the Opener's,
// and projections.Decode's (ErrForeignStream for no property's event).
func (c *Consumer) open(ctx context.Context, rec eventstore.RecordedEvent) (recorded.Event, error) {
	opened, err := c.openAll(ctx, []eventstore.RecordedEvent{rec})
	if err != nil {
		return recorded.Event{}, err
	}
	return recorded.Decode(opened[0])
}

// openAll returns a copy of recs with their sealed fields opened, all in
// one call of the Opener; recs, as stored, are left sealed for the ledger.
// Errors: the Opener's.
func (c *Consumer) openAll(ctx context.Context, recs []eventstore.RecordedEvent) ([]eventstore.RecordedEvent, error) {
	if c.opener == nil {
		return recs, nil
	}
	opened := slices.Clone(recs)
	if err := c.opener.Open(ctx, opened); err != nil {
		return nil, err
	}
	return opened, nil
}

// record queues, through q, the mail of the invitation event e, read from
// rec (as stored, sealed), in the ledger; queued is false when it is
// recorded as not sent instead.
func (c *Consumer) record(ctx context.Context, q querier, rec eventstore.RecordedEvent, e recorded.Event) (queued bool, err error) {
	inv, msg, err := c.invitation(ctx, q, rec.ID, e)
	if err != nil {
		return false, err
	}
	if erased(inv.Email) {
		return false, c.skip(ctx, q, rec.ID, msg, "not sent: the invitee was forgotten, and an erased address reaches no one")
	}
	if _, err := uuid.Parse(rec.ID); err != nil {
		c.log.Error().Str("event_id", rec.ID).Msg("invitation email not recorded: the event ID is not a UUID")
		return false, nil
	}
	if err := c.ledger.record(ctx, q, e.PropertyID, rec, msg); err != nil {
		return false, err
	}
	return true, nil
}

// invitation writes the mail of event eventID, e: a MemberInvited or
// InvitationResent, decoded and opened, reading what the event lacks through
// q. Errors: e is another event, the invitation a resend names is unknown,
// or the database's.
func (c *Consumer) invitation(ctx context.Context, q querier, eventID string, e recorded.Event) (InvitationMail, Message, error) {
	switch ev := e.Event.(type) {
	case domain.MemberInvited:
		return c.mail(ctx, q, e, InvitationMail{InvitationID: ev.InvitationID, Email: ev.Email,
			Role: ev.Role, ExpiresAt: ev.ExpiresAt}, ev.TokenNonce)
	case domain.InvitationResent:
		inv := InvitationMail{InvitationID: ev.InvitationID, ExpiresAt: ev.ExpiresAt}
		var role string
		err := q.QueryRow(ctx, `SELECT email, role FROM mail_invitations WHERE property_id = $1 AND invitation_id = $2`,
			e.PropertyID, ev.InvitationID).Scan(&inv.Email, &role)
		if err != nil {
			return InvitationMail{}, Message{}, fmt.Errorf("mail for event %s: the invitation %s it resends: %w", eventID, ev.InvitationID, err)
		}
		inv.Role = domain.Role(role)
		return c.mail(ctx, q, e, inv, ev.TokenNonce)
	}
	return InvitationMail{}, Message{}, fmt.Errorf("mail: event %s (%s) asks for no mail", eventID, e.Type)
}

// mail completes inv with the property's name, the inviter and the token,
// and writes the invitation mail of e.
func (c *Consumer) mail(ctx context.Context, q querier, e recorded.Event, inv InvitationMail, nonce string) (InvitationMail, Message, error) {
	inv.PropertyID = e.PropertyID
	inv.InvitedBy, inv.InviterAccount = e.Meta.ShownActorEmail(), e.Meta.ActorID
	if erased(e.Meta.ActorEmail) {
		inv.InvitedBy, inv.InviterAccount = "", "" // the mail says "An admin"
	}
	inv.Token = c.tokens.Mint(e.PropertyID, inv.InvitationID, nonce)
	err := q.QueryRow(ctx, `SELECT name FROM mail_properties WHERE property_id = $1`, e.PropertyID).Scan(&inv.PropertyName)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return InvitationMail{}, Message{}, err
	}
	msg, err := Invitation(inv, c.acceptURL)
	if err != nil {
		return InvitationMail{}, Message{}, err
	}
	return inv, msg, nil
}

// erased reports whether addr is under the reserved .invalid top-level
// domain (RFC 2606), where the erased markers of forgotten people are and
// no mail can go.
func erased(addr string) bool {
	return strings.HasSuffix(strings.ToLower(strings.TrimSpace(addr)), ".invalid")
}

// skip records, through q, the mail of eventID as failed for why, without
// sending it; a mail already sent or being sent is left as it is.
func (c *Consumer) skip(ctx context.Context, q querier, eventID string, msg Message, why string) error {
	if _, err := uuid.Parse(eventID); err != nil {
		c.log.Error().Str("event_id", eventID).Msg("invitation email to a forgotten invitee not recorded: the event ID is not a UUID")
		return nil
	}
	_, err := q.Exec(ctx, `
INSERT INTO mail_ledger AS l (event_id, recipient, subject, status, last_error)
VALUES ($1, $2, $3, 'failed', $4)
ON CONFLICT (event_id) DO UPDATE
SET status = 'failed', last_error = $4, claimed_until = NULL, next_attempt_at = NULL, event = NULL, updated_at = now()
WHERE l.status IN ('pending', 'failed')`, eventID, oneLine(msg.To), oneLine(msg.Subject), why)
	if err != nil {
		return fmt.Errorf("mail ledger: record event %s as not sent: %w", eventID, err)
	}
	return nil
}
