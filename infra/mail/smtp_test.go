package mail

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSMTPSenderDeliversOverEncryptedAuthenticatedSessions(t *testing.T) {
	tests := []struct {
		name   string
		flags  []string
		scheme string
		query  string
	}{
		{"STARTTLS when the server offers it", []string{"-user", "roster", "-pass", "s3cret"}, "smtp", ""},
		{"STARTTLS required", []string{"-user", "roster", "-pass", "s3cret"}, "smtp", "starttls=required"},
		{"implicit TLS with smtps", []string{"-user", "roster", "-pass", "s3cret", "-implicit-tls"}, "smtps", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startSMTPServer(t, tt.flags...)
			msg, err := Invitation(testInvitation(), testAcceptURL)
			if err != nil {
				t.Fatal(err)
			}
			msg.ID = "5f0e4a52-8a63-4b43-9a51-7f3c0a2b1d9e"
			if err := srv.sender(srv.url(tt.scheme, "roster", "s3cret", tt.query)).Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.received()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			r := got[0]
			if diff := cmp.Diff(received{From: "roster@mail.example.com", To: []string{"ann@example.com"}, TLS: true, User: "roster"},
				received{From: r.From, To: r.To, TLS: r.TLS, User: r.User}); diff != "" {
				t.Errorf("envelope (-want +got):\n%s", diff)
			}
			m := parseMail(t, r.Data)
			if m.Subject != Subject(testInvitation()) {
				t.Errorf("Subject = %q, want %q", m.Subject, Subject(testInvitation()))
			}
			if want := "<roster.5f0e4a52-8a63-4b43-9a51-7f3c0a2b1d9e@mail.example.com>"; m.Header.Get("Message-Id") != want {
				t.Errorf("Message-ID = %q, want %q", m.Header.Get("Message-Id"), want)
			}
			if got := m.Header.Get("To"); got != "<ann@example.com>" {
				t.Errorf("To = %q, want <ann@example.com>", got)
			}
			link := AcceptLink(testAcceptURL, testInvitation().Token)
			for _, body := range []struct{ name, text string }{{"text", m.Text}, {"html", m.HTML}} {
				for _, want := range []string{"Acme Support", "bob@example.com", "admin", "Wed, 02 Jan 2030 03:04:05 UTC", link} {
					if !strings.Contains(body.text, want) {
						t.Errorf("%s part lacks %q:\n%s", body.name, want, body.text)
					}
				}
			}
		})
	}
}

func TestSMTPSenderNeverSendsAPasswordInClearText(t *testing.T) {
	tests := []struct {
		name, query, wantErr string
	}{
		{"opportunistic STARTTLS without an offer does not fall back to PLAIN", "", "supported authentication mechanism"},
		{"required STARTTLS without an offer stops before AUTH", "starttls=required", "does not support STARTTLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A server without TLS that offers AUTH PLAIN anyway.
			noTLS := startPlainSMTPServer(t, "-user", "roster", "-pass", "s3cret", "-allow-insecure-auth")
			msg, _ := Invitation(testInvitation(), testAcceptURL)
			err := noTLS.sender(noTLS.url("smtp", "roster", "s3cret", tt.query)).Send(context.Background(), msg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Send = %v, want an error containing %q", err, tt.wantErr)
			}
			if Permanent(err) {
				t.Errorf("Permanent(%v) = true; a configuration problem is worth retrying once fixed", err)
			}
			if n := len(noTLS.received()); n != 0 {
				t.Errorf("server received %d messages, want 0", n)
			}
		})
	}
}

func TestSMTPSenderTellsRefusalsFromTemporaryFailures(t *testing.T) {
	tests := []struct {
		name          string
		flags         []string
		wantPermanent bool
	}{
		{"550 on RCPT refuses the recipient for good", []string{"-refuse-rcpt", "550"}, true},
		{"451 on RCPT is temporary", []string{"-refuse-rcpt", "451"}, false},
		{"554 at the end of DATA refuses the message for good", []string{"-refuse-data", "554"}, true},
		{"452 at the end of DATA is temporary", []string{"-refuse-data", "452"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startSMTPServer(t, tt.flags...)
			msg, _ := Invitation(testInvitation(), testAcceptURL)
			err := srv.sender(srv.url("smtp", "", "", "starttls=required")).Send(context.Background(), msg)
			if err == nil {
				t.Fatal("Send = nil, want an error")
			}
			if Permanent(err) != tt.wantPermanent {
				t.Errorf("Permanent(%v) = %t, want %t", err, Permanent(err), tt.wantPermanent)
			}
		})
	}
}

func TestSMTPSenderToADeadServerFailsTemporarily(t *testing.T) {
	srv := startSMTPServer(t)
	snd := srv.sender(srv.url("smtp", "", "", ""))
	srv.kill()
	msg, _ := Invitation(testInvitation(), testAcceptURL)
	err := snd.Send(context.Background(), msg)
	if err == nil || Permanent(err) {
		t.Fatalf("Send to a dead server = %v, want a temporary error", err)
	}
}

func TestSMTPSenderKeepsUserTextOutOfTheHeaders(t *testing.T) {
	srv := startSMTPServer(t)
	inv := testInvitation()
	inv.PropertyName = "Acme\r\nBcc: eve@example.com\r\nX-Injected: yes"
	inv.InvitedBy = "bob@example.com\nReply-To: eve@example.com"
	msg, err := Invitation(inv, testAcceptURL)
	if err != nil {
		t.Fatal(err)
	}
	// Even a subject that skipped Invitation's folding cannot add a header.
	msg.Subject = "Hello\r\nBcc: eve@example.com"
	if err := srv.sender(srv.url("smtp", "", "", "")).Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	if diff := cmp.Diff([]string{"ann@example.com"}, got[0].To); diff != "" {
		t.Errorf("envelope recipients (-want +got):\n%s", diff)
	}
	m := parseMail(t, got[0].Data)
	for _, h := range []string{"Bcc", "X-Injected", "Reply-To"} {
		if v := m.Header.Get(h); v != "" {
			t.Errorf("header %s = %q was injected", h, v)
		}
	}

	bad := msg
	bad.To = "ann@example.com\r\nBcc: eve@example.com"
	err = srv.sender(srv.url("smtp", "", "", "")).Send(context.Background(), bad)
	if !Permanent(err) {
		t.Errorf("Send to %q = %v, want a permanent error", bad.To, err)
	}
}
