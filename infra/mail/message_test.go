package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/domain"
)

const testAcceptURL = "https://app.example.com/accept"

func testInvitation() InvitationMail {
	return InvitationMail{
		PropertyID:   "7d0c8b1e-5d2f-4f7e-9d7e-0a4c2c1b9f10",
		PropertyName: "Acme Support",
		InvitationID: "2b8f6c3a-1e4d-4c6b-8a9f-3d2e1f0a7b6c",
		Email:        "ann@example.com",
		Role:         domain.RoleAdmin,
		InvitedBy:    "bob@example.com",
		ExpiresAt:    time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		Token:        "prop.inv.mAc-_x",
	}
}

func TestInvitationSaysWhereWhoWhatUntilWhenAndHowToAccept(t *testing.T) {
	inv := testInvitation()
	msg, err := Invitation(inv, testAcceptURL)
	if err != nil {
		t.Fatalf("Invitation: %v", err)
	}
	link := AcceptLink(testAcceptURL, inv.Token)
	for _, part := range []struct{ name, body string }{{"text", msg.Text}, {"html", msg.HTML}} {
		for _, want := range []string{"Acme Support", "bob@example.com", "admin", "Wed, 02 Jan 2030 03:04:05 UTC"} {
			if !strings.Contains(part.body, want) {
				t.Errorf("%s body lacks %q:\n%s", part.name, want, part.body)
			}
		}
	}
	if !strings.Contains(msg.Text, link) {
		t.Errorf("text body lacks the link %q:\n%s", link, msg.Text)
	}
	// In HTML the & of a query is written &amp;, which a browser reads back.
	if !strings.Contains(msg.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`) {
		t.Errorf("html body lacks a link to %q:\n%s", link, msg.HTML)
	}
	if msg.To != "ann@example.com" || msg.Subject != Subject(inv) {
		t.Errorf("To, Subject = %q, %q; want ann@example.com, %q", msg.To, msg.Subject, Subject(inv))
	}
}

func TestInvitationShowsUserTypedTextAsText(t *testing.T) {
	tests := []struct {
		name, propertyName, inHTML, notInHTML, subject string
	}{
		{"markup is escaped in HTML", `<script>alert(1)</script>`, "&lt;script&gt;", "<script>",
			"bob@example.com invited you to <script>alert(1)</script> as admin (until Wed, 02 Jan 2030 03:04:05 UTC)"},
		{"line breaks fold into one line", "Acme\r\nBcc: eve@example.com", "Acme Bcc: eve@example.com", "\r\n",
			"bob@example.com invited you to Acme Bcc: eve@example.com as admin (until Wed, 02 Jan 2030 03:04:05 UTC)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := testInvitation()
			inv.PropertyName = tt.propertyName
			msg, err := Invitation(inv, testAcceptURL)
			if err != nil {
				t.Fatalf("Invitation: %v", err)
			}
			if !strings.Contains(msg.HTML, tt.inHTML) || strings.Contains(msg.HTML, tt.notInHTML) {
				t.Errorf("html body should contain %q and not %q:\n%s", tt.inHTML, tt.notInHTML, msg.HTML)
			}
			if msg.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", msg.Subject, tt.subject)
			}
		})
	}
}

func TestInvitationWithoutAnAcceptURLGivesTheCodeToPaste(t *testing.T) {
	inv := testInvitation()
	msg, err := Invitation(inv, "")
	if err != nil {
		t.Fatalf("Invitation: %v", err)
	}
	for _, body := range []string{msg.Text, msg.HTML} {
		if !strings.Contains(body, inv.Token) || strings.Contains(body, "href") {
			t.Errorf("body should give the code %q and no link:\n%s", inv.Token, body)
		}
	}
}
