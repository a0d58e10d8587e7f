package chain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/eventstore/memory"
)

// writeHistory appends n events to stream of store, one append each as the
// executor does: the first legacy ones as written before the chain
// existed, the rest linked after the event before.
func writeHistory(t *testing.T, store eventstore.Store, stream string, n, legacy int) {
	t.Helper()
	for i := range n {
		appendEvent(t, store, stream, i >= legacy)
	}
}

// appendEvent appends one event to the end of stream, linked or not.
func appendEvent(t *testing.T, store eventstore.Store, stream string, linked bool) {
	t.Helper()
	ctx := context.Background()
	recs, err := store.ReadStream(ctx, stream, 0)
	if err != nil {
		t.Fatal(err)
	}
	prev, expected := Genesis, eventstore.NoStream()
	if len(recs) > 0 {
		last := recs[len(recs)-1]
		prev, expected = storedOf(t, last).Hash, eventstore.Exact(last.Revision)
	}
	i := len(recs)
	meta, _ := json.Marshal(map[string]any{"actor_id": "acc-owner", "actor_email": "owner@example.com", "n": i})
	e := eventstore.EventData{ID: uuid.NewString(), Type: "MemberJoined",
		Data: []byte(fmt.Sprintf(`{"schema":1,"account_id":"acc-%d","role":"agent"}`, i)), Metadata: meta}
	if linked {
		if _, err := Link(stream, uint64(i), &e, prev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Append(ctx, stream, expected, []eventstore.EventData{e}); err != nil {
		t.Fatal(err)
	}
}

// records is a stream as the PostgreSQL store reads one back: ordered by
// revision, whatever the revisions now say. Tests tamper with its elements
// as one would with rows.
type records []eventstore.RecordedEvent

func (rs records) ReadStreamPage(_ context.Context, stream string, from uint64, limit int) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for _, r := range rs {
		if r.StreamID == stream && r.Revision >= from {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b eventstore.RecordedEvent) int { return cmpUint(a.Revision, b.Revision) })
	return out[:min(limit, len(out))], nil
}

func (rs records) ReadAll(_ context.Context, after eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for _, r := range rs {
		if after.Less(r.Position) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b eventstore.RecordedEvent) int { return cmpUint(a.Position.Prepare, b.Position.Prepare) })
	return out[:min(limit, len(out))], nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// readBack reads every event of store, in feed order.
func readBack(t *testing.T, store eventstore.Store) records {
	t.Helper()
	all, err := store.ReadAll(context.Background(), eventstore.Start, math.MaxInt32)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// relink recomputes rec's chain fields over its bytes as they are now,
// after its stored prev_hash, as someone covering their tracks would.
func relink(t *testing.T, rec *eventstore.RecordedEvent, prev string) {
	t.Helper()
	i := bytes.LastIndex(rec.Metadata, []byte(`,"prev_hash":`))
	e := eventstore.EventData{ID: rec.ID, Type: rec.Type, Data: rec.Data, Metadata: append(slices.Clone(rec.Metadata[:i]), '}')}
	if _, err := Link(rec.StreamID, rec.Revision, &e, prev); err != nil {
		t.Fatal(err)
	}
	rec.Metadata = e.Metadata
}

func storedOf(t *testing.T, rec eventstore.RecordedEvent) Stored {
	t.Helper()
	st, err := Read(rec)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// want is the part of a report a tamper test pins down.
type want struct {
	OK        bool
	Events    uint64
	Unchained uint64
	Kind      ProblemKind
	Revision  uint64
	EventID   string // of the event at this index of the original history
	Expected  *uint64
}

func ptr(v uint64) *uint64 { return &v }

// TestVerifyNamesTheFirstBadEvent tampers with a copy of a stored history of
// six events per case, as one could with rows in the database, and checks
// which event verification names and why, reading the stream in pages of
// every size that puts the bad event at a page's start, middle and end.
func TestVerifyNamesTheFirstBadEvent(t *testing.T) {
	const n = 6
	tests := []struct {
		name   string
		legacy int
		tamper func(t *testing.T, rs records, other records) records
		want   want
	}{
		{"an untouched history verifies", 0, nil, want{OK: true, Events: n}},
		{"events written before the chain existed verify as unchained", 2, nil, want{OK: true, Events: n, Unchained: 2}},
		{"a history written wholly before the chain verifies as unchained", n, nil, want{OK: true, Events: n, Unchained: n}},
		{"changed data is altered", 0, func(t *testing.T, rs, _ records) records {
			rs[2].Data = bytes.Replace(rs[2].Data, []byte("agent"), []byte("admin"), 1)
			return rs
		}, want{Events: 2, Kind: Altered, Revision: 2, EventID: "2"}},
		{"changed metadata is altered", 0, func(t *testing.T, rs, _ records) records {
			rs[2].Metadata = bytes.Replace(rs[2].Metadata, []byte("owner@"), []byte("other@"), 1)
			return rs
		}, want{Events: 2, Kind: Altered, Revision: 2, EventID: "2"}},
		{"a changed event type is altered", 0, func(t *testing.T, rs, _ records) records {
			rs[3].Type = "MemberRemoved"
			return rs
		}, want{Events: 3, Kind: Altered, Revision: 3, EventID: "3"}},
		{"a changed last event is altered", 0, func(t *testing.T, rs, _ records) records {
			rs[n-1].Data = []byte(`{}`)
			return rs
		}, want{Events: n - 1, Kind: Altered, Revision: n - 1, EventID: "5"}},
		{"a changed legacy event just before the chain breaks the first link", 2, func(t *testing.T, rs, _ records) records {
			rs[1].Data = []byte(`{}`)
			return rs
		}, want{Events: 2, Unchained: 2, Kind: BrokenLink, Revision: 2, EventID: "2"}},
		{"a deleted middle event leaves revisions missing", 0, func(t *testing.T, rs, _ records) records {
			return slices.Delete(rs, 2, 3)
		}, want{Events: 2, Kind: Missing, Revision: 3, EventID: "3", Expected: ptr(2)}},
		{"a deleted first event leaves revision 0 missing", 0, func(t *testing.T, rs, _ records) records {
			return rs[1:]
		}, want{Kind: Missing, Revision: 1, EventID: "1", Expected: ptr(0)}},
		{"deleting the last event is invisible to the chain alone", 0, func(t *testing.T, rs, _ records) records {
			return rs[:n-1]
		}, want{OK: true, Events: n - 1}},
		{"a deleted middle event with later revisions renumbered is altered", 0, func(t *testing.T, rs, _ records) records {
			rs = slices.Delete(rs, 2, 3)
			for i := 2; i < len(rs); i++ {
				rs[i].Revision--
			}
			return rs
		}, want{Events: 2, Kind: Altered, Revision: 2, EventID: "3"}},
		{"two events with swapped revisions are altered at the earlier", 0, func(t *testing.T, rs, _ records) records {
			rs[1].Revision, rs[3].Revision = rs[3].Revision, rs[1].Revision
			return rs
		}, want{Events: 1, Kind: Altered, Revision: 1, EventID: "3"}},
		{"two events with swapped contents are altered at the earlier", 0, func(t *testing.T, rs, _ records) records {
			rs[1].Data, rs[3].Data = rs[3].Data, rs[1].Data
			return rs
		}, want{Events: 1, Kind: Altered, Revision: 1, EventID: "1"}},
		{"an event moved in from another property is altered", 0, func(t *testing.T, rs, other records) records {
			moved := other[2]
			moved.StreamID = rs[2].StreamID
			rs[2] = moved
			return rs
		}, want{Events: 2, Kind: Altered, Revision: 2, EventID: "other 2"}},
		{"an event stripped of its chain fields is unchained after chained", 0, func(t *testing.T, rs, _ records) records {
			i := bytes.LastIndex(rs[3].Metadata, []byte(`,"prev_hash":`))
			rs[3].Metadata = append(slices.Clone(rs[3].Metadata[:i]), '}')
			return rs
		}, want{Events: 3, Kind: UnchainedAfterChained, Revision: 3, EventID: "3"}},
		{"a first event stripped of its chain fields breaks the next link", 0, func(t *testing.T, rs, _ records) records {
			i := bytes.LastIndex(rs[0].Metadata, []byte(`,"prev_hash":`))
			rs[0].Metadata = append(slices.Clone(rs[0].Metadata[:i]), '}')
			return rs
		}, want{Events: 1, Unchained: 1, Kind: BrokenLink, Revision: 1, EventID: "1"}},
		{"an event changed and re-hashed breaks the next link", 0, func(t *testing.T, rs, _ records) records {
			rs[2].Data = []byte(`{"schema":1,"account_id":"acc-mallory","role":"admin"}`)
			relink(t, &rs[2], storedOf(t, rs[2]).Prev)
			return rs
		}, want{Events: 3, Kind: BrokenLink, Revision: 3, EventID: "3"}},
		{"the last event changed and re-hashed is invisible to the chain alone", 0, func(t *testing.T, rs, _ records) records {
			rs[n-1].Data = []byte(`{}`)
			relink(t, &rs[n-1], storedOf(t, rs[n-1]).Prev)
			return rs
		}, want{OK: true, Events: n}},
		{"a first event re-hashed after another than the genesis hash breaks its link", 0, func(t *testing.T, rs, _ records) records {
			relink(t, &rs[0], someHash)
			return rs
		}, want{Kind: BrokenLink, Revision: 0, EventID: "0"}},
		{"chain fields reordered as jsonb prints them are malformed", 0, func(t *testing.T, rs, _ records) records {
			var m map[string]any
			if err := json.Unmarshal(rs[4].Metadata, &m); err != nil {
				t.Fatal(err)
			}
			rs[4].Metadata, _ = json.Marshal(m) // keys sorted: hash is no longer last
			return rs
		}, want{Events: 4, Kind: Malformed, Revision: 4, EventID: "4"}},
		{"a hash that is no hash is malformed", 0, func(t *testing.T, rs, _ records) records {
			md := rs[1].Metadata
			rs[1].Metadata = append(slices.Clone(md[:len(md)-4]), `zz"}`...)
			return rs
		}, want{Events: 1, Kind: Malformed, Revision: 1, EventID: "1"}},
		{"a stream without events is missing revision 0", 0, func(t *testing.T, rs, _ records) records {
			return nil
		}, want{Kind: Missing, Expected: ptr(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := memory.New()
			writeHistory(t, store, "property-p1", n, tt.legacy)
			writeHistory(t, store, "property-other", n, 0)
			all := readBack(t, store)
			var rs, other records
			ids := map[string]string{}
			for _, r := range all {
				if r.StreamID == "property-p1" {
					rs = append(rs, r)
					ids[r.ID] = fmt.Sprint(r.Revision)
				} else {
					other = append(other, r)
					ids[r.ID] = fmt.Sprint("other ", r.Revision)
				}
			}
			if tt.tamper != nil {
				rs = tt.tamper(t, rs, other)
			}
			for _, page := range []int{1, 2, 3, 1000} {
				rep, err := verify(context.Background(), rs, "property-p1", math.MaxUint64, page)
				if err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				got := want{OK: rep.OK, Events: rep.Events, Unchained: rep.Unchained}
				if rep.Problem != nil {
					got.Kind, got.Revision, got.Expected = rep.Problem.Kind, rep.Problem.Revision, rep.Problem.ExpectedRevision
					got.EventID = ids[rep.Problem.EventID]
					if rep.Problem.EventID != "" && !strings.Contains(rep.Problem.Message, rep.Problem.EventID) {
						t.Errorf("page %d: message %q does not name event %s", page, rep.Problem.Message, rep.Problem.EventID)
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("page %d: report (-want +got):\n%s\n%+v", page, diff, rep.Problem)
				}
				checkReportShape(t, rep)
			}
		})
	}
}

// checkReportShape holds for every report: counts add up, the head is the
// last event that verified, and a problem is there exactly when not OK.
func checkReportShape(t *testing.T, rep Report) {
	t.Helper()
	if rep.Chained+rep.Unchained != rep.Events || rep.PropertyID != "p1" || rep.Stream != "property-p1" {
		t.Errorf("report %+v: counts or names do not add up", rep)
	}
	if (rep.Problem == nil) != rep.OK {
		t.Errorf("report ok %v with problem %+v", rep.OK, rep.Problem)
	}
	if rep.Events == 0 && rep.Head != nil || rep.Events > 0 && (rep.Head == nil || rep.Head.Revision != rep.Events-1 || !isHash(rep.Head.Hash)) {
		t.Errorf("head %+v after %d events that verified", rep.Head, rep.Events)
	}
}

func TestVerifyAllReportsEveryPropertyStream(t *testing.T) {
	store := memory.New()
	writeHistory(t, store, "property-a", 3, 0)
	writeHistory(t, store, "not-a-property", 2, 0)
	writeHistory(t, store, "property-b", 2, 1)
	rs := readBack(t, store)
	rs[1].Data = []byte(`{}`) // property-a at revision 1
	rs[3].Data = []byte(`{}`) // not a property stream, so not verified
	var got []string
	err := VerifyAll(context.Background(), rs, []string{"b", "gone"}, func(r Report) error {
		line := fmt.Sprintf("%s ok=%v events=%d", r.PropertyID, r.OK, r.Events)
		if r.Problem != nil {
			line += " " + string(r.Problem.Kind)
		}
		got = append(got, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a ok=false events=1 altered", "b ok=true events=2", "gone ok=false events=0 missing"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}

	stop := errors.New("enough")
	calls := 0
	if err := VerifyAll(context.Background(), rs, nil, func(Report) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("VerifyAll after fn failed: %v with %d calls, want fn's error after 1", err, calls)
	}
}
