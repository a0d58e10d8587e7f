package commands

import (
	"reflect"
	"strings"

	"github.com/rosterhq/roster/domain"
)

// maxStoredText bounds every string an event carries, in its payload or its
// metadata. The longest the domain writes is a name of 100 characters (400
// bytes); a user agent is the longest a client sends, and a kilobyte is
// more than any browser's.
const maxStoredText = 1024

// The checks below make sure nothing that cannot be stored and projected
// enters an event, whoever calls: the HTTP edge refuses such values first,
// with its own status, but a command reaches the store from other callers
// too (the CLI, tests, a future consumer), and one event that a projection
// cannot write stops that projection for every property.

// checkMeta refuses a command whose caller or request carries text no event
// may hold, before anything is decided or prepared. Errors: an *domain.Error
// with KindInvalid and CodeInvalidText naming the field.
func checkMeta(m Meta) error {
	for _, f := range []struct{ name, value string }{
		{"actor_id", m.Actor.AccountID},
		{"actor_email", m.Actor.Email},
		{"client_ip", m.ClientIP},
		{"user_agent", m.UserAgent},
		{"correlation_id", m.CorrelationID},
		{"idempotency_key", m.IdempotencyKey},
		{"request_hash", m.RequestHash},
	} {
		if err := domain.CheckStorableText(f.name, f.value, maxStoredText); err != nil {
			return err
		}
	}
	return nil
}

// checkStorable refuses an event whose payload or metadata holds a string
// PostgreSQL text and jsonb cannot hold (NUL, a byte that is not UTF-8, which
// JSON encoding would turn into U+FFFD unseen), a control character, or more
// than maxStoredText bytes. Every string field is walked, so an event type
// added later is covered without a line here. Errors: an *domain.Error with
// KindInvalid and CodeInvalidText naming the event type and the field.
func checkStorable(e domain.Event, meta domain.Metadata) error {
	if err := checkStrings(reflect.ValueOf(e), "event "+e.EventType()+" field "); err != nil {
		return err
	}
	return checkStrings(reflect.ValueOf(meta), "metadata field ")
}

// checkStrings checks every string reachable from v; path names v's place,
// and fields are named by their JSON names, as stored.
func checkStrings(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.String:
		return domain.CheckStorableText(strings.TrimSuffix(path, "."), v.String(), maxStoredText)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkStrings(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue // time.Time and the like: no text of ours
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if err := checkStrings(v.Field(i), path+name+"."); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkStrings(v.Index(i), path); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if err := checkStrings(it.Key(), path); err != nil {
				return err
			}
			if err := checkStrings(it.Value(), path); err != nil {
				return err
			}
		}
	}
	return nil
}
