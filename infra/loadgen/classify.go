package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Classify names the kind of a failed request the way the report counts
// them: "<status> <code>" for an answer with a problem document (the code
// is the server's stable one, see infra/httpapi/problem.go), "<status>"
// when the body is not one, and "transport: <what>" when no answer came.
// It returns "" for a 2xx or 3xx answer.
func Classify(status int, body []byte, err error) string {
	if err != nil {
		return "transport: " + transportKind(err)
	}
	if status < 400 {
		return ""
	}
	var p struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &p) == nil && p.Code != "" {
		return fmt.Sprintf("%d %s", status, p.Code)
	}
	return fmt.Sprint(status)
}

// transportKind gives a failure without an answer a short, stable name, so
// a thousand refused connections are one row of the report, not a thousand.
func transportKind(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Op
	}
	return "other"
}

// Errors counts failures by kind, from many goroutines.
type Errors struct {
	mu     sync.Mutex
	counts map[string]int
}

// Add counts one failure of kind; an empty kind is not a failure.
func (e *Errors) Add(kind string) { e.AddN(kind, 1) }

// AddN counts n failures of kind.
func (e *Errors) AddN(kind string, n int) {
	if kind == "" || n <= 0 {
		return
	}
	e.mu.Lock()
	if e.counts == nil {
		e.counts = map[string]int{}
	}
	e.counts[kind] += n
	e.mu.Unlock()
}

// Counts returns a copy of the counts (never nil, so the JSON says {}).
func (e *Errors) Counts() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := maps.Clone(e.counts)
	if out == nil {
		out = map[string]int{}
	}
	return out
}

// Total returns the number of failures of every kind.
func (e *Errors) Total() int {
	n := 0
	for _, c := range e.Counts() {
		n += c
	}
	return n
}

// isConflict reports whether kind is a write that lost the race for its
// stream (409 concurrent_modification): worth sending again when seeding.
func isConflict(kind string) bool {
	return strings.HasSuffix(kind, " concurrent_modification")
}
