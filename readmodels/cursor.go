package readmodels

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// cursorKey is the sort key of a page's last row, carried by an opaque
// keyset cursor; check refuses one that decodes but lacks a part.
type cursorKey interface {
	check() error
}

// encodeCursor makes the opaque cursor of key: base64url JSON.
func encodeCursor[K cursorKey](key K) string {
	b, _ := json.Marshal(key) // keys are plain numbers and strings
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made by encodeCursor, refusing anything else.
func decodeCursor[K cursorKey](s string) (K, error) {
	var key K
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return key, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&key); err != nil {
		return key, err
	}
	return key, key.check()
}
