package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/accessindex"
	"github.com/rosterhq/roster/infra/eventstore"
)

// checkBodies are bodies of both check routes, plain and otherwise.
var checkBodies = []string{
	`{"account_id":"acc-3","property_id":"p-4242","permission":"respond_to_chats"}`,
	` { "account_id" : "a" ,"property_id":"p", "permission":"view_members", "at_least":"6.2" } ` + "\n",
	`{}`, `{"account_id":""}`, `{"account_id":"é-ü"}`, `{"account_id":"\u00e9"}`, `{"account_id":"a\"b"}`,
	`{"account_id":"a","account_id":"b"}`, `{"Account_ID":"a"}`, `{"role":"admin"}`, `{"account_id":1}`,
	`{"account_id":null}`, `{"account_id":"a"} {}`, `{"account_id":"a"`, `[]`, `null`, ``, `{"account_id":"a",}`,
	"{\"account_id\":\"\xff\"}", "{\"account_id\":\"a\tb\"}", `{"items":[]}`, `{"items":null}`,
	`{"items":[{"account_id":"a","property_id":"p","permission":"view_members"},{"account_id":"b","property_id":"q","permission":"manage_members"}],"at_least":"1.0"}`,
	`{"items":[{}]}`, `{"items":[{"at_least":"1.0"}]}`, `{"items":[{"account_id":"a"},]}`, `{"items":[1]}`, `{"items":{}}`,
	`{"at_least":"1.0","items":[{"permission":"view_members"}]}`, `{"items":[{"account_id":"a","account_id":"b"}]}`,
}

// TestFastCheckDecodingReadsAsDecodeStrict checks that whatever the fast
// readers take, decodeStrict takes too and reads the same; what they do
// not, decodeStrict alone answers.
func TestFastCheckDecodingReadsAsDecodeStrict(t *testing.T) {
	taken := 0
	for _, body := range checkBodies {
		var fast, strict checkRequest
		if fastCheckRequest(body, &fast) {
			taken++
			if err := decodeStrict([]byte(body), &strict); err != nil {
				t.Errorf("single %q: the fast reader took what decodeStrict refuses: %v", body, err)
			} else if fast != strict {
				t.Errorf("single %q: fast %+v, strict %+v", body, fast, strict)
			}
		}
		var fastBulk, strictBulk bulkCheckRequest
		if fastBulkRequest(body, &fastBulk) {
			taken++
			if err := decodeStrict([]byte(body), &strictBulk); err != nil {
				t.Errorf("bulk %q: the fast reader took what decodeStrict refuses: %v", body, err)
			} else if diff := cmp.Diff(strictBulk, fastBulk); diff != "" {
				t.Errorf("bulk %q (-strict +fast):\n%s", body, diff)
			}
		}
	}
	if taken < 8 {
		t.Errorf("the fast readers took %d of the bodies: they are not fast for plain ones", taken)
	}
}

func FuzzFastCheckDecoding(f *testing.F) {
	for _, body := range checkBodies {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var fast, strict checkRequest
		if fastCheckRequest(body, &fast) {
			if err := decodeStrict([]byte(body), &strict); err != nil || fast != strict {
				t.Fatalf("single %q: fast %+v, strict %+v, %v", body, fast, strict, err)
			}
		}
		var fastBulk, strictBulk bulkCheckRequest
		if fastBulkRequest(body, &fastBulk) {
			if err := decodeStrict([]byte(body), &strictBulk); err != nil || !cmp.Equal(fastBulk, strictBulk) {
				t.Fatalf("bulk %q: fast %+v, strict %+v, %v", body, fastBulk, strictBulk, err)
			}
		}
	})
}

// TestAppendAnswerWritesAsEncodingJSON compares the hand-written answer
// with encoding/json's of toCheckAnswer.
func TestAppendAnswerWritesAsEncodingJSON(t *testing.T) {
	fresh := time.Date(2026, 12, 4, 1, 2, 3, 456789000, time.FixedZone("x", 3600))
	for _, a := range []accessindex.Answer{
		{},
		{Position: eventstore.Position{Commit: 6, Prepare: 2}},
		{Allowed: true, Member: true, Role: domain.RoleAdmin, Status: domain.StatusEnabled, Owner: true,
			Position: eventstore.Position{Commit: 18446744073709551615, Prepare: 1}, FreshAt: fresh},
		{Member: true, Role: "night<shift>&\"q\"\u2028é", Status: domain.StatusDisabled, FreshAt: fresh.Truncate(time.Second)},
		{Member: true, Role: "role-\xff", Status: domain.StatusEnabled, FreshAt: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		want, wantErr := json.Marshal(toCheckAnswer(a))
		got := appendAnswer(nil, a)
		if wantErr != nil {
			// A year past 9999: encoding/json refuses it, and so the
			// answer says nothing of it but what MarshalJSON gave.
			continue
		}
		if string(got) != string(want) {
			t.Errorf("appendAnswer(%+v)\n got %s\nwant %s", a, got, want)
		}
	}
}
