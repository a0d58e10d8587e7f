package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseSMTPURLReadsServerCredentialsAndTLSMode(t *testing.T) {
	tests := []struct {
		name, url string
		want      SMTPConfig
	}{
		{"smtp defaults to submission port and opportunistic STARTTLS", "smtp://mail.example.com",
			SMTPConfig{Host: "mail.example.com", Port: 587, TLS: STARTTLSOpportunistic}},
		{"smtps defaults to port 465 and TLS from the start", "smtps://mail.example.com",
			SMTPConfig{Host: "mail.example.com", Port: 465, TLS: ImplicitTLS}},
		{"user and password are percent-decoded", "smtp://ann%40example.com:p%40ss%3Aw%2Fd@mail.example.com:2525",
			SMTPConfig{Host: "mail.example.com", Port: 2525, Username: "ann@example.com", Password: "p@ss:w/d", TLS: STARTTLSOpportunistic}},
		{"starttls=required insists on STARTTLS", "smtp://mail.example.com?starttls=required",
			SMTPConfig{Host: "mail.example.com", Port: 587, TLS: STARTTLSRequired}},
		{"starttls=none stays in clear text", "smtp://mail.example.com:25?starttls=none",
			SMTPConfig{Host: "mail.example.com", Port: 25, TLS: STARTTLSNone}},
		{"starttls=opportunistic is the default said aloud", "smtp://mail.example.com?starttls=opportunistic",
			SMTPConfig{Host: "mail.example.com", Port: 587, TLS: STARTTLSOpportunistic}},
		{"timeout sets the dial and command timeout", "smtps://mail.example.com?timeout=5s",
			SMTPConfig{Host: "mail.example.com", Port: 465, TLS: ImplicitTLS, Timeout: 5 * time.Second}},
		{"scheme is case-insensitive and IPv6 hosts lose their brackets", "SMTP://[::1]:1025",
			SMTPConfig{Host: "::1", Port: 1025, TLS: STARTTLSOpportunistic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.url)
			if err != nil {
				t.Fatalf("ParseSMTPURL(%q): %v", tt.url, err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(SMTPConfig{}, "TLSConfig")); diff != "" {
				t.Errorf("ParseSMTPURL(%q) (-want +got):\n%s", tt.url, diff)
			}
		})
	}
}

func TestParseSMTPURLRefusesWhatItCannotHonourWithoutQuotingThePassword(t *testing.T) {
	tests := []struct {
		name, url, wantErr string
	}{
		{"another scheme", "http://u:secret@mail.example.com", `scheme "http" is not smtp or smtps`},
		{"no host", "smtp://u:secret@:25", "no host"},
		{"port out of range", "smtp://u:secret@mail.example.com:70000", `port "70000"`},
		{"starttls with smtps", "smtps://u:secret@mail.example.com?starttls=required", "starttls does not apply to smtps"},
		{"unknown starttls value", "smtp://u:secret@mail.example.com?starttls=maybe", `starttls="maybe"`},
		{"unknown option", "smtp://u:secret@mail.example.com?tls=yes", `unknown option "tls"`},
		{"bad timeout", "smtp://u:secret@mail.example.com?timeout=-1s", `timeout="-1s"`},
		{"a path", "smtp://u:secret@mail.example.com/inbox", `unexpected path "/inbox"`},
		{"unparsable", "smtp://u:secret@mail.example.com:port", "smtp url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSMTPURL(tt.url)
			if err == nil {
				t.Fatalf("ParseSMTPURL(%q) = nil error, want one containing %q", tt.url, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSMTPURL(%q) = %q, want it to contain %q", tt.url, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseSMTPURL(%q) = %q, which shows the password", tt.url, err)
			}
		})
	}
}

func TestNewSMTPSenderRefusesAnIncompleteConfiguration(t *testing.T) {
	tests := []struct {
		name string
		c    SMTPConfig
		from string
	}{
		{"from is not an address", SMTPConfig{Host: "mail.example.com", Port: 587}, "roster"},
		{"no host", SMTPConfig{Port: 587}, "roster@example.com"},
		{"no port", SMTPConfig{Host: "mail.example.com"}, "roster@example.com"},
		{"unknown TLS mode", SMTPConfig{Host: "mail.example.com", Port: 587, TLS: TLSMode(42)}, "roster@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSMTPSender(tt.c, tt.from); err == nil {
				t.Errorf("NewSMTPSender(%+v, %q) = nil error", tt.c, tt.from)
			}
		})
	}
}
