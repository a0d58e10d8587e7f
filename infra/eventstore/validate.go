package eventstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrInvalidAppend is matched by errors.Is for an append that a store refuses
// before looking at the stream: no events, no stream name, an event ID that is
// not a UUID or appears twice, no event type, or data that is not JSON.
var ErrInvalidAppend = errors.New("invalid append")

// ValidateAppend reports the first reason to refuse appending events to
// stream, wrapped in ErrInvalidAppend, or nil. Every adapter calls it first so
// that they all refuse the same appends.
//
// Event IDs must be UUIDs in the canonical lower-case form
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx): PostgreSQL would accept other
// spellings but give back the canonical one, and an ID that does not come back
// as written breaks idempotent re-appends. Data must be JSON; Metadata may be
// empty, else it must be JSON too. Both are stored byte for byte.
func ValidateAppend(stream string, events []EventData) error {
	if stream == "" {
		return fmt.Errorf("%w: stream name is empty", ErrInvalidAppend)
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: stream %s: no events to append", ErrInvalidAppend, stream)
	}
	seen := make(map[string]int, len(events))
	for i, e := range events {
		if !IsUUID(e.ID) {
			return fmt.Errorf("%w: stream %s: event %d: id %q is not a lower-case UUID", ErrInvalidAppend, stream, i, e.ID)
		}
		if j, ok := seen[e.ID]; ok {
			return fmt.Errorf("%w: stream %s: events %d and %d have the same id %s", ErrInvalidAppend, stream, j, i, e.ID)
		}
		seen[e.ID] = i
		if e.Type == "" {
			return fmt.Errorf("%w: stream %s: event %d: type is empty", ErrInvalidAppend, stream, i)
		}
		// json.Valid lets invalid UTF-8 through inside strings; PostgreSQL
		// does not, so check both to refuse the same bytes everywhere.
		if !json.Valid(e.Data) || !utf8.Valid(e.Data) {
			return fmt.Errorf("%w: stream %s: event %d: data is not JSON", ErrInvalidAppend, stream, i)
		}
		if len(e.Metadata) > 0 && (!json.Valid(e.Metadata) || !utf8.Valid(e.Metadata)) {
			return fmt.Errorf("%w: stream %s: event %d: metadata is not JSON", ErrInvalidAppend, stream, i)
		}
	}
	return nil
}

// IsUUID reports whether s is a UUID in canonical lower-case form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
