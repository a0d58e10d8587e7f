// Package mail delivers invitation emails. Without an SMTP server configured
// (the development default), LogMailer writes each mail to the log so a
// developer can follow the accept link.
package mail

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
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

// LogMailer writes invitation mails to a logger instead of sending them.
// It is safe for concurrent use.
type LogMailer struct {
	log       zerolog.Logger
	acceptURL string
}

var _ commands.Mailer = (*LogMailer)(nil)

// NewLogMailer returns a mailer logging to log, with links under acceptURL.
func NewLogMailer(log zerolog.Logger, acceptURL string) *LogMailer {
	return &LogMailer{log: log, acceptURL: acceptURL}
}

// SendInvitation logs the mail the invitee would receive. It never fails.
// Without a dashboard URL to link to, it logs how to accept through the API.
func (m *LogMailer) SendInvitation(_ context.Context, inv commands.InvitationMail) error {
	ev := m.log.Info()
	if m.acceptURL == "" {
		ev = ev.Str("accept_with", `POST /v1/invitations/accept {"token":"`+inv.Token+`"}`)
	} else {
		ev = ev.Str("accept_link", AcceptLink(m.acceptURL, inv.Token))
	}
	ev.
		Str("to", inv.Email).
		Str("subject", Subject(inv)).
		Str("property_id", inv.PropertyID).
		Str("invitation_id", inv.InvitationID).
		Str("role", string(inv.Role)).
		Time("expires_at", inv.ExpiresAt).
		Msg("invitation email (not sent: no SMTP server configured)")
	return nil
}

// Subject is the subject line of an invitation mail.
func Subject(inv commands.InvitationMail) string {
	who := strings.TrimSpace(inv.InvitedBy)
	if who == "" {
		who = "An admin"
	}
	return who + " invited you to " + inv.PropertyName + " as " + string(inv.Role) +
		" (until " + inv.ExpiresAt.UTC().Format(time.RFC1123) + ")"
}
