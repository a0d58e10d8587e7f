package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"
)

func TestAcceptLinkCarriesTheTokenInTheQuery(t *testing.T) {
	tests := []struct {
		name, base, token, want string
	}{
		{"plain base", "https://app.example.com/accept", "a.b.c", "https://app.example.com/accept?token=a.b.c"},
		{"base with a query keeps it", "https://app.example.com/accept?src=mail", "a.b.c", "https://app.example.com/accept?src=mail&token=a.b.c"},
		{"token is escaped", "https://app.example.com/accept", "a+b/c", "https://app.example.com/accept?token=a%2Bb%2Fc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AcceptLink(tt.base, tt.token); got != tt.want {
				t.Errorf("AcceptLink(%q, %q) = %q, want %q", tt.base, tt.token, got, tt.want)
			}
		})
	}
}

// logLine sends the invitation mail through a LogSender and returns the
// one line it logged.
func logLine(t *testing.T, acceptURL string) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	inv := testInvitation()
	msg, err := Invitation(inv, acceptURL)
	if err != nil {
		t.Fatal(err)
	}
	msg.ID = "5f0e4a52-8a63-4b43-9a51-7f3c0a2b1d9e"
	if err := NewLogSender(zerolog.New(&buf), acceptURL).Send(withInvitation(context.Background(), inv), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, buf.String())
	}
	return line
}

func TestLogSenderShowsHowToAccept(t *testing.T) {
	inv := testInvitation()
	tests := []struct {
		name, acceptURL, field, want, absent string
	}{
		{"without a dashboard URL it gives the API call with the token", "",
			"accept_with", `POST /v1/invitations/accept {"token":"` + inv.Token + `"}`, "accept_link"},
		{"with a dashboard URL it gives the link", testAcceptURL,
			"accept_link", AcceptLink(testAcceptURL, inv.Token), "accept_with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := logLine(t, tt.acceptURL)
			if line[tt.field] != tt.want {
				t.Errorf("%s = %v, want %q", tt.field, line[tt.field], tt.want)
			}
			if _, ok := line[tt.absent]; ok {
				t.Errorf("log line has %s too: %v", tt.absent, line)
			}
			if line["to"] != inv.Email || line["subject"] != Subject(inv) || line["event_id"] != "5f0e4a52-8a63-4b43-9a51-7f3c0a2b1d9e" {
				t.Errorf("log line = %v, want the invitee, the subject and the event", line)
			}
		})
	}
}

func TestSubjectNamesInviterPropertyRoleAndExpiry(t *testing.T) {
	if got, want := Subject(testInvitation()), "bob@example.com invited you to Acme Support as admin (until Wed, 02 Jan 2030 03:04:05 UTC)"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
}
