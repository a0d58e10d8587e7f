// Package chain makes each property's history tamper-evident: every event
// carries, at the end of its metadata, the hash of the property's previous
// event and its own hash over its stored bytes. Changing, removing or
// reordering a stored event breaks the chain at that event.
//
// The hash covers the bytes as stored (after personal fields are sealed), so
// destroying a person's key later changes nothing the chain covers.
package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/rosterhq/roster/infra/eventstore"
)

// Genesis is the previous hash of a stream's first event.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// frameLabel versions the hashed framing: changing the framing needs a new label.
const frameLabel = "roster/chain/v1"

// hashSuffix is how metadata ends once linked: `,"hash":"<64 hex>"}`. The
// hash is appended last so the bytes before it (the body, with prev_hash)
// can be recovered exactly from what is stored; both event stores keep
// metadata byte for byte.
const (
	hashKey    = `,"hash":"`
	suffixSize = len(hashKey) + sha256.Size*2 + len(`"}`)
)

// ErrMalformed is matched by errors.Is when stored metadata claims a link
// but its hash field cannot be read.
var ErrMalformed = errors.New("malformed chain fields")

// Link adds prev_hash and hash to the metadata of e, the event that will be
// stored at revision of stream, and returns its hash, which is the next
// event's prev. e.Metadata must be a JSON object without those fields.
func Link(stream string, revision uint64, e *eventstore.EventData, prev string) (string, error) {
	meta := bytes.TrimSpace(e.Metadata)
	if len(meta) < 2 || meta[0] != '{' || meta[len(meta)-1] != '}' {
		return "", fmt.Errorf("link event %s: metadata is not a JSON object", e.ID)
	}
	if !isHash(prev) {
		return "", fmt.Errorf("link event %s: previous hash %q is not 64 hex digits", e.ID, prev)
	}
	if hasKey(meta, "hash") || hasKey(meta, "prev_hash") {
		return "", fmt.Errorf("link event %s: metadata has chain fields already", e.ID)
	}
	body := make([]byte, 0, len(meta)+len(`,"prev_hash":""`)+len(prev)+suffixSize)
	body = append(body, meta[:len(meta)-1]...)
	if len(bytes.TrimSpace(meta[1:len(meta)-1])) > 0 {
		body = append(body, ',')
	}
	body = append(body, `"prev_hash":"`...)
	body = append(body, prev...)
	body = append(body, `"}`...)
	sum := digest(stream, revision, e.ID, e.Type, e.Data, body)
	stored := append(body[:len(body)-1], hashKey...) // body is hashed already; reuse its room
	stored = append(stored, sum...)
	stored = append(stored, `"}`...)
	e.Metadata = stored
	return sum, nil
}

// Stored is what a stored event says of its place in the chain.
type Stored struct {
	// Chained is false for an event written before the chain existed (or
	// whose chain fields were removed): it has no stored hash.
	Chained bool
	// Hash is the stored hash of a chained event, and the computed digest of
	// an unchained one (what a following event's prev_hash commits to).
	Hash string
	// Computed is the digest of the event's bytes as stored now.
	Computed string
	// Prev is the stored prev_hash of a chained event.
	Prev string
}

// Read returns what rec says of the chain and what its bytes hash to now.
// An event whose metadata does not end in a hash field is unchained; one
// whose hash field is there but unreadable is ErrMalformed.
func Read(rec eventstore.RecordedEvent) (Stored, error) {
	meta := rec.Metadata
	if len(meta) < suffixSize || !bytes.Equal(meta[len(meta)-suffixSize:len(meta)-suffixSize+len(hashKey)], []byte(hashKey)) {
		if hasKey(meta, "hash") {
			return Stored{}, fmt.Errorf("event %s: %w: hash is not the last field", rec.ID, ErrMalformed)
		}
		sum := digest(rec.StreamID, rec.Revision, rec.ID, rec.Type, rec.Data, meta)
		return Stored{Hash: sum, Computed: sum}, nil
	}
	stored := string(meta[len(meta)-suffixSize+len(hashKey) : len(meta)-2])
	if !isHash(stored) || string(meta[len(meta)-2:]) != `"}` {
		return Stored{}, fmt.Errorf("event %s: %w: hash is not 64 hex digits", rec.ID, ErrMalformed)
	}
	prev, ok := prevOf(meta[:len(meta)-suffixSize])
	if !ok {
		return Stored{}, fmt.Errorf("event %s: %w: prev_hash is not the field before hash, or not 64 hex digits", rec.ID, ErrMalformed)
	}
	body := make([]byte, 0, len(meta)-suffixSize+1)
	body = append(body, meta[:len(meta)-suffixSize]...)
	body = append(body, '}')
	return Stored{
		Chained:  true,
		Hash:     stored,
		Computed: digest(rec.StreamID, rec.Revision, rec.ID, rec.Type, rec.Data, body),
		Prev:     prev,
	}, nil
}

// prevOf reads the prev_hash Link put last in head, the metadata before its
// hash field: `...,"prev_hash":"<64 hex>"`. It is found by position, as the
// hash is, which is also what keeps verifying a long stream cheap (no JSON
// parse per event). The byte before the key must be one a key can follow,
// so text inside a string value is never taken for it.
func prevOf(head []byte) (string, bool) {
	const key = `"prev_hash":"`
	n := len(key) + sha256.Size*2 + 1
	if len(head) < n+1 || head[len(head)-1] != '"' || !bytes.Equal(head[len(head)-n:len(head)-n+len(key)], []byte(key)) {
		return "", false
	}
	if c := head[len(head)-n-1]; c != '{' && c != ',' && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
		return "", false
	}
	prev := string(head[len(head)-n+len(key) : len(head)-1])
	return prev, isHash(prev)
}

// digest hashes an event's identity, place and bytes. Variable-length parts
// are length-prefixed so no two events frame to the same bytes.
func digest(stream string, revision uint64, id, typ string, data, body []byte) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	put := func(b []byte) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		h.Write(b)
	}
	put([]byte(frameLabel))
	put([]byte(stream))
	put(strconv.AppendUint(nil, revision, 10))
	put([]byte(id))
	put([]byte(typ))
	put(data)
	put(body)
	return hex.EncodeToString(h.Sum(nil))
}

// hasKey reports whether the JSON object meta has key at any depth. A key
// is its quoted name followed by a colon; the same quoted text as a value
// (a user agent of "hash") is followed by a comma or brace instead, and
// inside a string a quote is always escaped, so neither is mistaken for it.
func hasKey(meta []byte, key string) bool {
	quoted := []byte(`"` + key + `"`)
	for rest := meta; ; {
		i := bytes.Index(rest, quoted)
		if i < 0 {
			return false
		}
		rest = rest[i+len(quoted):]
		if after := bytes.TrimLeft(rest, " \t\r\n"); len(after) > 0 && after[0] == ':' {
			return true
		}
	}
}

func isHash(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
