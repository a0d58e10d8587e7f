package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore/memory"
)

var signedAt = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)

func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}

func testSigner(t *testing.T, b byte) *Signer {
	t.Helper()
	s, err := NewSigner(testKey(b), func() time.Time { return signedAt.In(time.FixedZone("CET", 3600)) })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jsonRoundTrip is what a reviewer's stored copy of h gives back.
func jsonRoundTrip(t *testing.T, h Head) Head {
	t.Helper()
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var out Head
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignHeadSignsTheVerifiedHead(t *testing.T) {
	store := memory.New()
	writeHistory(t, store, "property-p1", 4, 1)
	s := testSigner(t, 1)
	h, err := s.SignHead(context.Background(), store, "p1")
	if err != nil {
		t.Fatal(err)
	}
	rs := readBack(t, store)
	want := Head{PropertyID: "p1", Revision: 3, Hash: storedOf(t, rs[3]).Hash, Events: 4, SignedAt: signedAt, KeyID: KeyID(testKey(1).Public().(ed25519.PublicKey))}
	if diff := cmp.Diff(want, h, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Signature" }, cmp.Ignore())); diff != "" {
		t.Errorf("head (-want +got):\n%s", diff)
	}
	if len(h.KeyID) != 16 || h.SignedAt.Location() != time.UTC {
		t.Errorf("key ID %q, signed at %v: want 16 hex digits and UTC", h.KeyID, h.SignedAt)
	}
	info := s.Key()
	pub, err := ParsePublicKey(info.PublicKey)
	if err != nil || info.KeyID != h.KeyID || info.Algorithm != "Ed25519" || !pub.Equal(testKey(1).Public()) {
		t.Errorf("Key() = %+v (%v), want the signer's Ed25519 public key under ID %s", info, err, h.KeyID)
	}
}

func TestSignHeadRefusesABrokenChain(t *testing.T) {
	rs := func() records {
		store := memory.New()
		writeHistory(t, store, "property-p1", 3, 0)
		rs := readBack(t, store)
		rs[1].Data = []byte(`{}`)
		return rs
	}()
	tests := []struct {
		name string
		r    StreamReader
		pid  string
	}{
		{"an altered event", rs, "p1"},
		{"a property without events", rs, "nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testSigner(t, 1).SignHead(context.Background(), tt.r, tt.pid)
			if domain.CodeOf(err) != domain.CodeChainBroken || domain.KindOf(err) != domain.KindConflict || !strings.Contains(err.Error(), tt.pid) {
				t.Errorf("SignHead error = %v, want a conflict %s naming %s", err, domain.CodeChainBroken, tt.pid)
			}
		})
	}
}

func TestNewSignerRefusesAKeyOfTheWrongSize(t *testing.T) {
	for _, key := range []ed25519.PrivateKey{nil, testKey(1)[:32], append(slices.Clone(testKey(1)), 0)} {
		if _, err := NewSigner(key, nil); err == nil {
			t.Errorf("NewSigner took a key of %d bytes", len(key))
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	pub := testKey(1).Public().(ed25519.PublicKey)
	tests := []struct {
		name, in, wantErr string
	}{
		{"the key as Key gives it", base64.StdEncoding.EncodeToString(pub), ""},
		{"not base64", "not-a-key!", "not standard base64"},
		{"the private key instead", base64.StdEncoding.EncodeToString(testKey(1)), "is 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePublicKey(tt.in)
			if tt.wantErr == "" {
				if err != nil || !got.Equal(pub) {
					t.Errorf("ParsePublicKey = %x, %v; want %x", got, err, pub)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePublicKey error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestCheckHead signs the head of a five-event history, appends a sixth
// event, then checks the stored head, or a changed copy of it, against the
// history as tampered.
func TestCheckHead(t *testing.T) {
	const n = 6
	pub := testKey(1).Public().(ed25519.PublicKey)
	tests := []struct {
		name   string
		tamper func(t *testing.T, rs records) records
		head   func(h Head) Head
		key    ed25519.PublicKey
		want   HeadProblemKind // "" when the head holds
	}{
		{name: "an untouched history holds"},
		{name: "an event appended since the head was signed is not the head's business", tamper: func(t *testing.T, rs records) records {
			rs[n-1].Data = []byte(`{}`) // Verify reports it
			return rs
		}},
		{name: "a deleted last event is truncation", tamper: func(t *testing.T, rs records) records {
			return rs[:n-2]
		}, want: Truncated},
		{name: "every event deleted is truncation", tamper: func(t *testing.T, rs records) records {
			return nil
		}, want: Truncated},
		{name: "the last event changed and re-hashed is a hash mismatch", tamper: func(t *testing.T, rs records) records {
			rs[n-2].Data = []byte(`{}`)
			relink(t, &rs[n-2], storedOf(t, rs[n-2]).Prev)
			return rs
		}, want: HashMismatch},
		{name: "the whole history re-hashed is a hash mismatch", tamper: func(t *testing.T, rs records) records {
			rs[0].Data = []byte(`{}`)
			prev := Genesis
			for i := range rs[:n-1] {
				relink(t, &rs[i], prev)
				prev = storedOf(t, rs[i]).Hash
			}
			return rs
		}, want: HashMismatch},
		{name: "an event changed before the head breaks the chain", tamper: func(t *testing.T, rs records) records {
			rs[2].Data = []byte(`{}`)
			return rs
		}, want: ChainBroken},
		{name: "a deleted middle event breaks the chain", tamper: func(t *testing.T, rs records) records {
			return slices.Delete(rs, 2, 3)
		}, want: ChainBroken},
		{name: "a revision changed in the head breaks its signature", head: func(h Head) Head { h.Revision--; h.Events--; return h }, want: BadSignature},
		{name: "a hash changed in the head breaks its signature", head: func(h Head) Head { h.Hash = someHash; return h }, want: BadSignature},
		{name: "a signing time changed in the head breaks its signature", head: func(h Head) Head { h.SignedAt = h.SignedAt.Add(time.Nanosecond); return h }, want: BadSignature},
		{name: "a property changed in the head breaks its signature", head: func(h Head) Head { h.PropertyID = "other"; return h }, want: BadSignature},
		{name: "a signature that is no base64 is bad", head: func(h Head) Head { h.Signature = "!"; return h }, want: BadSignature},
		{name: "another key's signature under this key's ID is bad", head: func(h Head) Head {
			other := testSigner(t, 2).sign(h)
			h.Signature = other.Signature
			return h
		}, want: BadSignature},
		{name: "a head checked with another key names the key", key: testKey(2).Public().(ed25519.PublicKey), want: WrongKey},
		{name: "a key of the wrong size is the wrong key", key: pub[:16], want: WrongKey},
		{name: "a head whose events are not revision+1 is malformed", head: func(h Head) Head { h.Events = 99; return h }, want: HeadMalformed},
		{name: "a head whose hash is no hash is malformed", head: func(h Head) Head { h.Hash = "abc"; return h }, want: HeadMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := memory.New()
			writeHistory(t, store, "property-p1", n-1, 0)
			h, err := testSigner(t, 1).SignHead(context.Background(), store, "p1")
			if err != nil {
				t.Fatal(err)
			}
			appendEvent(t, store, "property-p1", true)
			rs := readBack(t, store)
			if tt.tamper != nil {
				rs = tt.tamper(t, rs)
			}
			h = jsonRoundTrip(t, h)
			if tt.head != nil {
				h = tt.head(h)
			}
			key := pub
			if tt.key != nil {
				key = tt.key
			}
			got, err := CheckHead(context.Background(), rs, h, key)
			if err != nil {
				t.Fatal(err)
			}
			var kind HeadProblemKind
			if got.Problem != nil {
				kind = got.Problem.Kind
			}
			if kind != tt.want || got.OK != (tt.want == "") || got.Head != h {
				t.Errorf("CheckHead = ok %v, problem %+v; want problem %q", got.OK, got.Problem, tt.want)
			}
		})
	}
}

func TestAuditorWithoutKeyStillVerifies(t *testing.T) {
	store := memory.New()
	writeHistory(t, store, "property-p1", 2, 0)
	a := NewAuditor(store, nil)
	if rep, err := a.Verify(context.Background(), "p1"); err != nil || !rep.OK || rep.Events != 2 {
		t.Errorf("Verify = %+v, %v; want 2 events that verify", rep, err)
	}
	_, errHead := a.SignHead(context.Background(), "p1")
	_, errKey := a.PublicKey()
	for _, err := range []error{errHead, errKey} {
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.CodeSigningKeyNotConfigured || de.Kind != domain.KindUnavailable ||
			!strings.Contains(de.Message, "ROSTER_AUDIT_SIGNING_KEY") {
			t.Errorf("without a key: %v, want %s naming the variable", err, domain.CodeSigningKeyNotConfigured)
		}
	}
}
