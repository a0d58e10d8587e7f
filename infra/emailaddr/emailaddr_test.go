package emailaddr

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster/domain"
)

// Invariant 5 in docs/ARCHITECTURE.md rests on this, at every edge: two addresses are the same inbox exactly when
// their normal forms are equal, so a look-alike of an address must either be
// refused or normalise to something else, unless it is the same inbox
// spelled another way (a domain's case, width or composition, which DNS
// lookups map to one A-label and no registry lets anyone own apart).
func TestNormalizeLetsNoLookAlikePassForAnother(t *testing.T) {
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

		// Domains go to their A-label: a different domain stays different...
		{name: "Cyrillic e in the domain", raw: "kate@\u0435xample.com", imitates: "kate@example.com", want: "kate@xn--xample-2of.com"},
		{name: "dotted capital I in the domain", raw: "kate@\u0130stanbul.example", imitates: "kate@istanbul.example", want: "kate@xn--istanbul-o0e.example"},
		{name: "dotless i in the domain", raw: "kate@\u0131stanbul.example", imitates: "kate@istanbul.example", want: "kate@xn--stanbul-qfb.example"},
		// ...and the same domain spelled another way is the same.
		{name: "fullwidth letters in the domain", raw: "kate@\uFF45xample.com", imitates: "kate@example.com", same: true, want: "kate@example.com"},
		{name: "fullwidth capitals in the domain", raw: "kate@\uFF25XAMPLE.COM", imitates: "kate@example.com", same: true, want: "kate@example.com"},
		{name: "Kelvin sign in the domain", raw: "kate@\u212Aelvin.example", imitates: "kate@kelvin.example", same: true, want: "kate@kelvin.example"},
		{name: "upper-case IDN domain", raw: "pat@B\u00dcCHER.example", imitates: "pat@b\u00fccher.example", same: true, want: "pat@xn--bcher-kva.example"},
		{name: "IDN domain as its A-label in capitals", raw: "pat@XN--BCHER-KVA.example", imitates: "pat@b\u00fccher.example", same: true, want: "pat@xn--bcher-kva.example"},
		{name: "composed e-acute in the domain", raw: "pat@caf\u00e9.example", imitates: "pat@cafe\u0301.example", same: true, want: "pat@xn--caf-dma.example"},
		{name: "decomposed e-acute in the domain", raw: "pat@cafe\u0301.example", imitates: "pat@caf\u00e9.example", same: true, want: "pat@xn--caf-dma.example"},

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
			got, err := Normalize(tt.raw)
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
			imitated, ierr := Normalize(tt.imitates)
			if same := err == nil && ierr == nil && got == imitated; same != tt.same {
				t.Errorf("%q and %q normalise to %q and %q (errors %v, %v): same inbox %v, want %v",
					tt.raw, tt.imitates, got, imitated, err, ierr, same, tt.same)
			}
		})
	}
}

// ToASCII maps only a Unicode domain IDNA accepts; everything else is left
// for the domain to judge and name.
func TestToASCIIMapsOnlyAUnicodeDomain(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"an ASCII address is left as it is", "Kate@Example.COM", "Kate@Example.COM"},
		{"a Unicode domain becomes its A-label", "pat@B\u00dcCHER.example", "pat@xn--bcher-kva.example"},
		{"the local part is never mapped", "\u212Aate@b\u00fccher.example", "\u212Aate@xn--bcher-kva.example"},
		{"only the domain after the last @ is mapped", "a@b@b\u00fccher.example", "a@b@xn--bcher-kva.example"},
		{"a value without @ is left", "b\u00fccher.example", "b\u00fccher.example"},
		{"a domain IDNA refuses is left", "pat@ex\u2488.com", "pat@ex\u2488.com"},
		{"a zero-width space IDNA would drop is left", "kate@exa\u200bmple.com", "kate@exa\u200bmple.com"},
		{"a NUL is left", "kate@b\u00fccher.example\x00", "kate@b\u00fccher.example\x00"},
		{"invalid UTF-8 is left", "kate@b\xfccher.example", "kate@b\xfccher.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ToASCII(tt.raw); got != tt.want {
				t.Errorf("ToASCII(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}
