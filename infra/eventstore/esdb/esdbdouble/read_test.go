package esdbdouble_test

import (
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
)

func streamID(name string) *shared.StreamIdentifier {
	return &shared.StreamIdentifier{StreamName: []byte(name)}
}

// streamRead reads a stream from its start or end, forwards or backwards.
func streamRead(name string, forwards bool, count uint64) *streams.ReadReq {
	so := &streams.ReadReq_Options_StreamOptions{StreamIdentifier: streamID(name),
		RevisionOption: &streams.ReadReq_Options_StreamOptions_Start{Start: empty}}
	if !forwards {
		so.RevisionOption = &streams.ReadReq_Options_StreamOptions_End{End: empty}
	}
	return streamReadFrom(so, forwards, count)
}

func streamReadFrom(so *streams.ReadReq_Options_StreamOptions, forwards bool, count uint64) *streams.ReadReq {
	o := readOptions()
	o.StreamOption = &streams.ReadReq_Options_Stream{Stream: so}
	o.CountOption = &streams.ReadReq_Options_Count{Count: count}
	if !forwards {
		o.ReadDirection = streams.ReadReq_Options_Backwards
	}
	return &streams.ReadReq{Options: o}
}

// allRead reads $all from ao with a count, and a filter when f is not nil.
func allRead(ao *streams.ReadReq_Options_AllOptions, forwards bool, count uint64, f *streams.ReadReq_Options_FilterOptions) *streams.ReadReq {
	o := readOptions()
	o.StreamOption = &streams.ReadReq_Options_All{All: ao}
	o.CountOption = &streams.ReadReq_Options_Count{Count: count}
	if !forwards {
		o.ReadDirection = streams.ReadReq_Options_Backwards
	}
	if f != nil {
		o.FilterOption = &streams.ReadReq_Options_Filter{Filter: f}
	}
	return &streams.ReadReq{Options: o}
}

func fromStart() *streams.ReadReq_Options_AllOptions {
	return &streams.ReadReq_Options_AllOptions{AllOption: &streams.ReadReq_Options_AllOptions_Start{Start: empty}}
}

func fromEnd() *streams.ReadReq_Options_AllOptions {
	return &streams.ReadReq_Options_AllOptions{AllOption: &streams.ReadReq_Options_AllOptions_End{End: empty}}
}

func fromPosition(p uint64) *streams.ReadReq_Options_AllOptions {
	return &streams.ReadReq_Options_AllOptions{AllOption: &streams.ReadReq_Options_AllOptions_Position{
		Position: &streams.ReadReq_Options_Position{CommitPosition: p, PreparePosition: p}}}
}

// eventTypes lists the types of the events among msgs, marking any other
// message by its kind.
func eventTypes(msgs []*streams.ReadResp) []string {
	var out []string
	for _, m := range msgs {
		switch c := m.GetContent().(type) {
		case *streams.ReadResp_Event:
			out = append(out, c.Event.GetEvent().GetMetadata()["type"])
		case *streams.ReadResp_StreamNotFound_:
			out = append(out, "<not found "+string(c.StreamNotFound.GetStreamIdentifier().GetStreamName())+">")
		case *streams.ReadResp_Confirmation:
			out = append(out, "<confirmed>")
		case *streams.ReadResp_Checkpoint_:
			out = append(out, "<checkpoint>")
		case *streams.ReadResp_CaughtUp_:
			out = append(out, "<caught up>")
		case *streams.ReadResp_FellBehind_:
			out = append(out, "<fell behind>")
		default:
			out = append(out, "<other>")
		}
	}
	return out
}

