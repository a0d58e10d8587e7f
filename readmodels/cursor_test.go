package readmodels

import (
	"encoding/base64"
	"testing"
)

// TestDecodeCursorRefusesWhatPostgreSQLCannotHold: a cursor is opaque, so
// one whose text PostgreSQL could not take was made up; it is refused as a
// cursor this API did not give out, before any query.
func TestDecodeCursorRefusesWhatPostgreSQLCannotHold(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, cursor string
		ok           bool
	}{
		{"a cursor this API gave out is read", encodeCursor(memberKey{Email: "zoë@example.com", AccountID: "a1"}), true},
		{"a cursor holding U+0000 as a JSON escape is refused", b64(`{"e":"a\u0000","a":"a1"}`), false},
		{"a cursor holding U+0000 in the account is refused", b64(`{"e":"a@example.com","a":"a\u0000"}`), false},
		{"a cursor holding a raw NUL byte is refused", b64("{\"e\":\"a\x00\",\"a\":\"a1\"}"), false},
		{"a cursor of invalid UTF-8 is refused", b64("{\"e\":\"a\xff\",\"a\":\"a1\"}"), false},
		{"a cursor holding a lone surrogate is refused", b64(`{"e":"a\ud800","a":"a1"}`), false},
		{"a cursor with a field it does not know is refused", b64(`{"e":"a","a":"a1","x":1}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeCursor[memberKey](tt.cursor)
			if (err == nil) != tt.ok {
				t.Errorf("decodeCursor(%q) error = %v, want ok %v", tt.cursor, err, tt.ok)
			}
		})
	}
}
