package esdbdouble_test

import (
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/rosterhq/roster/infra/eventstore/esdb/esdbdouble"
)

// subscription is an open subscription call, read message by message.
type subscription struct {
	t    *testing.T
	call streams.Streams_ReadClient
}

func subscribe(t *testing.T, client streams.StreamsClient, o *streams.ReadReq_Options) *subscription {
	t.Helper()
	o.CountOption = &streams.ReadReq_Options_Subscription{Subscription: &streams.ReadReq_Options_SubscriptionOptions{}}
	call, err := client.Read(ctx(t), &streams.ReadReq{Options: o})
	if err != nil {
		t.Fatal(err)
	}
	return &subscription{t: t, call: call}
}

// next reads n messages and describes them as eventTypes does, with the
// position of each checkpoint.
func (s *subscription) next(n int) []string {
	s.t.Helper()
	var out []string
	for range n {
		m, err := s.call.Recv()
		if err != nil {
			s.t.Fatalf("after %v: %v", out, err)
		}
		d := eventTypes([]*streams.ReadResp{m})[0]
		if cp := m.GetCheckpoint(); cp != nil {
			d = "<checkpoint " + s.at(cp.GetCommitPosition(), cp.GetPreparePosition()) + ">"
		}
		out = append(out, d)
	}
	return out
}

// positions name the events a test wrote, so that checkpoints read well.
var positions = map[[2]uint64]string{}

func (s *subscription) at(commit, prepare uint64) string {
	if name, ok := positions[[2]uint64{commit, prepare}]; ok {
		return name
	}
	return "?"
}

func allSubscription(ao *streams.ReadReq_Options_AllOptions, f *streams.ReadReq_Options_FilterOptions) *streams.ReadReq_Options {
	o := readOptions()
	o.StreamOption = &streams.ReadReq_Options_All{All: ao}
	if f != nil {
		o.FilterOption = &streams.ReadReq_Options_Filter{Filter: f}
	}
	return o
}

// prefixFilter filters on stream prefix p with a window of 2 records and a
// checkpoint every multiplier windows.
func prefixFilter(p string, multiplier uint32) *streams.ReadReq_Options_FilterOptions {
	return &streams.ReadReq_Options_FilterOptions{
		Filter:                       &streams.ReadReq_Options_FilterOptions_StreamIdentifier{StreamIdentifier: &streams.ReadReq_Options_FilterOptions_Expression{Prefix: []string{p}}},
		Window:                       &streams.ReadReq_Options_FilterOptions_Max{Max: 2},
		CheckpointIntervalMultiplier: multiplier,
	}
}

// TestSubscribeToAll reads subscriptions message by message: confirmation,
// catch-up (pages of 2 records with a filter here, checkpoints every 2
// considered records), caught-up, live events and live checkpoints.
func TestSubscribeToAll(t *testing.T) {
	srv := start(t, esdbdouble.Options{LiveBufferSize: 3})
	client := streams.NewStreamsClient(dial(t, srv))
	// The log: p0 o1 o2 o3 p4 o5, named for the checkpoints.
	write := func(stream, name string) {
		ok := mustAppend(t, client, stream, expectAny(), event(name))
		positions[[2]uint64{ok.GetPosition().GetCommitPosition(), ok.GetPosition().GetPreparePosition()}] = name
	}
	for _, e := range [][2]string{{"p-x", "p0"}, {"o-x", "o1"}, {"o-x", "o2"}, {"o-x", "o3"}, {"p-x", "p4"}, {"o-x", "o5"}} {
		write(e[0], e[1])
	}
	p0 := readAll(t, client, allRead(fromStart(), true, 1, nil))[0].GetEvent().GetEvent().GetCommitPosition()

	t.Run("filtered from the start: checkpoints at the last event sent or where a page began, none at the end", func(t *testing.T) {
		sub := subscribe(t, client, allSubscription(fromStart(), prefixFilter("p-", 1)))
		want := []string{"<confirmed>", "p0", "<checkpoint p0>", "<checkpoint o2>", "p4", "<caught up>"}
		if diff := cmp.Diff(want, sub.next(len(want))); diff != "" {
			t.Fatalf("catch-up (-want +got):\n%s", diff)
		}
		write("o-x", "o6")
		write("p-x", "p7")
		write("o-x", "o8")
		want = []string{"<checkpoint o6>", "p7", "<checkpoint o8>"}
		if diff := cmp.Diff(want, sub.next(len(want))); diff != "" {
			t.Errorf("live (-want +got):\n%s", diff)
		}
	})
	t.Run("unfiltered from a position: the event there excluded, no checkpoints", func(t *testing.T) {
		sub := subscribe(t, client, allSubscription(fromPosition(p0), nil))
		want := []string{"<confirmed>", "o1", "o2", "o3", "p4", "o5", "o6", "p7", "o8", "<caught up>"}
		if diff := cmp.Diff(want, sub.next(len(want))); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
	})
	t.Run("from the end: caught up at once, then live only", func(t *testing.T) {
		sub := subscribe(t, client, allSubscription(fromEnd(), prefixFilter("p-", 4)))
		if diff := cmp.Diff([]string{"<confirmed>", "<caught up>"}, sub.next(2)); diff != "" {
			t.Fatalf("start (-want +got):\n%s", diff)
		}
		write("p-x", "p9")
		if diff := cmp.Diff([]string{"p9"}, sub.next(1)); diff != "" {
			t.Errorf("live (-want +got):\n%s", diff)
		}
	})
	t.Run("a live subscriber that lags past the live buffer falls behind and catches up again", func(t *testing.T) {
		sub := subscribe(t, client, allSubscription(fromEnd(), nil))
		if diff := cmp.Diff([]string{"<confirmed>", "<caught up>"}, sub.next(2)); diff != "" {
			t.Fatalf("start (-want +got):\n%s", diff)
		}
		mustAppend(t, client, "q-x", expectAny(), event("q0"), event("q1"), event("q2"), event("q3"), event("q4"))
		want := []string{"<fell behind>", "q0", "q1", "q2", "q3", "q4", "<caught up>"}
		if diff := cmp.Diff(want, sub.next(len(want))); diff != "" {
			t.Errorf("messages (-want +got):\n%s", diff)
		}
	})
	t.Run("a filter without a checkpoint multiplier is refused", func(t *testing.T) {
		sub := subscribe(t, client, allSubscription(fromStart(), prefixFilter("p-", 0)))
		if _, err := sub.call.Recv(); status.Code(err) != codes.Unknown {
			t.Errorf("error %v, want Unknown", err)
		}
	})
}