func TestReadStream(t *testing.T) {
	t.Parallel()
	srv := start(t, esdbdouble.Options{})
	client := streams.NewStreamsClient(dial(t, srv))
	mustAppend(t, client, "s", expectNoStream(), event("E0"), event("E1"), event("E2"), event("E3"))
	mustAppend(t, client, "other", expectNoStream(), event("O0"))
	revision := func(r uint64) *streams.ReadReq_Options_StreamOptions {
		return &streams.ReadReq_Options_StreamOptions{StreamIdentifier: streamID("s"),
			RevisionOption: &streams.ReadReq_Options_StreamOptions_Revision{Revision: r}}
	}
	tests := []struct {
		name string
		req  *streams.ReadReq
		want []string
	}{
		{"forwards from the start", streamRead("s", true, 100), []string{"E0", "E1", "E2", "E3"}},
		{"forwards from a revision, with a count", streamReadFrom(revision(1), true, 2), []string{"E1", "E2"}},
		{"forwards from past the end", streamReadFrom(revision(9), true, 100), nil},
		{"forwards from the end", streamReadFrom(&streams.ReadReq_Options_StreamOptions{StreamIdentifier: streamID("s"),
			RevisionOption: &streams.ReadReq_Options_StreamOptions_End{End: empty}}, true, 100), nil},
		{"backwards from the end", streamRead("s", false, 100), []string{"E3", "E2", "E1", "E0"}},
		{"backwards from a revision, with a count", streamReadFrom(revision(2), false, 2), []string{"E2", "E1"}},
		{"backwards from the start", streamReadFrom(&streams.ReadReq_Options_StreamOptions{StreamIdentifier: streamID("s"),
			RevisionOption: &streams.ReadReq_Options_StreamOptions_Start{Start: empty}}, false, 100), []string{"E0"}},
		{"a missing stream answers stream-not-found", streamRead("missing", true, 100), []string{"<not found missing>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, eventTypes(readAll(t, client, tt.req))); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("recorded events carry the system properties, revision and position a node sends", func(t *testing.T) {
		t.Parallel()
		msgs := readAll(t, client, streamRead("s", true, 2))
		for i, m := range msgs {
			e := m.GetEvent().GetEvent()
			md := e.GetMetadata()
			if e.GetStreamRevision() != uint64(i) || string(e.GetStreamIdentifier().GetStreamName()) != "s" ||
				md["content-type"] != "application/json" || md["created"] == "" ||
				e.GetCommitPosition() == 0 || e.GetCommitPosition() != e.GetPreparePosition() ||
				m.GetEvent().GetCommitPosition() != e.GetCommitPosition() {
				t.Errorf("event %d: %v", i, m)
			}
		}
	})
	t.Run("IDs come as strings when the reader asks", func(t *testing.T) {
		t.Parallel()
		req := streamRead("s", true, 1)
		req.Options.UuidOption = &streams.ReadReq_Options_UUIDOption{Content: &streams.ReadReq_Options_UUIDOption_String_{String_: empty}}
		msgs := readAll(t, client, req)
		if _, ok := msgs[0].GetEvent().GetEvent().GetId().GetValue().(*shared.UUID_String_); !ok {
			t.Errorf("id %v, want the string form", msgs[0].GetEvent().GetEvent().GetId())
		}
	})
}

func TestReadAll(t *testing.T) {
	t.Parallel()
	srv := start(t, esdbdouble.Options{})
	client := streams.NewStreamsClient(dial(t, srv))
	mustAppend(t, client, "property-a", expectNoStream(), event("A0"), event("A1"))
	mustAppend(t, client, "$stats", expectAny(), event("$statsCollected"))
	mustAppend(t, client, "other", expectNoStream(), event("O0"))
	mustAppend(t, client, "property-b", expectNoStream(), event("B0"))
	all := readAll(t, client, allRead(fromStart(), true, 100, nil))
	pos := func(i int) uint64 { return all[i].GetEvent().GetEvent().GetCommitPosition() }

	t.Run("positions start past zero and grow by each record's size", func(t *testing.T) {
		prev := uint64(0)
		for i := range all {
			if pos(i) <= prev+64 {
				t.Errorf("event %d at %d, not past the record before at %d", i, pos(i), prev)
			}
			prev = pos(i)
		}
	})

	streamFilter := func(prefixes ...string) *streams.ReadReq_Options_FilterOptions {
		return &streams.ReadReq_Options_FilterOptions{
			Filter: &streams.ReadReq_Options_FilterOptions_StreamIdentifier{StreamIdentifier: &streams.ReadReq_Options_FilterOptions_Expression{Prefix: prefixes}},
			Window: &streams.ReadReq_Options_FilterOptions_Count{Count: empty}}
	}
	typeRegex := func(re string) *streams.ReadReq_Options_FilterOptions {
		return &streams.ReadReq_Options_FilterOptions{
			Filter: &streams.ReadReq_Options_FilterOptions_EventType{EventType: &streams.ReadReq_Options_FilterOptions_Expression{Regex: re}},
			Window: &streams.ReadReq_Options_FilterOptions_Max{Max: 2}}
	}
	typePrefix := func(p string) *streams.ReadReq_Options_FilterOptions {
		return &streams.ReadReq_Options_FilterOptions{
			Filter: &streams.ReadReq_Options_FilterOptions_EventType{EventType: &streams.ReadReq_Options_FilterOptions_Expression{Prefix: []string{p}}},
			Window: &streams.ReadReq_Options_FilterOptions_Count{Count: empty}}
	}
	tests := []struct {
		name string
		req  *streams.ReadReq
		want []string
	}{
		{"forwards from the start, system events included", allRead(fromStart(), true, 100, nil), []string{"A0", "A1", "$statsCollected", "O0", "B0"}},
		{"forwards from a position includes the event there", allRead(fromPosition(pos(1)), true, 2, nil), []string{"A1", "$statsCollected"}},
		{"forwards from the end", allRead(fromEnd(), true, 100, nil), nil},
		{"backwards from the end", allRead(fromEnd(), false, 3, nil), []string{"B0", "O0", "$statsCollected"}},
		{"backwards from a position starts before the event there", allRead(fromPosition(pos(2)), false, 100, nil), []string{"A1", "A0"}},
		{"backwards from the start", allRead(fromStart(), false, 100, nil), nil},
		{"filtered by stream prefixes", allRead(fromStart(), true, 100, streamFilter("property-", "oth")), []string{"A0", "A1", "O0", "B0"}},
		{"filtered by stream prefix, backwards with a count", allRead(fromEnd(), false, 2, streamFilter("property-")), []string{"B0", "A1"}},
		{"filtered by event type regex, which leaves system events out", allRead(fromStart(), true, 100, typeRegex(`^[^\$]`)), []string{"A0", "A1", "O0", "B0"}},
		{"filtered by event type prefix", allRead(fromStart(), true, 100, typePrefix("$")), []string{"$statsCollected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, eventTypes(readAll(t, client, tt.req))); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a fresh node's log begins with system events", func(t *testing.T) {
		t.Parallel()
		fresh, err := esdbdouble.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		msgs := readAll(t, streams.NewStreamsClient(dial(t, fresh)), allRead(fromStart(), true, 100, nil))
		for _, m := range msgs {
			if name := string(m.GetEvent().GetEvent().GetStreamIdentifier().GetStreamName()); name == "" || name[0] != '$' {
				t.Errorf("fresh log holds an event of %q", name)
			}
		}
		if len(msgs) == 0 {
			t.Error("a fresh log is empty")
		}
	})
}
