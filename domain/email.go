package domain

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxEmailLength is the longest address SMTP can carry (RFC 5321 path limit).
const maxEmailLength = 254

// NormalizeEmail returns the one form of an address under which it is
// stored and compared, so that two addresses are the same inbox exactly
// when their normal forms are equal:
//
//   - white space around the address is trimmed;
//   - a byte that is not UTF-8, NUL, any other control character or an
//     invisible formatting character (zero-width space or joiner,
//     bidirectional control, soft hyphen...) anywhere is refused;
//   - the address is local@domain, with exactly one @;
//   - the local part must be ASCII: a plain dot-atom (letters, digits and
//     !#$%&'*+-/=?^_`{|}~, dots between them), no quotes, comments or
//     display name; it is lower-cased in ASCII only (A-Z to a-z). A
//     non-ASCII local part is refused rather than compared as it is: Unicode
//     case folding maps look-alikes together (the Kelvin sign to k, U+0130
//     to i), no provider promises what its inbox names fold to, and an admin
//     cannot tell such an address from its look-alike;
//   - the domain is an ASCII host name: dotted labels of letters, digits
//     and inner hyphens (an internationalised label as its A-label,
//     "xn--..."), lower-cased in ASCII; a trailing dot is refused (an
//     address's domain has none). A domain holding any other character is
//     refused: the edges that take addresses from people map a Unicode
//     domain to its A-label through IDNA first (infra/emailaddr), so one
//     that still reaches the domain is no valid internationalised name;
//   - the whole normal form is at most 254 characters.
//
// It returns an *Error with KindInvalid and CodeInvalidEmail naming the value
// and, for a bad character, its position (characters counted from 1 in the
// value as given).
func NormalizeEmail(raw string) (string, error) {
	bad := func(why string) (string, error) {
		return "", &Error{Kind: KindInvalid, Code: CodeInvalidEmail,
			Message: "email " + quote(raw) + " is not valid: " + why}
	}
	s := strings.TrimSpace(raw)
	// lead is how many characters the trimming took off the front, so
	// positions name the characters of raw.
	lead := utf8.RuneCountInString(raw[:len(raw)-len(strings.TrimLeftFunc(raw, unicode.IsSpace))])
	switch {
	case s == "":
		return bad("it is empty")
	case len(s) > 4*maxEmailLength:
		return bad("it is longer than 254 characters")
	}
	if f, found := scanText(s, formatRune); found {
		f.pos += lead
		return bad("it holds " + f.String())
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || strings.Count(s, "@") > 1 {
		return bad("it must have exactly one @")
	}
	local, host := s[:at], s[at+1:]
	if local == "" {
		return bad("it has nothing before the @")
	}
	if f, found := scanText(local, nonASCII); found {
		f.pos += lead
		return bad("its local part (before the @) holds " + f.String() + "; only ASCII local parts are accepted")
	}
	local = asciiLower(local)
	if !isDotAtom(local) {
		return bad("it is not a plain address like name@example.com")
	}
	domain, why := normalizeDomain(host, lead+utf8.RuneCountInString(s[:at+1]))
	if why != "" {
		return bad(why)
	}
	s = local + "@" + domain
	if len(s) > maxEmailLength {
		return bad("it is longer than 254 characters")
	}
	// A last check by the standard library's parser, which agrees with the
	// rules above on everything they accept.
	if addr, err := mail.ParseAddress(s); err != nil || addr.Name != "" || addr.Address != s {
		return bad("it is not a plain address like name@example.com")
	}
	return s, nil
}

// normalizeDomain returns an email's domain lower-cased, or why it is
// refused; before is how many characters of the value come before it.
func normalizeDomain(host string, before int) (string, string) {
	const dotted = "its domain must be a dotted name like example.com"
	switch {
	case host == "" || strings.HasPrefix(host, "[") || strings.HasPrefix(host, ".") || strings.Contains(host, ".."):
		return "", dotted
	case strings.HasSuffix(host, "."):
		return "", "its domain ends with a dot; write it without the final dot"
	case len(host) > 253:
		return "", "its domain is longer than 253 characters"
	}
	if f, found := scanText(host, nonASCII); found {
		f.pos += before
		return "", "its domain holds " + f.String() + " and is no valid internationalised domain name"
	}
	for rest := host; ; {
		label, more, found := strings.Cut(rest, ".")
		switch {
		case len(label) > 63:
			return "", "its domain has a label longer than 63 characters"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "", "its domain has a label that starts or ends with a hyphen"
		case strings.IndexFunc(label, func(r rune) bool { return !isLDH(r) }) >= 0:
			return "", "its domain may hold only letters, digits, hyphens and dots"
		}
		if !found {
			break
		}
		rest = more
	}
	if !strings.Contains(host, ".") {
		return "", dotted
	}
	return asciiLower(host), ""
}

// isLDH reports whether r may appear in a host name's label.
func isLDH(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-'
}

// EmailKey is the form under which an email that is already stored, or a
// claim that may not be an address at all, is compared: its normal form when
// NormalizeEmail accepts it, else the value trimmed and otherwise as it is,
// which then equals only itself. Read models and indexes use it so that a
// refused spelling never matches an accepted address by lower-casing.
func EmailKey(s string) string {
	if e, err := NormalizeEmail(s); err == nil {
		return e
	}
	return strings.TrimSpace(s)
}

func nonASCII(r rune) string {
	if r >= utf8.RuneSelf {
		return fmt.Sprintf("the non-ASCII character %q (U+%04X)", r, r)
	}
	return ""
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// isDotAtom reports whether s is an RFC 5322 dot-atom: runs of atext
// joined by single dots.
func isDotAtom(s string) bool {
	for rest := s; ; {
		part, more, found := strings.Cut(rest, ".")
		if part == "" || strings.IndexFunc(part, func(r rune) bool { return !isAtext(r) }) >= 0 {
			return false
		}
		if !found {
			return true
		}
		rest = more
	}
}

func isAtext(r rune) bool {
	return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r))
}

func quote(s string) string {
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
