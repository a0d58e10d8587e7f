package esdbdouble

import (
	"regexp"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// readBatchSize is the page a node reads at a time, and the search window
// of a filter that asks for none.
const readBatchSize = 32

// filter is a server-side $all filter: on the stream name or the event
// type, by prefixes or a regular expression. The zero filter lets
// everything through.
type filter struct {
	on       func(*record) string
	prefixes []string
	re       *regexp.Regexp
	// window is how many records a page considers; interval is how many
	// considered records make a checkpoint (multiplier times window).
	window   int
	interval int
}

// parseFilter reads the filter options of a request; nil options mean no
// filter.
func parseFilter(opts *streams.ReadReq_Options_FilterOptions) (*filter, error) {
	if opts == nil {
		return nil, nil
	}
	f := &filter{window: readBatchSize}
	var expr *streams.ReadReq_Options_FilterOptions_Expression
	switch v := opts.GetFilter().(type) {
	case *streams.ReadReq_Options_FilterOptions_StreamIdentifier:
		f.on, expr = func(r *record) string { return r.stream }, v.StreamIdentifier
	case *streams.ReadReq_Options_FilterOptions_EventType:
		f.on, expr = func(r *record) string { return r.eventType }, v.EventType
	default:
		return nil, status.Error(codes.InvalidArgument, "a filter names neither stream identifiers nor event types")
	}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter regex %q: %v", expr.GetRegex(), err)
		}
		f.re = re
	} else {
		f.prefixes = expr.GetPrefix()
	}
	if m, ok := opts.GetWindow().(*streams.ReadReq_Options_FilterOptions_Max); ok && m.Max > 0 {
		f.window = int(m.Max)
	}
	f.interval = int(opts.GetCheckpointIntervalMultiplier()) * f.window
	return f, nil
}

// allows reports whether r passes the filter.
func (f *filter) allows(r *record) bool {
	if f == nil {
		return true
	}
	s := f.on(r)
	if f.re != nil {
		return f.re.MatchString(s)
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
