package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
)

func TestClassify(t *testing.T) {
	problem := func(code string) []byte {
		return fmt.Appendf(nil, `{"type":"urn:roster:problem:%s","title":"x","status":409,"detail":"d","code":%q}`, code, code)
	}
	urlErr := func(err error) error { return &url.Error{Op: "Post", URL: "http://127.0.0.1:1/v1", Err: err} }
	tests := []struct {
		name   string
		status int
		body   []byte
		err    error
		want   string
	}{
		{"a 200 is no failure", 200, []byte(`{}`), nil, ""},
		{"a 201 is no failure", 201, nil, nil, ""},
		{"a 304 is no failure", 304, nil, nil, ""},
		{"a problem document is named by status and code", 409, problem("concurrent_modification"), nil, "409 concurrent_modification"},
		{"a 404 problem keeps its code", 404, problem("property_not_found"), nil, "404 property_not_found"},
		{"a body that is not JSON is named by status alone", 502, []byte("<html>bad gateway</html>"), nil, "502"},
		{"JSON without a code is named by status alone", 500, []byte(`{"error":"x"}`), nil, "500"},
		{"an empty code is named by status alone", 400, []byte(`{"code":""}`), nil, "400"},
		{"an empty body is named by status alone", 503, nil, nil, "503"},
		{"a refused connection", 0, nil, urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), "transport: connection refused"},
		{"a reset connection", 0, nil, urlErr(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), "transport: connection reset"},
		{"a client timeout", 0, nil, urlErr(context.DeadlineExceeded), "transport: timeout"},
		{"a cancelled run", 0, nil, urlErr(context.Canceled), "transport: canceled"},
		{"a connection closed mid-answer", 0, nil, urlErr(io.ErrUnexpectedEOF), "transport: connection closed"},
		{"another network failure is named by its operation", 0, nil, urlErr(&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}), "transport: write"},
		{"anything else", 0, nil, urlErr(fmt.Errorf("odd")), "transport: other"},
		{"a failure to read the body wins over its status", 200, nil, urlErr(io.EOF), "transport: connection closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.status, tt.body, tt.err); got != tt.want {
				t.Errorf("Classify = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorsCountByKind(t *testing.T) {
	var e Errors
	if got := e.Counts(); got == nil || len(got) != 0 {
		t.Fatalf("Counts of nothing = %v, want an empty map", got)
	}
	e.Add("")
	e.Add("409 concurrent_modification")
	e.Add("409 concurrent_modification")
	e.AddN("transport: timeout", 3)
	e.AddN("ignored", 0)
	got := e.Counts()
	want := map[string]int{"409 concurrent_modification": 2, "transport: timeout": 3}
	if len(got) != len(want) || got["409 concurrent_modification"] != 2 || got["transport: timeout"] != 3 {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	if e.Total() != 5 {
		t.Errorf("Total = %d, want 5", e.Total())
	}
	got["mutated"] = 1
	if _, ok := e.Counts()["mutated"]; ok {
		t.Error("Counts returned the live map, not a copy")
	}
}
