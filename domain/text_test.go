package domain_test

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster/domain"
)

// Text that reaches an event must be storable as it is: PostgreSQL text and
// jsonb hold no NUL, and JSON encoding turns a byte that is not UTF-8 into
// U+FFFD. The refusal names the field and the character's position.
func TestCheckStorableTextRefusesWhatCannotBeStoredAsIs(t *testing.T) {
	tests := []struct {
		name, value string
		max         int
		says        string // "" when the value is storable
	}{
		{name: "plain text", value: "Mozilla/5.0 (X11; Linux x86_64)", max: 1024},
		{name: "Unicode", value: "B\u00fccher \U0001F469\u200d\U0001F4BB", max: 1024},
		{name: "empty", value: "", max: 1024},
		{name: "exactly the bound", value: strings.Repeat("a", 16), max: 16},
		{name: "NUL", value: "curl\x00/8", max: 1024, says: "user_agent holds NUL (U+0000) at character 5"},
		{name: "NUL alone", value: "\x00", max: 1024, says: "NUL (U+0000) at character 1"},
		{name: "a control character", value: "a\x1b[2J", max: 1024, says: "control character (U+001B) at character 2"},
		{name: "a line break", value: "a\nb", max: 1024, says: "U+000A) at character 2"},
		{name: "a byte that is not UTF-8", value: "caf\xe9", max: 1024, says: "byte that is not UTF-8 (0xE9) at character 4"},
		{name: "positions count characters, not bytes", value: "\u00e9\u00e9\x00", max: 1024, says: "at character 3"},
		{name: "over the bound", value: strings.Repeat("a", 17), max: 16, says: "user_agent is 17 bytes long; at most 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := domain.CheckStorableText("user_agent", tt.value, tt.max)
			if tt.says == "" {
				if err != nil {
					t.Fatalf("CheckStorableText(%q) = %v, want nil", tt.value, err)
				}
				return
			}
			if k, c := domain.KindOf(err), domain.CodeOf(err); k != domain.KindInvalid || c != domain.CodeInvalidText {
				t.Fatalf("error = %s/%s (%v), want invalid/invalid_text", k, c, err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("message %q does not say %q", err.Error(), tt.says)
			}
		})
	}
}