func TestDropSubscriptions(t *testing.T) {
	t.Parallel()
	srv := start(t, esdbdouble.Options{})
	client := streams.NewStreamsClient(dial(t, srv))
	sub := subscribe(t, client, allSubscription(fromEnd(), nil))
	sub.next(2)
	if n := srv.DropSubscriptions(); n != 1 {
		t.Errorf("dropped %d subscriptions, want 1", n)
	}
	if _, err := sub.call.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("error %v, want Unavailable", err)
	}
	mustAppend(t, client, "s", expectAny(), event("After"))
	if n := srv.SubscriptionsOpened(); n != 1 {
		t.Errorf("%d subscriptions opened, want 1", n)
	}
}

func TestSubscribeToStream(t *testing.T) {
	t.Parallel()
	srv := start(t, esdbdouble.Options{})
	client := streams.NewStreamsClient(dial(t, srv))
	mustAppend(t, client, "s", expectNoStream(), event("S0"), event("S1"), event("S2"))
	mustAppend(t, client, "other", expectNoStream(), event("O0"))
	from := func(opt any) *streams.ReadReq_Options {
		so := &streams.ReadReq_Options_StreamOptions{StreamIdentifier: streamID("s")}
		switch v := opt.(type) {
		case uint64:
			so.RevisionOption = &streams.ReadReq_Options_StreamOptions_Revision{Revision: v}
		case string:
			if v == "start" {
				so.RevisionOption = &streams.ReadReq_Options_StreamOptions_Start{Start: empty}
			} else {
				so.RevisionOption = &streams.ReadReq_Options_StreamOptions_End{End: empty}
			}
		}
		o := readOptions()
		o.StreamOption = &streams.ReadReq_Options_Stream{Stream: so}
		return o
	}
	subs := []*subscription{
		subscribe(t, client, from("start")),
		subscribe(t, client, from(uint64(1))),
		subscribe(t, client, from("end")),
	}
	wants := [][]string{
		{"<confirmed>", "S0", "S1", "S2", "<caught up>"},
		{"<confirmed>", "S2", "<caught up>"},
		{"<confirmed>", "<caught up>"},
	}
	for i, sub := range subs {
		if diff := cmp.Diff(wants[i], sub.next(len(wants[i]))); diff != "" {
			t.Errorf("subscription %d catch-up (-want +got):\n%s", i, diff)
		}
	}
	mustAppend(t, client, "other", expectAny(), event("O1"))
	mustAppend(t, client, "s", expectRevision(2), event("S3"))
	for i, sub := range subs {
		if diff := cmp.Diff([]string{"S3"}, sub.next(1)); diff != "" {
			t.Errorf("subscription %d live (-want +got):\n%s", i, diff)
		}
	}
}
