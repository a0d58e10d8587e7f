package readmodels

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
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

// decodeCursor reads a cursor made by encodeCursor, refusing anything else:
// among what it refuses is text PostgreSQL cannot hold (invalid UTF-8,
// U+0000 even as a JSON escape), which encodeCursor never writes and which
// would otherwise fail the query the key goes into.
func decodeCursor[K cursorKey](s string) (K, error) {
	var key K
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return key, err
	}
	if !utf8.Valid(b) {
		return key, errors.New("cursor is not valid UTF-8")
	}
	var plain any
	if err := json.Unmarshal(b, &plain); err != nil {
		return key, err
	}
	if err := storable(plain); err != nil {
		return key, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&key); err != nil {
		return key, err
	}
	return key, key.check()
}

// storable refuses a decoded JSON value holding a string with U+0000 or
// U+FFFD, which is what a lone surrogate escape decodes to.
func storable(v any) error {
	switch v := v.(type) {
	case string:
		if strings.ContainsAny(v, "\x00\uFFFD") {
			return fmt.Errorf("cursor holds U+0000 or a lone surrogate")
		}
	case []any:
		for _, e := range v {
			if err := storable(e); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range v {
			if err := storable(k); err != nil {
				return err
			}
			if err := storable(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// pageLimit is the page size a query asked for with limit: def when limit
// is 0, limit itself from 1 to most. Any other returns a *domain.Error of
// kind KindInvalid (CodeInvalidRequest) naming it.
func pageLimit(limit, def, most int) (int, error) {
	switch {
	case limit == 0:
		return def, nil
	case limit < 0 || limit > most:
		return 0, invalid("limit", strconv.Itoa(limit), fmt.Sprintf("is not between 1 and %d", most))
	}
	return limit, nil
}
