package privacy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// TestObjectsAreRewrittenInPlace: a document split into members and joined
// again keeps every member, in order, with its value's bytes, repeated
// names included.
func TestObjectsAreRewrittenInPlace(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"order and values are kept", `{"b":1,"a":"x","c":[1, 2],"d":{"e":null}}`, `{"b":1,"a":"x","c":[1, 2],"d":{"e":null}}`},
		{"space between members goes, space inside values stays", "{ \"a\" : [ 1 ] ,\n \"b\":\"c d\" }", `{"a":[ 1 ],"b":"c d"}`},
		{"repeated names are kept", `{"a":1,"a":2}`, `{"a":1,"a":2}`},
		{"an empty object", `{}`, `{}`},
		{"escaped names stay valid", `{"a\"b":1}`, `{"a\"b":1}`},
		{"brackets and quotes inside strings are text", `{"a":"x}\"y{","b":[{"c":"]"}],"n":-1.5e+3,"t":true,"z":null}`,
			`{"a":"x}\"y{","b":[{"c":"]"}],"n":-1.5e+3,"t":true,"z":null}`},
		{"space around the document goes", " {\"a\":1} \n", `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := parseObject([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(appendObject(nil, ms)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzParseObject: whatever object parseObject splits, joining it again
// gives a document that decodes to the same thing.
func FuzzParseObject(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":1,"b":"c"}`, `{"a":{"b":[1,"]}",{"c":null}]},"d":"\u00e9\\"}`, ` { "a" : true } `} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		ms, err := parseObject([]byte(doc))
		if err != nil {
			return
		}
		var want, got any
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("parseObject took %q, which does not decode: %v", doc, err)
		}
		joined := appendObject(nil, ms)
		if err := json.Unmarshal(joined, &got); err != nil {
			t.Fatalf("%q joined again is %q, which does not decode: %v", doc, joined, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q joined again as %q decodes otherwise (-want +got):\n%s", doc, joined, diff)
		}
	})
}

func TestParseObjectRefusesWhatIsNotOneObject(t *testing.T) {
	for _, in := range []string{``, `[]`, `"a"`, `{"a":1`, `{"a":1} {}`, `{"a" 1}`, `null`} {
		if _, err := parseObject([]byte(in)); err == nil {
			t.Errorf("parseObject(%q) succeeded, want an error", in)
		}
	}
}

// TestSealedValuesParseOnlyWhole: a value is plain unless it starts with
// the prefix; one that starts so and does not parse is an error, never
// taken for plain.
func TestSealedValuesParseOnlyWhole(t *testing.T) {
	id := uuid.MustParse("0190f1e2-3c4d-7e8f-9a0b-1c2d3e4f5a6b")
	tag := hexID(id)
	ct := strings.Repeat("A", 40) // 30 bytes of base64url
	tests := []struct {
		name, in      string
		sealed, fails bool
	}{
		{"an email is plain", "ann@example.com", false, false},
		{"an IP is plain", "203.0.113.7", false, false},
		{"an empty value is plain", "", false, false},
		{"a prefix elsewhere is plain", "x pii1:" + tag + ":" + ct, false, false},
		{"a whole sealed value", "pii1:" + tag + ":" + ct, true, false},
		{"no subject", "pii1:", true, true},
		{"a short subject", "pii1:" + tag[:30] + ":" + ct, true, true},
		{"a subject that is not hex", "pii1:" + strings.Repeat("z", 32) + ":" + ct, true, true},
		{"a ciphertext that is not base64url", "pii1:" + tag + ":" + ct + "+/", true, true},
		{"a ciphertext shorter than nonce and tag", "pii1:" + tag + ":AAAA", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, sealed, err := parseSealed(tt.in)
			if sealed != tt.sealed || (err != nil) != tt.fails {
				t.Fatalf("sealed %v, err %v; want sealed %v, error %v", sealed, err, tt.sealed, tt.fails)
			}
			if err != nil && !errors.Is(err, errMalformed) {
				t.Errorf("error %v does not say the value is malformed", err)
			}
			if tt.sealed && !tt.fails && got != id {
				t.Errorf("subject %s, want %s", got, id)
			}
		})
	}
}

func TestErasedEmailsAreReservedAndPerPerson(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	ea, eb := ErasedEmail(a), ErasedEmail(b)
	if ea == eb {
		t.Fatalf("two subjects share the marker %s", ea)
	}
	for _, e := range []string{ea, eb} {
		if !strings.HasSuffix(e, "@erased.invalid") || !IsErasedEmail(e) {
			t.Errorf("%s is not an address under .invalid that IsErasedEmail knows", e)
		}
	}
	if diff := cmp.Diff("erased-"+strings.ReplaceAll(a.String(), "-", "")+"@erased.invalid", ea); diff != "" {
		t.Errorf("marker (-want +got):\n%s", diff)
	}
	if IsErasedEmail("ann@example.com") || IsErasedEmail("erased@example.com") {
		t.Error("IsErasedEmail takes a real address for a marker")
	}
}
