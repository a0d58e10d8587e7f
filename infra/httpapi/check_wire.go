package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster/infra/accessindex"
)

// The access-check API is called thousands of times a second with bodies
// of one shape, so its bodies are read and written here without
// encoding/json's reflection, its Decoder's buffers and its Encoder: the
// garbage of every check is what the collector pays for, on the same cores
// that answer (docs/PERFORMANCE.md, the check scenario). The
// fast reader takes only plain JSON it can read exactly as encoding/json
// would; anything else (an escape, an unknown or repeated field, another
// type, trailing data) goes to decodeStrict, so every answer and every
// error stays as it was.

// wireBuffers are the buffers check bodies are read and answers written
// into; a buffer grown past maxPooledBuffer by a large bulk is dropped
// rather than kept.
var wireBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 64 << 10

func getBuffer() *bytes.Buffer { return wireBuffers.Get().(*bytes.Buffer) }

// keepGrown keeps in buf the array b, written from buf.AvailableBuffer(),
// grew into, for the next answer to reuse within putBuffer's bound.
func keepGrown(buf *bytes.Buffer, b []byte) {
	if cap(b) > buf.Cap() {
		*buf = *bytes.NewBuffer(b[:0])
	}
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	wireBuffers.Put(b)
}

// headerValues are shared, never-appended-to values of the headers every
// answer carries: setting them this way copies no key and allocates no
// slice per answer. Their capacity equals their length, so an Add to one
// copies it rather than writing into the shared array.
var (
	jsonContentType = []string{"application/json"}[:1:1]
	noStoreValue    = []string{"no-store"}[:1:1]
)

// writeWire sends body, JSON already encoded, as writeJSON would send it.
func writeWire(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStoreValue
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// wireScanner reads the plain subset of JSON: objects, arrays and strings
// without escapes. ok turns false at anything else.
type wireScanner struct {
	s  string
	i  int
	ok bool
}

func (sc *wireScanner) space() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// byte consumes c, after white space.
func (sc *wireScanner) byte(c byte) bool {
	sc.space()
	if sc.i < len(sc.s) && sc.s[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

// peek is the next byte after white space, 0 at the end.
func (sc *wireScanner) peek() byte {
	sc.space()
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

// str reads a string without escapes or control characters, in valid
// UTF-8: one encoding/json reads as the same bytes. It returns a
// substring of the body, which costs no allocation.
func (sc *wireScanner) str() string {
	if !sc.byte('"') {
		sc.ok = false
		return ""
	}
	start := sc.i
	ascii := true
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case c == '"':
			v := sc.s[start:sc.i]
			sc.i++
			if !ascii && !utf8.ValidString(v) {
				sc.ok = false
			}
			return v
		case c == '\\' || c < 0x20:
			sc.ok = false
			return ""
		case c >= 0x80:
			ascii = false
		}
		sc.i++
	}
	sc.ok = false
	return ""
}

// object reads an object whose every value is read by field, which
// reports false for a name it does not know; a name seen twice is left to
// encoding/json too.
func (sc *wireScanner) object(field func(name string) bool) {
	if !sc.byte('{') {
		sc.ok = false
		return
	}
	if sc.byte('}') {
		return
	}
	var seen uint8
	for sc.ok {
		name := sc.str()
		if !sc.ok || !sc.byte(':') {
			sc.ok = false
			return
		}
		bit := fieldBit(name)
		if bit == 0 || seen&bit != 0 || !field(name) {
			sc.ok = false
			return
		}
		seen |= bit
		if sc.byte(',') {
			continue
		}
		if !sc.byte('}') {
			sc.ok = false
		}
		return
	}
}

// fieldBit is a bit of its own for each field name a check body has.
func fieldBit(name string) uint8 {
	switch name {
	case "account_id":
		return 1
	case "property_id":
		return 2
	case "permission":
		return 4
	case "at_least":
		return 8
	case "items":
		return 16
	}
	return 0
}

// end reports whether only white space is left.
func (sc *wireScanner) end() bool {
	sc.space()
	return sc.ok && sc.i == len(sc.s)
}

// item reads a checkItem's field; at_least is the single check's only.
func (sc *wireScanner) item(it *checkItem, name string) bool {
	switch name {
	case "account_id":
		it.AccountID = sc.str()
	case "property_id":
		it.PropertyID = sc.str()
	case "permission":
		it.Permission = sc.str()
	default:
		return false
	}
	return sc.ok
}

// fastCheckRequest reads body as decodeStrict would into a checkRequest,
// and reports false when it is not plain enough to be sure of that.
func fastCheckRequest(body string, req *checkRequest) bool {
	sc := wireScanner{s: body, ok: true}
	sc.object(func(name string) bool {
		if name == "at_least" {
			req.AtLeast = sc.str()
			return sc.ok
		}
		return sc.item(&req.checkItem, name)
	})
	return sc.end()
}

// fastBulkRequest is fastCheckRequest for a bulkCheckRequest.
func fastBulkRequest(body string, req *bulkCheckRequest) bool {
	sc := wireScanner{s: body, ok: true}
	sc.object(func(name string) bool {
		switch name {
		case "at_least":
			req.AtLeast = sc.str()
			return sc.ok
		case "items":
			if !sc.byte('[') {
				return false
			}
			// encoding/json makes an empty, not a nil, slice of [].
			req.Items = make([]checkItem, 0, min(max(len(sc.s)/96, 1), maxBulkChecks+1))
			if sc.byte(']') {
				return true
			}
			for sc.ok {
				if sc.peek() != '{' {
					return false
				}
				req.Items = append(req.Items, checkItem{})
				it := &req.Items[len(req.Items)-1]
				sc.object(func(name string) bool { return name != "at_least" && sc.item(it, name) })
				if sc.byte(',') {
					continue
				}
				return sc.ok && sc.byte(']')
			}
		}
		return false
	})
	return sc.end()
}

// appendAnswer appends a as encoding/json writes toCheckAnswer(a).
func appendAnswer(b []byte, a accessindex.Answer) []byte {
	b = append(b, `{"allowed":`...)
	b = strconv.AppendBool(b, a.Allowed)
	if a.Role != "" {
		b = append(b, `,"role":`...)
		b = appendString(b, string(a.Role))
	}
	b = append(b, `,"status":`...)
	if a.Member {
		b = appendString(b, string(a.Status))
	} else {
		b = append(b, `"`+checkStatusNotMember+`"`...)
	}
	b = append(b, `,"owner":`...)
	b = strconv.AppendBool(b, a.Owner)
	b = append(b, `,"position":"`...)
	b = strconv.AppendUint(b, a.Position.Commit, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, a.Position.Prepare, 10)
	b = append(b, '"')
	if !a.FreshAt.IsZero() {
		b = append(b, `,"fresh_at":`...)
		b = appendTime(b, a.FreshAt.UTC())
	}
	return append(b, '}')
}

// appendString appends s as a JSON string the way encoding/json does: a
// plain string as it is, any other through encoding/json itself (which
// escapes <, > and & as well as quotes and control characters).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t as time.Time's MarshalJSON does, for the years it
// can write; others through MarshalJSON itself.
func appendTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y > 9999 {
		q, _ := json.Marshal(t)
		return append(b, q...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
