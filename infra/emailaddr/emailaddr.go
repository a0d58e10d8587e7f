// Package emailaddr maps the addresses people type to the form the domain
// compares them in. The domain (domain.NormalizeEmail) takes ASCII host
// names only; this package is the step before it at every edge that takes
// an address from outside (token claims, invitations, sign-in, erasure
// requests, filters): a Unicode domain becomes its IDNA A-label, so
// "pat@BÜCHER.example" and "pat@xn--bcher-kva.example" are one inbox.
//
// The lookup profile is used, not the registration one: every character its
// mapping changes (upper case, fullwidth forms, the Kelvin sign, decomposed
// accents) is disallowed in a registered name, so nobody can own a second
// domain spelled that way, and a mapped spelling names the one domain its
// mail is delivered to. The registration profile would refuse
// "BÜCHER.example", which admins type. The local part is never mapped: the
// domain refuses a non-ASCII one (see domain.NormalizeEmail).
package emailaddr

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/rosterhq/roster/domain"
)

// lookup is UTS 46 non-transitional (ß stays ß) with the STD3 rules, the
// hyphen, joiner and bidi rules, and DNS lengths checked.
var lookup = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.VerifyDNSLength(true))

// ToASCII returns addr with its domain (after the last @) mapped to its
// A-label when the domain is not ASCII and IDNA accepts it. Anything else
// comes back as it was, for the domain to judge: an ASCII domain, a value
// without @, a domain IDNA refuses, one that is not UTF-8, or one holding
// an invisible formatting character (which IDNA would silently drop or
// replace, and the domain names instead).
// It is safe for concurrent use.
func ToASCII(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	host := strings.TrimRightFunc(addr[at+1:], isSpace)
	if isASCII(host) || !utf8.ValidString(host) || hasInvisible(host) {
		return addr
	}
	a, err := lookup.ToASCII(host)
	if err != nil {
		return addr
	}
	return addr[:at+1] + a
}

// Normalize is domain.NormalizeEmail after ToASCII: the normal form of an
// address a person typed. Errors are those of domain.NormalizeEmail, naming
// the value as given.
func Normalize(raw string) (string, error) {
	e, err := domain.NormalizeEmail(ToASCII(raw))
	if err != nil {
		// Name what the person typed, not its mapping.
		if _, rawErr := domain.NormalizeEmail(raw); rawErr != nil {
			return "", rawErr
		}
		return "", err
	}
	return e, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// hasInvisible reports a character IDNA's mapping would drop without a
// trace, or that the domain refuses anyway: formatting characters
// (zero-width characters, joiners, the soft hyphen, bidirectional controls,
// the byte order mark), control characters, variation selectors and the
// combining grapheme joiner.
func hasInvisible(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.Is(unicode.Cf, r) || unicode.IsControl(r) || unicode.Is(unicode.Variation_Selector, r) || r == 0x34F
	})
}

// Key is domain.EmailKey after ToASCII: the form under which a value a
// person typed (a filter, a claim) is compared with stored emails.
func Key(s string) string { return domain.EmailKey(ToASCII(s)) }
