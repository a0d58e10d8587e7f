package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/commands"
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

func TestLogMailerWithoutADashboardTellsHowToAcceptThroughTheAPI(t *testing.T) {
	var buf bytes.Buffer
	m := NewLogMailer(zerolog.New(&buf), "")
	if err := m.SendInvitation(context.Background(), commands.InvitationMail{Email: "ann@example.com", Token: "tok"}); err != nil {
		t.Fatalf("SendInvitation: %v", err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, buf.String())
	}
	if want := `POST /v1/invitations/accept {"token":"tok"}`; line["accept_with"] != want {
		t.Errorf("accept_with = %v, want %q", line["accept_with"], want)
	}
	if _, ok := line["accept_link"]; ok {
		t.Errorf("log line has an accept_link without a dashboard URL: %v", line)
	}
}

func TestLogMailerWritesTheLinkAndNoErrors(t *testing.T) {
	var buf bytes.Buffer
	m := NewLogMailer(zerolog.New(&buf), "http://localhost:3000/accept")
	err := m.SendInvitation(context.Background(), commands.InvitationMail{
		PropertyID: "p", PropertyName: "Shop", InvitationID: "i", Email: "ann@example.com",
		Role: "agent", InvitedBy: "bob@example.com", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), Token: "tok",
	})
	if err != nil {
		t.Fatalf("SendInvitation: %v", err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line is not JSON: %v: %s", err, buf.String())
	}
	if line["to"] != "ann@example.com" || line["accept_link"] != "http://localhost:3000/accept?token=tok" {
		t.Errorf("log line = %v, want the invitee and the accept link", line)
	}
	if want := "bob@example.com invited you to Shop as agent (until Wed, 02 Jan 2030 03:04:05 UTC)"; line["subject"] != want {
		t.Errorf("subject = %q, want %q", line["subject"], want)
	}
}
