package limits

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// operatorText checks text an operator gives for the audit trail: not
// blank, UTF-8, no control or invisible formatting character, at most max
// characters. It returns it trimmed.
func operatorText(what, s string, max int) (string, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return "", fmt.Errorf("%s is blank", what)
	case !utf8.ValidString(t):
		return "", fmt.Errorf("%s is not UTF-8", what)
	case strings.ContainsFunc(t, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return "", fmt.Errorf("%s holds a control or invisible formatting character", what)
	case utf8.RuneCountInString(t) > max:
		return "", fmt.Errorf("%s is %d characters; at most %d", what, utf8.RuneCountInString(t), max)
	}
	return t, nil
}
