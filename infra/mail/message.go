package mail

import (
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/rosterhq/roster/domain"
)

// InvitationMail is what an invitation email says: where, who invited, as
// what, until when, and the token that accepts it.
type InvitationMail struct {
	PropertyID   string
	PropertyName string
	InvitationID string
	Email        string
	Role         domain.Role
	// InvitedBy is the inviter's verified email; empty when their token
	// did not verify it, and then InviterAccount names them.
	InvitedBy      string
	InviterAccount string
	ExpiresAt      time.Time
	Token          string
}

// Message is one mail to one recipient, ready to send. Its fields are plain
// values, not headers: the sender encodes them, so a name or address typed by
// a user cannot add a header or a recipient.
type Message struct {
	// ID names the mail for de-duplication: the same ID gives the same
	// Message-ID header, so a receiver may drop a copy sent twice. Deliverer
	// sets it to the event ID; empty gives a random Message-ID.
	ID string
	// To is the recipient's address.
	To string
	// Subject is the subject line.
	Subject string
	// Text is the plain-text body.
	Text string
	// HTML is the HTML alternative of Text; empty sends plain text only.
	HTML string
}

// invitationView is what the invitation templates show.
type invitationView struct {
	PropertyName string
	InvitedBy    string
	Role         string
	Expires      string
	Link         string
	Token        string
}

var invitationText = texttemplate.Must(texttemplate.New("text").Parse(`Hello,

{{.InvitedBy}} invited you to join {{.PropertyName}} as {{.Role}}.
{{if .Link}}
Accept the invitation:
{{.Link}}
{{else}}
Accept the invitation in the dashboard with this code:
{{.Token}}
{{end}}
The invitation is valid until {{.Expires}}. If you did not expect it, ignore this mail.
`))

// html/template escapes every value for where it appears, so a property
// named "<script>" is shown as text and the link cannot leave its attribute.
var invitationHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><body>
<p>Hello,</p>
<p><strong>{{.InvitedBy}}</strong> invited you to join <strong>{{.PropertyName}}</strong> as <strong>{{.Role}}</strong>.</p>
{{if .Link}}<p><a href="{{.Link}}">Accept the invitation</a></p>
<p>Or open this address: {{.Link}}</p>
{{else}}<p>Accept the invitation in the dashboard with this code: <code>{{.Token}}</code></p>
{{end}}<p>The invitation is valid until {{.Expires}}. If you did not expect it, ignore this mail.</p>
</body></html>
`))

// Invitation builds the mail inviting inv.Email: the property's name, who
// invited them, the role, the expiry and the accept link under acceptURL
// (ROSTER_ACCEPT_URL). Without acceptURL the mail gives the token as a code
// to paste instead. Its ID is left empty for the Deliverer to set.
// The only errors are a template failing to execute.
func Invitation(inv InvitationMail, acceptURL string) (Message, error) {
	v := invitationView{
		PropertyName: oneLine(inv.PropertyName),
		InvitedBy:    oneLine(inviter(inv)),
		Role:         oneLine(string(inv.Role)),
		Expires:      inv.ExpiresAt.UTC().Format(time.RFC1123),
		Token:        inv.Token,
	}
	if acceptURL != "" {
		v.Link = AcceptLink(acceptURL, inv.Token)
	}
	var text, html strings.Builder
	if err := invitationText.Execute(&text, v); err != nil {
		return Message{}, err
	}
	if err := invitationHTML.Execute(&html, v); err != nil {
		return Message{}, err
	}
	return Message{
		To:      strings.TrimSpace(inv.Email),
		Subject: oneLine(Subject(inv)),
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}

// inviter is who the mail says invited: the verified email, else the
// account, else "An admin". Anyone can put any address in an unverified
// claim, so one is never shown as who invited.
func inviter(inv InvitationMail) string {
	switch {
	case strings.TrimSpace(inv.InvitedBy) != "":
		return strings.TrimSpace(inv.InvitedBy)
	case strings.TrimSpace(inv.InviterAccount) != "":
		return "An admin (account " + strings.TrimSpace(inv.InviterAccount) + ")"
	}
	return "An admin"
}

// oneLine turns every run of control characters and spaces into one space.
// The mail library already encodes header values so a line break cannot
// start a header; this keeps user-typed names readable on one line too.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}
