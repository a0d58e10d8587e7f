package domain

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Positions in the messages below count characters from 1 in the value as
// the caller sent it, each byte that is not UTF-8 counting as one
// character: what an editor's column shows, whatever encoding it uses for
// the rest.

// textFault is the first character of a value that the value may not hold.
type textFault struct {
	pos  int    // character position, from 1
	what string // what the character is, e.g. "NUL (U+0000)"
}

func (f textFault) String() string { return fmt.Sprintf("%s at character %d", f.what, f.pos) }

// scanText returns the first character of s for which refuse says what it
// is, or ok false when there is none. A byte that is not UTF-8 is always
// refused: stored as text it would turn into U+FFFD, silently.
func scanText(s string, refuse func(r rune) string) (textFault, bool) {
	pos := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		pos++
		if r == utf8.RuneError && size == 1 {
			return textFault{pos, fmt.Sprintf("a byte that is not UTF-8 (0x%02X)", s[i])}, true
		}
		if what := refuse(r); what != "" {
			return textFault{pos, what}, true
		}
		i += size
	}
	return textFault{}, false
}

// controlRune names r when it is a control character (Unicode category Cc:
// NUL, the other C0 and C1 controls, DEL).
func controlRune(r rune) string {
	switch {
	case r == 0:
		return "NUL (U+0000)"
	case unicode.IsControl(r):
		return fmt.Sprintf("a control character (U+%04X)", r)
	}
	return ""
}

// formatRune names r when it is a control character or an invisible
// formatting character (category Cf: zero-width spaces and joiners,
// bidirectional controls, the soft hyphen, the byte order mark...).
func formatRune(r rune) string {
	if what := controlRune(r); what != "" {
		return what
	}
	if unicode.Is(unicode.Cf, r) {
		return fmt.Sprintf("an invisible formatting character (U+%04X)", r)
	}
	return ""
}

// isBidiControl reports whether r is one of the explicit bidirectional
// embeddings, overrides and isolates, which reorder the text around them
// (the "Trojan Source" characters).
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// isVisible reports whether r shows as something: not white space, not a
// formatting character, not a default-ignorable filler (such as the Hangul
// fillers that render blank), and not a combining mark on its own.
func isVisible(r rune) bool {
	return unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.IsMark(r) &&
		!unicode.Is(unicode.Cf, r) && !unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) &&
		!unicode.Is(unicode.Variation_Selector, r)
}

// CheckStorableText refuses a value that a read model could not store or
// would store altered: a byte that is not UTF-8, NUL or another control
// character, or more than maxBytes bytes. field names the value in the
// message. It returns an *Error with KindInvalid and CodeInvalidText naming
// the field and the character's position, or nil.
func CheckStorableText(field, value string, maxBytes int) error {
	if len(value) > maxBytes {
		return Errorf(KindInvalid, CodeInvalidText, "%s is %d bytes long; at most %d are stored", field, len(value), maxBytes)
	}
	if f, bad := scanText(value, controlRune); bad {
		return Errorf(KindInvalid, CodeInvalidText, "%s holds %s; nothing was stored", field, f)
	}
	return nil
}
