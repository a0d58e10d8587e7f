package chain

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/rosterhq/roster/domain"
)

// headLabel versions the signed framing of a head.
const headLabel = "roster/chain/head/v1"

// Algorithm names the signature scheme of heads.
const Algorithm = "Ed25519"

// Head is a signed statement of a property's chain at one moment: the event
// at Revision had Hash, and the chain up to it verified. A reviewer stores
// it away from Roster and later gives it to CheckHead, which sees what the
// chain alone cannot: the last events deleted, or the tail rewritten with
// fresh hashes.
type Head struct {
	PropertyID string `json:"property_id"`
	Revision   uint64 `json:"revision"`
	Hash       string `json:"hash"`
	// Events is how many events the chain had up to Revision: Revision+1.
	Events   uint64    `json:"events"`
	SignedAt time.Time `json:"signed_at"`
	// KeyID names the public key that checks Signature (see KeyID).
	KeyID string `json:"key_id"`
	// Signature is the Ed25519 signature, in standard base64, over every
	// other field framed by message.
	Signature string `json:"signature"`
}

// message is what a head's signature covers. Every field is length-prefixed,
// so no two heads frame to the same bytes; the time is UTC RFC 3339 with
// nanoseconds, which survives JSON unchanged.
func (h Head) message() []byte {
	var out []byte
	put := func(s string) {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	put(headLabel)
	put(h.PropertyID)
	put(strconv.FormatUint(h.Revision, 10))
	put(h.Hash)
	put(strconv.FormatUint(h.Events, 10))
	put(h.SignedAt.UTC().Format(time.RFC3339Nano))
	put(h.KeyID)
	return out
}

// KeyID names an Ed25519 public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// KeyInfo is a public key as a reviewer needs it to check heads offline.
type KeyInfo struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	// PublicKey is the 32-byte Ed25519 public key in standard base64.
	PublicKey string `json:"public_key"`
}

// ParsePublicKey reads a public key as KeyInfo.PublicKey gives it.
func ParsePublicKey(b64 string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("public key is not standard base64: %w", err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes, an Ed25519 public key is %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// Signer signs heads with one Ed25519 key. It is safe for concurrent use.
type Signer struct {
	key ed25519.PrivateKey
	pub ed25519.PublicKey
	id  string
	now func() time.Time
}

// NewSigner returns a signer with key; now is the clock (time.Now when nil).
// It refuses a key of the wrong size.
func NewSigner(key ed25519.PrivateKey, now func() time.Time) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("signing key is %d bytes, an Ed25519 private key is %d", len(key), ed25519.PrivateKeySize)
	}
	if now == nil {
		now = time.Now
	}
	pub := key.Public().(ed25519.PublicKey)
	return &Signer{key: key, pub: pub, id: KeyID(pub), now: now}, nil
}

// Key describes the signer's public key.
func (s *Signer) Key() KeyInfo {
	return KeyInfo{Algorithm: Algorithm, KeyID: s.id, PublicKey: base64.StdEncoding.EncodeToString(s.pub)}
}

// sign stamps h with the time and key ID and signs it.
func (s *Signer) sign(h Head) Head {
	h.SignedAt = s.now().UTC()
	h.KeyID = s.id
	h.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, h.message()))
	return h
}

// SignHead verifies the property's chain and signs its head. A chain that
// does not verify (or a stream without events) is not signed: the error is
// a *domain.Error with CodeChainBroken naming the first problem. Other
// errors are the reader's.
func (s *Signer) SignHead(ctx context.Context, r StreamReader, propertyID string) (Head, error) {
	rep, err := Verify(ctx, r, domain.StreamName(propertyID))
	if err != nil {
		return Head{}, err
	}
	if !rep.OK {
		return Head{}, domain.Errorf(domain.KindConflict, domain.CodeChainBroken,
			"the chain of property %s does not verify, so its head is not signed: %s", propertyID, rep.Problem.Message)
	}
	return s.sign(Head{PropertyID: propertyID, Revision: rep.Head.Revision, Hash: rep.Head.Hash, Events: rep.Events}), nil
}

// HeadProblemKind is the closed set of ways a stored head fails its check.
type HeadProblemKind string

// The kinds of problem CheckHead reports.
const (
	// HeadMalformed: the head's own fields are impossible (a hash that is no
	// hash, an event count that is not revision+1).
	HeadMalformed HeadProblemKind = "malformed_head"
	// WrongKey: the head names another key than the one it is checked with.
	WrongKey HeadProblemKind = "wrong_key"
	// BadSignature: the signature does not match the head's fields, which
	// were changed after signing, or it was made by another key.
	BadSignature HeadProblemKind = "bad_signature"
	// ChainBroken: the chain up to the head's revision no longer verifies.
	ChainBroken HeadProblemKind = "chain_broken"
	// Truncated: the stream now ends before the head's revision: its last
	// events were deleted.
	Truncated HeadProblemKind = "truncated"
	// HashMismatch: the event at the head's revision has another hash now:
	// it, and perhaps events before it, were rewritten with fresh hashes.
	HashMismatch HeadProblemKind = "hash_mismatch"
)

