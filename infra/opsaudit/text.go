// Package opsaudit holds what every operator action recorded in the
// operations audit (ops_audit) checks alike: the operator's name and the
// reason given.
package opsaudit

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of what an operator writes down with an action; ops_audit's
// operator column takes 100.
const (
	MaxReasonChars   = 500
	MaxOperatorChars = 100
)

// Text returns s trimmed, or an error naming what is wrong with it
// as the text what: blank, longer than max characters, not UTF-8, or
// holding a control or formatting character (a line break, U+0000, a
// bidirectional override), which would garble or disguise the audit trail.
func Text(what, s string, max int) (string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", fmt.Errorf("%s is blank", what)
	}
	if !utf8.ValidString(s) {
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return "", fmt.Errorf("%s is not UTF-8 at byte %d", what, i)
			}
			i += n
		}
	}
	for i, r := range s {
		switch {
		case unicode.IsControl(r):
			return "", fmt.Errorf("%s holds a control character at byte %d", what, i)
		case unicode.Is(unicode.Cf, r):
			return "", fmt.Errorf("%s holds an invisible formatting character (%U) at byte %d", what, r, i)
		}
	}
	if n := utf8.RuneCountInString(t); n > max {
		return "", fmt.Errorf("%s is %d characters; at most %d", what, n, max)
	}
	return t, nil
}
