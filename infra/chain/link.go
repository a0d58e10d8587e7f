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
	"encoding/json"
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
		if bytes.Contains(meta, []byte(`"hash"`)) {
			return Stored{}, fmt.Errorf("event %s: %w: hash is not the last field", rec.ID, ErrMalformed)
		}
		sum := digest(rec.StreamID, rec.Revision, rec.ID, rec.Type, rec.Data, meta)
		return Stored{Hash: sum, Computed: sum}, nil
	}
	stored := string(meta[len(meta)-suffixSize+len(hashKey) : len(meta)-2])
	if !isHash(stored) || string(meta[len(meta)-2:]) != `"}` {
		return Stored{}, fmt.Errorf("event %s: %w: hash is not 64 hex digits", rec.ID, ErrMalformed)
	}
	body := make([]byte, 0, len(meta)-suffixSize+1)
	body = append(body, meta[:len(meta)-suffixSize]...)
	body = append(body, '}')
	var fields struct {
		Prev string `json:"prev_hash"`
	}
	if err := json.Unmarshal(body, &fields); err != nil || !isHash(fields.Prev) {
		return Stored{}, fmt.Errorf("event %s: %w: prev_hash is missing or not 64 hex digits", rec.ID, ErrMalformed)
	}
	return Stored{
		Chained:  true,
		Hash:     stored,
		Computed: digest(rec.StreamID, rec.Revision, rec.ID, rec.Type, rec.Data, body),
		Prev:     fields.Prev,
	}, nil
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