// HeadProblem is why a head does not hold.
type HeadProblem struct {
	Kind    HeadProblemKind `json:"kind"`
	Message string          `json:"message"`
}

// HeadCheck is the outcome of CheckHead.
type HeadCheck struct {
	OK      bool         `json:"ok"`
	Head    Head         `json:"head"`
	Problem *HeadProblem `json:"problem,omitempty"`
	// Report is the verification of the stream up to the head's revision;
	// empty when the head failed before the stream was read.
	Report *Report `json:"report,omitempty"`
}

// CheckHead checks a stored head against pub and the stream as it is now:
// the signature holds, the chain verifies up to the head's revision, and the
// event there still has the head's hash. Events appended since are not
// checked (Verify does that). A head that does not hold is a HeadCheck with
// OK false; errors are the reader's. Safe for concurrent use if r is.
func CheckHead(ctx context.Context, r StreamReader, h Head, pub ed25519.PublicKey) (HeadCheck, error) {
	out := HeadCheck{Head: h}
	fail := func(kind HeadProblemKind, format string, args ...any) (HeadCheck, error) {
		out.Problem = &HeadProblem{Kind: kind, Message: fmt.Sprintf(format, args...)}
		return out, nil
	}
	switch {
	case h.PropertyID == "" || !isHash(h.Hash) || h.Events != h.Revision+1:
		return fail(HeadMalformed, "the head is malformed: it needs a property ID, a 64-hex-digit hash and events equal to revision+1")
	case len(pub) != ed25519.PublicKeySize:
		return fail(WrongKey, "the public key is %d bytes, an Ed25519 public key is %d", len(pub), ed25519.PublicKeySize)
	case h.KeyID != KeyID(pub):
		return fail(WrongKey, "the head was signed with key %s, not with key %s it is checked against", h.KeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil || !ed25519.Verify(pub, h.message(), sig) {
		return fail(BadSignature, "the signature does not match the head: it was changed after it was signed")
	}
	rep, err := verify(ctx, r, domain.StreamName(h.PropertyID), h.Revision, pageSize)
	if err != nil {
		return HeadCheck{}, err
	}
	out.Report = &rep
	switch {
	case rep.Head == nil && rep.Problem.EventID == "":
		return fail(Truncated, "property %s has no events now; the head names revision %d", h.PropertyID, h.Revision)
	case !rep.OK:
		return fail(ChainBroken, "the chain up to revision %d no longer verifies: %s", h.Revision, rep.Problem.Message)
	case rep.Head.Revision < h.Revision:
		return fail(Truncated, "property %s now ends at revision %d; the head names revision %d, so its last %d events were deleted",
			h.PropertyID, rep.Head.Revision, h.Revision, h.Revision-rep.Head.Revision)
	case rep.Head.Hash != h.Hash:
		return fail(HashMismatch, "the event at revision %d now hashes to %s, the head says %s: it was rewritten",
			h.Revision, rep.Head.Hash, h.Hash)
	}
	out.OK = true
	return out, nil
}

// Auditor answers what the API and the CLI ask of a property's chain over
// one event store: its verification, its signed head and the key that
// checks heads. The signer may be nil: verification still works, heads are
// refused. It is safe for concurrent use if the reader is.
type Auditor struct {
	r      StreamReader
	signer *Signer
}

// NewAuditor returns an auditor reading r, signing with signer (nil when no
// key is configured).
func NewAuditor(r StreamReader, signer *Signer) *Auditor {
	return &Auditor{r: r, signer: signer}
}

// Verify verifies the property's stream (see Verify).
func (a *Auditor) Verify(ctx context.Context, propertyID string) (Report, error) {
	return Verify(ctx, a.r, domain.StreamName(propertyID))
}

// SignHead signs the property's head (see Signer.SignHead). Without a
// signing key it returns a *domain.Error with CodeSigningKeyNotConfigured.
func (a *Auditor) SignHead(ctx context.Context, propertyID string) (Head, error) {
	if a.signer == nil {
		return Head{}, errNoSigningKey()
	}
	return a.signer.SignHead(ctx, a.r, propertyID)
}

// PublicKey describes the key heads are signed with. Without a signing key
// it returns a *domain.Error with CodeSigningKeyNotConfigured.
func (a *Auditor) PublicKey() (KeyInfo, error) {
	if a.signer == nil {
		return KeyInfo{}, errNoSigningKey()
	}
	return a.signer.Key(), nil
}

func errNoSigningKey() error {
	return domain.Errorf(domain.KindUnavailable, domain.CodeSigningKeyNotConfigured,
		"signing key not configured: set ROSTER_AUDIT_SIGNING_KEY to sign chain heads")
}
