package domain

import (
	"net/mail"
	"strings"
)

// maxEmailLength is the longest address SMTP can carry (RFC 5321 path limit).
const maxEmailLength = 254

// NormalizeEmail trims and lower-cases an address and checks that it is one
// plain address (no display name, one @, a dotted domain). Both parts are
// lower-cased: mail providers in practice treat local parts case-insensitively,
// and two spellings of one inbox must not hold two invitations.
// It returns an *Error with CodeInvalidEmail naming the value otherwise.
func NormalizeEmail(raw string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	bad := func(why string) (string, error) {
		return "", &Error{Kind: KindInvalid, Code: CodeInvalidEmail,
			Message: "email " + quote(raw) + " is not valid: " + why}
	}
	if s == "" {
		return bad("it is empty")
	}
	if len(s) > maxEmailLength {
		return bad("it is longer than 254 characters")
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return bad("it is not a plain address like name@example.com")
	}
	at := strings.LastIndexByte(s, '@')
	local, host := s[:at], s[at+1:]
	if local == "" || strings.Contains(local, "@") {
		return bad("it must have exactly one @")
	}
	if !strings.Contains(host, ".") || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") ||
		strings.Contains(host, "..") || strings.HasPrefix(host, "[") {
		return bad("its domain must be a dotted name like example.com")
	}
	return s, nil
}

func quote(s string) string {
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
