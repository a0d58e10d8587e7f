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

// Invariant 5 rests on this: two addresses are the same inbox exactly when
// their normal forms are equal, so a look-alike of an address must either be
// refused or normalise to something else, unless it is the same inbox
// spelled another way (a domain's case, width or composition, which DNS
// lookups map to one A-label and no registry lets anyone own apart).
func TestInvariant5_ConfusableEmailsNeverPassForAnother(t *testing.T) {
	tests := []struct {
		name, raw string
		// imitates is the address raw looks like.
		imitates string
		// same says raw is imitates' inbox, spelled another way.
		same bool
		// want is the normal form; empty when raw is refused, with says in
		// the message.
		want, says string
	}{
		// Local parts are ASCII: the look-alikes Unicode folding makes are refused.
		{name: "Kelvin sign in the local part", raw: "\u212Aate@example.com", imitates: "kate@example.com",
			says: "non-ASCII character '\u212A' (U+212A) at character 1"},
		{name: "Kelvin sign in an upper-case local part", raw: "\u212AATE@EXAMPLE.COM", imitates: "kate@example.com", says: "U+212A"},
		{name: "dotted capital I in the local part", raw: "\u0130van@example.com", imitates: "ivan@example.com", says: "U+0130) at character 1"},
		{name: "dotless i in the local part", raw: "\u0131van@example.com", imitates: "ivan@example.com", says: "U+0131"},
		{name: "fullwidth letters in the local part", raw: "\uFF4Bate@example.com", imitates: "kate@example.com", says: "U+FF4B"},
		{name: "fullwidth capitals in the local part", raw: "\uFF2B\uFF21\uFF34\uFF25@example.com", imitates: "kate@example.com", says: "U+FF2B"},
		{name: "Cyrillic a in the local part", raw: "k\u0430te@example.com", imitates: "kate@example.com", says: "U+0430) at character 2"},
		{name: "composed e-acute in the local part", raw: "jos\u00e9@example.com", imitates: "jose\u0301@example.com", says: "U+00E9) at character 4"},
		{name: "decomposed e-acute in the local part", raw: "jose\u0301@example.com", imitates: "jos\u00e9@example.com", says: "U+0301) at character 5"},

		// The domain takes ASCII host names only (infra/emailaddr maps a
		// Unicode domain to its A-label before): anything else is refused.
		{name: "Cyrillic e in the domain", raw: "kate@\u0435xample.com", imitates: "kate@example.com", says: "U+0435) at character 6 and is no valid internationalised domain name"},
		{name: "dotted capital I in the domain", raw: "kate@\u0130stanbul.example", imitates: "kate@istanbul.example", says: "U+0130"},
		{name: "dotless i in the domain", raw: "kate@\u0131stanbul.example", imitates: "kate@istanbul.example", says: "U+0131"},
		{name: "fullwidth letters in the domain", raw: "kate@\uFF45xample.com", imitates: "kate@example.com", says: "U+FF45"},
		{name: "fullwidth capitals in the domain", raw: "kate@\uFF25XAMPLE.COM", imitates: "kate@example.com", says: "U+FF25"},
		{name: "Kelvin sign in the domain", raw: "kate@\u212Aelvin.example", imitates: "kate@kelvin.example", says: "U+212A"},
		{name: "upper-case IDN domain", raw: "pat@B\u00dcCHER.example", imitates: "pat@xn--bcher-kva.example", says: "U+00DC"},
		{name: "IDN domain as its A-label in capitals", raw: "pat@XN--BCHER-KVA.example", imitates: "pat@xn--bcher-kva.example", same: true, want: "pat@xn--bcher-kva.example"},
		{name: "composed e-acute in the domain", raw: "pat@caf\u00e9.example", imitates: "pat@xn--caf-dma.example", says: "U+00E9"},
		{name: "decomposed e-acute in the domain", raw: "pat@cafe\u0301.example", imitates: "pat@xn--caf-dma.example", says: "U+0301"},

		// A domain has no final dot, however it is written.
		{name: "trailing dot", raw: "kate@example.com.", imitates: "kate@example.com", says: "ends with a dot"},
		{name: "trailing ideographic full stop", raw: "kate@example.com\u3002", imitates: "kate@example.com", says: "U+3002"},
		{name: "trailing fullwidth full stop", raw: "kate@example.com\uFF0E", imitates: "kate@example.com", says: "U+FF0E"},

		// Nothing invisible, anywhere.
		{name: "NUL first", raw: "\x00kate@example.com", imitates: "kate@example.com", says: "NUL (U+0000) at character 1"},
		{name: "NUL in the local part", raw: "kate\x00@example.com", imitates: "kate@example.com", says: "NUL (U+0000) at character 5"},
		{name: "NUL in the domain", raw: "kate@exa\x00mple.com", imitates: "kate@example.com", says: "NUL (U+0000) at character 9"},
		{name: "NUL last", raw: "kate@example.com\x00", imitates: "kate@example.com", says: "NUL (U+0000) at character 17"},
		{name: "NUL after leading spaces, counted in the value as sent", raw: "  ka\x00te@example.com", imitates: "kate@example.com", says: "at character 5"},
		{name: "escape character", raw: "kate\x1b@example.com", imitates: "kate@example.com", says: "control character (U+001B) at character 5"},
		{name: "DEL in the domain", raw: "kate@example\x7f.com", imitates: "kate@example.com", says: "U+007F"},
		{name: "C1 control", raw: "ka\u0085te@example.com", imitates: "kate@example.com", says: "U+0085) at character 3"},
		{name: "line break and a header", raw: "kate@example.com\r\nBcc: eve@example.com", imitates: "kate@example.com", says: "U+000D) at character 17"},
		{name: "zero-width space in the local part", raw: "ka\u200bte@example.com", imitates: "kate@example.com", says: "invisible formatting character (U+200B) at character 3"},
		{name: "zero-width space in the domain, which IDNA would drop", raw: "kate@exa\u200bmple.com", imitates: "kate@example.com", says: "U+200B) at character 9"},
		{name: "zero-width joiner", raw: "kate@exam\u200dple.com", imitates: "kate@example.com", says: "U+200D"},
		{name: "soft hyphen", raw: "ka\u00adte@example.com", imitates: "kate@example.com", says: "U+00AD"},
		{name: "byte order mark", raw: "\ufeffkate@example.com", imitates: "kate@example.com", says: "U+FEFF) at character 1"},
		{name: "right-to-left override", raw: "kate@\u202emoc.elpmaxe", imitates: "kate@example.com", says: "U+202E) at character 6"},
		{name: "invalid UTF-8 in the local part", raw: "kat\xffe@example.com", imitates: "kate@example.com", says: "byte that is not UTF-8 (0xFF) at character 4"},
		{name: "invalid UTF-8 in the domain", raw: "kate@ex\xc3ample.com", imitates: "kate@example.com", says: "byte that is not UTF-8 (0xC3) at character 8"},
		{name: "a lone surrogate's encoding", raw: "kate@ex\xed\xa0\x80ample.com", imitates: "kate@example.com", says: "not UTF-8 (0xED)"},

		// A fullwidth @ is no @.
		{name: "fullwidth commercial at", raw: "kate\uFF20example.com", imitates: "kate@example.com", says: "exactly one @"},
		// STD3 rules: host names are letters, digits and hyphens.
		{name: "underscore in the domain", raw: "kate@ex_ample.com", imitates: "kate@example.com", says: "only letters, digits, hyphens and dots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.NormalizeEmail(tt.raw)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("NormalizeEmail(%q) = %q, want it refused", tt.raw, got)
				}
				if k, c := domain.KindOf(err), domain.CodeOf(err); k != domain.KindInvalid || c != domain.CodeInvalidEmail {
					t.Fatalf("error = %s/%s, want invalid/invalid_email", k, c)
				}
				if !strings.Contains(err.Error(), tt.says) || !strings.Contains(err.Error(), `"`+tt.raw[:2]) {
					t.Errorf("message %q should name the value and say %q", err.Error(), tt.says)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
			imitated, ierr := domain.NormalizeEmail(tt.imitates)
			if same := err == nil && ierr == nil && got == imitated; same != tt.same {
				t.Errorf("%q and %q normalise to %q and %q (errors %v, %v): same inbox %v, want %v",
					tt.raw, tt.imitates, got, imitated, err, ierr, same, tt.same)
			}
		})
	}
}

// EmailKey compares stored values and claims: an address by its normal
// form, anything else only with itself, never lower-cased into another.
func TestEmailKeyComparesRefusedSpellingsOnlyWithThemselves(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"an address is normalised", " Kate@EXAMPLE.com ", "kate@example.com"},
		{"an A-label in capitals is lower-cased", "pat@XN--BCHER-KVA.example", "pat@xn--bcher-kva.example"},
		{"a Kelvin sign stays as it is", "\u212Aate@example.com", "\u212Aate@example.com"},
		{"a value that is no address stays as it is, trimmed", " Not An Email ", "Not An Email"},
		{"empty stays empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.EmailKey(tt.raw); got != tt.want {
				t.Errorf("EmailKey(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}
