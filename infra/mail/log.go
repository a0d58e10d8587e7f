// Package mail delivers invitation emails. Without an SMTP server configured
// (the development default), LogSender writes each mail to the log so a
// developer can follow the accept link.
package mail

import (
	"context"
	"net/url"
	"time"

	"github.com/rs/zerolog"
)

// AcceptLink is the dashboard URL the invitee follows, with the token.
// base is the configured ROSTER_ACCEPT_URL; the token goes in its query.
func AcceptLink(base, token string) string {
	u, err := url.Parse(base)
	if err != nil || base == "" {
		return base + "?token=" + url.QueryEscape(token)
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

// LogSender is the Sender of development: it writes each mail to a logger
// instead of sending it. It is safe for concurrent use.
type LogSender struct {
	log       zerolog.Logger
	acceptURL string
}

var _ Sender = (*LogSender)(nil)

// NewLogSender returns a sender logging to log, with links under acceptURL.
func NewLogSender(log zerolog.Logger, acceptURL string) *LogSender {
	return &LogSender{log: log, acceptURL: acceptURL}
}

// Send logs msg. It never fails. For an invitation (the Consumer puts it in
// ctx), the line carries what a developer needs to accept: accept_link, a
// link under the dashboard URL, or without one accept_with, the API call
// with the token.
func (s *LogSender) Send(ctx context.Context, msg Message) error {
	ev := s.log.Info()
	if inv, ok := ctx.Value(invitationKey{}).(InvitationMail); ok {
		if s.acceptURL == "" {
			ev = ev.Str("accept_with", `POST /v1/invitations/accept {"token":"`+inv.Token+`"}`)
		} else {
			ev = ev.Str("accept_link", AcceptLink(s.acceptURL, inv.Token))
		}
		ev = ev.Str("property_id", inv.PropertyID).
			Str("invitation_id", inv.InvitationID).
			Str("role", string(inv.Role)).
			Time("expires_at", inv.ExpiresAt)
	}
	ev.Str("to", msg.To).
		Str("subject", msg.Subject).
		Str("event_id", msg.ID).
		Msg("invitation email (not sent: no SMTP server configured)")
	return nil
}

// invitationKey carries the invitation a Message was made of to LogSender,
// which shows the token apart from the body. The body already holds it, so
// nothing leaks that the mail did not carry.
type invitationKey struct{}

func withInvitation(ctx context.Context, inv InvitationMail) context.Context {
	return context.WithValue(ctx, invitationKey{}, inv)
}

// Subject is the subject line of an invitation mail.
func Subject(inv InvitationMail) string {
	return inviter(inv) + " invited you to " + inv.PropertyName + " as " + string(inv.Role) +
		" (until " + inv.ExpiresAt.UTC().Format(time.RFC1123) + ")"
}
