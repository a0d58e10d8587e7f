package privacy

import (
	"bytes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
)

// kind is what a personal field holds; it chooses the erased marker.
type kind int8

const (
	kindEmail kind = iota + 1
	kindIP
	kindUserAgent
)

// marker is what a value of kind k sealed for subject id reads as once the
// subject is erased.
func (k kind) marker(id uuid.UUID) string {
	switch k {
	case kindIP:
		return ErasedIP
	case kindUserAgent:
		return ErasedUserAgent
	}
	return ErasedEmail(id)
}

// dataFields are the personal fields of event payloads, by stored event type
// (domain/events.go): the invitee's and the joining member's email. Each
// email is its own subject. The other types carry IDs, roles and times only;
// property names are site names, not people's.
var dataFields = map[string]map[string]kind{
	domain.TypeMemberInvited: {"email": kindEmail},
	domain.TypeMemberJoined:  {"email": kindEmail},
}

// metaFields are the personal fields of every event's metadata
// (domain.Metadata): who acted, and from where. All three are the actor's.
var metaFields = map[string]kind{
	"actor_email": kindEmail,
	"client_ip":   kindIP,
	"user_agent":  kindUserAgent,
}

// sealedPrefix starts every sealed value. No email, IP address or value of
// the other fields starts so, except a user agent a client chose: Seal seals
// every non-empty value, so such a string is sealed like any other and
// comes back unchanged.
const sealedPrefix = "pii1:"

// aadLabel starts the additional data of every sealed value, which binds
// the ciphertext to its subject and field.
const aadLabel = "roster/pii1\x00"

// gcmOverhead is the random nonce and tag NewGCMWithRandomNonce adds.
const gcmOverhead = 12 + 16

func aad(id uuid.UUID, field string) []byte {
	b := make([]byte, 0, len(aadLabel)+len(id)+len(field))
	b = append(b, aadLabel...)
	b = append(b, id[:]...)
	return append(b, field...)
}

// sealValue encrypts plain, the value of field, under s, whose cipher is
// aead.
func sealValue(aead cipher.AEAD, s *subject, field, plain string) (string, error) {
	ct := aead.Seal(nil, nil, []byte(plain), aad(s.id, field))
	var b strings.Builder
	b.Grow(len(sealedPrefix) + len(s.tag) + 1 + base64.RawURLEncoding.EncodedLen(len(ct)))
	b.WriteString(sealedPrefix)
	b.WriteString(s.tag)
	b.WriteByte(':')
	b.WriteString(base64.RawURLEncoding.EncodeToString(ct))
	return b.String(), nil
}

// errMalformed is wrapped by every error about a value that starts like a
// sealed one but is not.
var errMalformed = errors.New("malformed sealed value")

// parseSealed splits a sealed value into its subject and ciphertext. sealed
// is false for a plain value. A value that starts with the prefix but does
// not parse is an error: plain values of these fields never start so.
func parseSealed(v string) (id uuid.UUID, ct []byte, sealed bool, err error) {
	rest, ok := strings.CutPrefix(v, sealedPrefix)
	if !ok {
		return uuid.UUID{}, nil, false, nil
	}
	tag, body, ok := strings.Cut(rest, ":")
	if !ok || len(tag) != 2*len(id) {
		return uuid.UUID{}, nil, true, fmt.Errorf("%w: no subject", errMalformed)
	}
	if _, err := hex.Decode(id[:], []byte(tag)); err != nil {
		return uuid.UUID{}, nil, true, fmt.Errorf("%w: subject %q is not hex", errMalformed, tag)
	}
	ct, err = base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(ct) < gcmOverhead {
		return uuid.UUID{}, nil, true, fmt.Errorf("%w: the ciphertext is not base64url or too short", errMalformed)
	}
	return id, ct, true, nil
}

// member is one name/value pair of a JSON object, the value as written.
type member struct {
	key string
	raw json.RawMessage
}

// parseObject splits a JSON object into its members, in order, keeping
// every value's bytes, repeated names included. Rewriting a field then
// leaves the rest of the document alone: fields this package does not
// know, such as the hash chain's at the end of metadata, come back as they
// were. The values are slices of doc.
//
// The document is checked whole with json.Valid first, so the scan below
// only has to find where each member ends; it is several times faster than
// encoding/json's tokenizer, which matters at every command's Seal.
func parseObject(doc []byte) ([]member, error) {
	if !json.Valid(doc) {
		return nil, errors.New("not valid JSON")
	}
	i := skipSpace(doc, 0)
	if doc[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := make([]member, 0, 12)
	for i = skipSpace(doc, i+1); doc[i] != '}'; i = skipSpace(doc, i) {
		if doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
		end := endOfString(doc, i)
		key, _ := stringValue(doc[i:end])
		i = skipSpace(doc, end) + 1 // the colon
		i = skipSpace(doc, i)
		end = endOfValue(doc, i)
		out = append(out, member{key: key, raw: doc[i:end:end]})
		i = end
	}
	return out, nil
}

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// endOfString is the index after the valid JSON string starting at i.
func endOfString(doc []byte, i int) int {
	for j := i + 1; ; j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// endOfValue is the index after the valid JSON value starting at i.
func endOfValue(doc []byte, i int) int {
	switch doc[i] {
	case '"':
		return endOfString(doc, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch doc[j] {
			case '"':
				j = endOfString(doc, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	}
	j := i
	for j < len(doc) && !strings.ContainsRune(",}] \t\r\n", rune(doc[j])) {
		j++
	}
	return j
}

// appendObject writes ms back as a JSON object.
func appendObject(dst []byte, ms []member) []byte {
	dst = append(dst, '{')
	for i, m := range ms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, jsonString(m.key)...)
		dst = append(dst, ':')
		dst = append(dst, m.raw...)
	}
	return append(dst, '}')
}

// stringValue returns the string a raw JSON value holds; ok is false for
// any other JSON type.
func stringValue(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonString encodes s as a JSON string.
func jsonString(s string) json.RawMessage {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		b := make([]byte, 0, len(s)+2)
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	b, _ := json.Marshal(s) // a string always encodes
	return b
}
