package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
)

// testRoundTrip checks that payloads come back exactly as written: a later
// issue hashes the stored bytes to prove the history intact, so a store may
// not normalise JSON (whitespace, key order, duplicate keys, escapes,
// number spelling).
func testRoundTrip(t *testing.T, s eventstore.Store) {
	payloads := []struct {
		name     string
		data     string
		metadata string // "" stores no metadata
	}{
		{"whitespace and key order", "{ \"b\" : 1,\n\t\"a\":[1, 2 ,3] }", `{"z":1,"a":2}`},
		{"duplicate keys", `{"a":1,"a":2}`, `{"k":"v","k":"w"}`},
		{"non-ASCII text", `{"name":"Zoë 名前 😀"}`, `{"ip":"203.0.113.7","ua":"Mozilla/5.0 (X11; Linux)"}`},
		{"escapes", `{"s":"\u00e9\n\"q\"\\ \/ \u0000"}`, `{"e":"\ud83d\ude00"}`},
		{"number spellings", `{"n":1.0e+10,"m":-0,"f":0.10}`, `{"big":123456789012345678901234567890}`},
		{"a top-level array and no metadata", `[1,"two",null,true]`, ""},
		{"a top-level string", `"just a string"`, `null`},
		{"surrounding whitespace", "  {\"lead\":\"space\"} \n", " {} "},
	}
	stream := "property-bytes"
	events := make([]eventstore.EventData, len(payloads))
	for i, p := range payloads {
		events[i] = Event("Bytes", p.data)
		events[i].Metadata = nil
		if p.metadata != "" {
			events[i].Metadata = []byte(p.metadata)
		}
	}
	MustAppend(t, s, stream, eventstore.NoStream(), events)

	fromStream, err := s.ReadStream(context.Background(), stream, 0)
	if err != nil {
		t.Fatalf("ReadStream: %v", err)
	}
	fromFeed := WaitForFeed(t, s, len(events))
	if len(fromStream) != len(payloads) || len(fromFeed) != len(payloads) {
		t.Fatalf("read %d events from the stream and %d from the feed, want %d", len(fromStream), len(fromFeed), len(payloads))
	}
	type payload struct{ Data, Metadata []byte }
	for i, p := range payloads {
		want := payload{Data: []byte(p.data)}
		if p.metadata != "" {
			want.Metadata = []byte(p.metadata)
		}
		for _, got := range []eventstore.RecordedEvent{fromStream[i], fromFeed[i]} {
			if diff := cmp.Diff(want, payload{Data: got.Data, Metadata: got.Metadata}); diff != "" {
				t.Errorf("%s (-written +read):\n%s", p.name, diff)
			}
		}
	}
}
