package domain_test

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster/domain"
)

// Invariant 2: an email is trimmed, lower-cased and validated.
func TestInvariant2_EmailIsNormalised(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"plain address is kept", "pat@example.com", "pat@example.com"},
		{"surrounding spaces are trimmed", "  pat@example.com \t\n", "pat@example.com"},
		{"domain is lower-cased", "pat@EXAMPLE.Com", "pat@example.com"},
		{"local part is lower-cased", "Pat.Lee@example.com", "pat.lee@example.com"},
		{"plus addressing is kept", "pat+roster@example.com", "pat+roster@example.com"},
		{"subdomains are allowed", "pat@mail.example.co.uk", "pat@mail.example.co.uk"},
		{"shortest dotted domain is allowed", "a@b.c", "a@b.c"},
		{"254 characters are allowed", strings.Repeat("a", 247) + "@ex.com", strings.Repeat("a", 247) + "@ex.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.NormalizeEmail(tt.raw)
			if err != nil {
				t.Fatalf("NormalizeEmail(%q) = %v", tt.raw, err)
			}
			if got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

// Invariant 2: an invalid email is refused, naming the offending value.
func TestInvariant2_InvalidEmailIsRefusedAndNamed(t *testing.T) {
	tooLong := strings.Repeat("a", 248) + "@ex.com" // 255 characters
	tests := []struct {
		name, raw string
		// named is what the message must quote; the raw value unless set.
		named string
	}{
		{name: "empty", raw: ""},
		{name: "only spaces", raw: "   "},
		{name: "no @", raw: "pat.example.com"},
		{name: "two @", raw: "pat@home@example.com"},
		{name: "nothing before @", raw: "@example.com"},
		{name: "nothing after @", raw: "pat@"},
		{name: "no dotted domain", raw: "pat@localhost"},
		{name: "domain starting with a dot", raw: "pat@.example.com"},
		{name: "two dots in domain", raw: "pat@example..com"},
		{name: "trailing dot", raw: "pat@example.com."},
		{name: "address literal", raw: "pat@[192.0.2.1]"},
		{name: "display-name form", raw: "Pat <pat@example.com>"},
		{name: "angle brackets only", raw: "<pat@example.com>"},
		{name: "space inside", raw: "pat lee@example.com"},
		{name: "tab inside", raw: "pat\t@example.com"},
		{name: "quoted local part with a space", raw: `"pat lee"@example.com`, named: `\"pat lee\"@example.com`},
		{name: "comment", raw: "pat(work)@example.com"},
		{name: "too long", raw: tooLong, named: tooLong[:80]},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			got, err := domain.NormalizeEmail(tt.raw)
			if err == nil {
				t.Fatalf("NormalizeEmail(%q) = %q, want an error", tt.raw, got)
			}
			if k, c := domain.KindOf(err), domain.CodeOf(err); k != domain.KindInvalid || c != domain.CodeInvalidEmail {
				t.Fatalf("error = %s/%s, want invalid/invalid_email", k, c)
			}
			named := tt.named
			if named == "" {
				named = tt.raw
			}
			if !strings.Contains(err.Error(), `"`+named) {
				t.Errorf("message %q does not name the value %q", err.Error(), tt.raw)
			}
		})
	}
}

// Invariant 2 through the decisions: invites and the creator's email are
// stored normalised, and a bad one is refused with the row named.
func TestInvariant2_DecisionsNormaliseEmails(t *testing.T) {
	run(t, []spec{
		{
			name:  "invite stores the email trimmed and lower-cased",
			given: created(),
			when:  invite(owner, row("inv-1", "  Pat.Lee@Example.COM ", "agent")),
			then:  []domain.Event{newInvite(owner, "inv-1", "pat.lee@example.com", domain.RoleAgent)},
		},
		{
			name:  "invite of a display-name address is refused naming it",
			given: created(),
			when:  invite(owner, row("inv-1", "Pat <pat@example.com>", "agent")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidEmail, says: "Pat <pat@example.com>"},
		},
		{
			name: "create stores the owner's email lower-cased",
			when: create(domain.Actor{AccountID: owner.AccountID, Email: " Owner@Example.com", EmailVerified: true}, "Shop"),
			then: created(),
		},
		{
			name:  "create with an invalid creator email is refused",
			when:  create(domain.Actor{AccountID: owner.AccountID, Email: "owner"}, "Shop"),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidEmail, says: `"owner"`},
		},
	})
}

func TestInvariant2_BadEmailRowNamesTheValue(t *testing.T) {
	_, err := given(created()...).Invite(owner, tNow, ttl, []domain.InviteRequest{row("inv-1", "pat@@example.com", "agent")})
	ps := problems(t, err)
	if len(ps) != 1 || ps[0].Index != 0 || ps[0].Field != "email" || ps[0].Value != "pat@@example.com" ||
		ps[0].Code != domain.CodeInvalidEmail {
		t.Errorf("problems = %+v, want row 0 email pat@@example.com invalid_email", ps)
	}
}
