package chain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
)

const (
	testStream = "property-p1"
	eventA     = "7d0c9f3e-6a43-4c1b-9d0f-3f6a2b1c0a01"
	someHash   = "1111111111111111111111111111111111111111111111111111111111111111"
)

// stored is the record the store would give back for e linked at revision.
func stored(stream string, revision uint64, e eventstore.EventData) eventstore.RecordedEvent {
	return eventstore.RecordedEvent{ID: e.ID, StreamID: stream, Revision: revision, Type: e.Type, Data: e.Data, Metadata: e.Metadata}
}

func TestLinkThenReadGivesTheLinkBack(t *testing.T) {
	tests := []struct {
		name, meta string
		prev       string
	}{
		{"metadata with fields, after genesis", `{"actor_id":"a1","schema":1}`, Genesis},
		{"an empty object", `{}`, someHash},
		{"an empty object with spaces inside and around", "  { \n }\n", someHash},
		{"a value that reads like a chain field is only a value", `{"user_agent":"hash","note":"prev_hash"}`, someHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := eventstore.EventData{ID: eventA, Type: "MemberJoined", Data: []byte(`{"schema":1}`), Metadata: []byte(tt.meta)}
			sum, err := Link(testStream, 4, &e, tt.prev)
			if err != nil {
				t.Fatalf("Link: %v", err)
			}
			got, err := Read(stored(testStream, 4, e))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(Stored{Chained: true, Hash: sum, Computed: sum, Prev: tt.prev}, got); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
			var fields map[string]any
			if err := json.Unmarshal(e.Metadata, &fields); err != nil {
				t.Fatalf("linked metadata %s is not JSON: %v", e.Metadata, err)
			}
			if fields["hash"] != sum || fields["prev_hash"] != tt.prev || !strings.HasSuffix(string(e.Metadata), `"hash":"`+sum+`"}`) {
				t.Errorf("linked metadata %s: want prev_hash %s then hash %s last", e.Metadata, tt.prev, sum)
			}
		})
	}
}

func TestLinkRefusesWhatItCannotLink(t *testing.T) {
	tests := []struct {
		name, meta, prev, want string
	}{
		{"empty metadata", ``, Genesis, "metadata is not a JSON object"},
		{"an array", `[1]`, Genesis, "metadata is not a JSON object"},
		{"null", `null`, Genesis, "metadata is not a JSON object"},
		{"a previous hash that is too short", `{}`, "abc", "is not 64 hex digits"},
		{"a previous hash in upper case", `{}`, strings.ToUpper(strings.Repeat("ab", 32)), "is not 64 hex digits"},
		{"metadata linked already", `{"a":1,"prev_hash":"` + Genesis + `","hash":"` + someHash + `"}`, Genesis, "has chain fields already"},
		{"metadata with a prev_hash key", `{"prev_hash" : "x"}`, Genesis, "has chain fields already"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := eventstore.EventData{ID: eventA, Type: "T", Data: []byte(`{}`), Metadata: []byte(tt.meta)}
			before := string(e.Metadata)
			_, err := Link(testStream, 0, &e, tt.prev)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Link error = %v, want one containing %q", err, tt.want)
			}
			if string(e.Metadata) != before {
				t.Errorf("a refused Link changed the metadata to %s", e.Metadata)
			}
		})
	}
}

// TestDigestFramingIsUnambiguous: every part is length-prefixed, so moving
// bytes from one part to the next, or changing any part, changes the hash.
func TestDigestFramingIsUnambiguous(t *testing.T) {
	type parts struct {
		stream   string
		revision uint64
		id, typ  string
		data     string
		body     string
	}
	base := parts{"property-1", 23, eventA, "MemberJoined", `{"a":1}`, `{"b":2}`}
	sum := func(p parts) string { return digest(p.stream, p.revision, p.id, p.typ, []byte(p.data), []byte(p.body)) }
	tests := []struct {
		name string
		p    parts
	}{
		{"a digit moved from the revision to the stream", parts{"property-12", 3, eventA, "MemberJoined", `{"a":1}`, `{"b":2}`}},
		{"bytes moved from the type to the data", parts{"property-1", 23, eventA, "MemberJoine", `d{"a":1}`, `{"b":2}`}},
		{"bytes moved from the data to the body", parts{"property-1", 23, eventA, "MemberJoined", `{"a":1`, `}{"b":2}`}},
		{"another stream", parts{"property-2", 23, eventA, "MemberJoined", `{"a":1}`, `{"b":2}`}},
		{"another revision", parts{"property-1", 24, eventA, "MemberJoined", `{"a":1}`, `{"b":2}`}},
		{"another event ID", parts{"property-1", 23, strings.Replace(eventA, "1", "2", 1), "MemberJoined", `{"a":1}`, `{"b":2}`}},
		{"another type", parts{"property-1", 23, eventA, "MemberLeft", `{"a":1}`, `{"b":2}`}},
		{"other data", parts{"property-1", 23, eventA, "MemberJoined", `{"a":2}`, `{"b":2}`}},
		{"another body", parts{"property-1", 23, eventA, "MemberJoined", `{"a":1}`, `{"b":3}`}},
	}
	want := sum(base)
	if want != sum(base) || !isHash(want) {
		t.Fatalf("digest %q is not a stable 64-hex-digit hash", want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sum(tt.p); got == want {
				t.Errorf("digest %s is the same as the original's", got)
			}
		})
	}
}

func TestReadUnchainedEventHashesItsBytes(t *testing.T) {
	tests := []struct{ name, meta string }{
		{"metadata without chain fields", `{"actor_id":"a1"}`},
		{"no metadata at all", ``},
		{"a value that is the word hash", `{"user_agent":"hash"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := eventstore.RecordedEvent{ID: eventA, StreamID: testStream, Revision: 2, Type: "T", Data: []byte(`{}`)}
			if tt.meta != "" {
				rec.Metadata = []byte(tt.meta)
			}
			got, err := Read(rec)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			sum := digest(testStream, 2, eventA, "T", []byte(`{}`), rec.Metadata)
			if diff := cmp.Diff(Stored{Hash: sum, Computed: sum}, got); diff != "" {
				t.Errorf("Read (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadRefusesMalformedChainFields(t *testing.T) {
	notHex := strings.Repeat("g", 64)
	tests := []struct{ name, meta string }{
		{"hash not the last field", `{"hash":"` + someHash + `","prev_hash":"` + Genesis + `"}`},
		{"hash last but spaced as jsonb prints it", `{"prev_hash": "` + Genesis + `", "hash": "` + someHash + `"}`},
		{"hash not hex", `{"prev_hash":"` + Genesis + `","hash":"` + notHex + `"}`},
		{"hash without prev_hash", `{"a":1,"hash":"` + someHash + `"}`},
		{"prev_hash not hex", `{"prev_hash":"` + notHex + `","hash":"` + someHash + `"}`},
		{"prev_hash a number", `{"prev_hash":1,"hash":"` + someHash + `"}`},
		{"prev_hash not the field before hash", `{"prev_hash":"` + Genesis + `","a":1,"hash":"` + someHash + `"}`},
		{"prev_hash only the end of another key", `{"a\"prev_hash":"` + Genesis + `","hash":"` + someHash + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := eventstore.RecordedEvent{ID: eventA, StreamID: testStream, Type: "T", Data: []byte(`{}`), Metadata: []byte(tt.meta)}
			if _, err := Read(rec); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), eventA) {
				t.Errorf("Read error = %v, want ErrMalformed naming event %s", err, eventA)
			}
		})
	}
}
