package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
)

// declaredKinds reads the domain package's source for every constant of
// type Kind, so a kind added there without a status here fails this test.
func declaredKinds(t *testing.T) []domain.Kind {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "domain", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("domain sources: %v (%d files)", err, len(files))
	}
	var kinds []domain.Kind
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Kind" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok {
						t.Fatalf("%s: a Kind constant that is not a string literal", name)
					}
					s, _ := strconv.Unquote(lit.Value)
					kinds = append(kinds, domain.Kind(s))
				}
			}
		}
	}
	return kinds
}

func TestEveryErrorKindHasItsStatus(t *testing.T) {
	want := map[domain.Kind]int{
		domain.KindMalformed:       http.StatusBadRequest,
		domain.KindInvalid:         http.StatusUnprocessableEntity,
		domain.KindTooLarge:        http.StatusRequestEntityTooLarge,
		domain.KindUnauthenticated: http.StatusUnauthorized,
		domain.KindForbidden:       http.StatusForbidden,
		domain.KindNotFound:        http.StatusNotFound,
		kindNoRoute:                http.StatusNotFound,
		kindBadMethod:              http.StatusMethodNotAllowed,
		domain.KindConflict:        http.StatusConflict,
		domain.KindPrecondition:    http.StatusPreconditionFailed,
		domain.KindUnavailable:     http.StatusServiceUnavailable,
		domain.KindTooMany:         http.StatusTooManyRequests,
		domain.KindInternal:        http.StatusInternalServerError,
	}
	if diff := cmp.Diff(want, statusOf); diff != "" {
		t.Errorf("statusOf (-want +got):\n%s", diff)
	}
	kinds := declaredKinds(t)
	if routing := 2; len(kinds)+routing != len(want) {
		t.Errorf("domain declares %d kinds %v and httpapi %d; this test knows %d", len(kinds), kinds, routing, len(want))
	}
	for _, k := range kinds {
		if _, ok := statusOf[k]; !ok {
			t.Errorf("kind %q has no HTTP status", k)
		}
	}
}

// errorRequest is a request as the middleware leaves it: with a request ID
// and a logger writing into log.
func errorRequest(ctx context.Context, log *bytes.Buffer) *http.Request {
	l := zerolog.New(log)
	ctx = context.WithValue(l.WithContext(ctx), requestIDKey, "req-1")
	return httptest.NewRequest(http.MethodPost, "/v1/properties/p1/leave", nil).WithContext(ctx)
}

func TestWriteErrorAnswersProblemJSON(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		logged bool
	}{
		{"a domain error keeps its code", domain.Errorf(domain.KindConflict, domain.CodeLastAdmin, "cannot"), 409, domain.CodeLastAdmin, false},
		{"a wrapped domain error keeps its code", fmt.Errorf("leave: %w", domain.Errorf(domain.KindForbidden, domain.CodeForbidden, "no")), 403, domain.CodeForbidden, false},
		{"an unauthenticated caller is told the scheme", domain.Errorf(domain.KindUnauthenticated, domain.CodeUnauthenticated, "no token"), 401, domain.CodeUnauthenticated, false},
		{"any other error is internal and logged", errors.New("connection refused to db.internal:5432"), 500, domain.CodeInternal, true},
		{"a kind without a status is internal", domain.Errorf(domain.Kind("mystery"), "mystery", "?"), 500, "mystery", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			w := httptest.NewRecorder()
			writeError(w, errorRequest(context.Background(), &log), tt.err)
			var p problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if w.Code != tt.status || p.Status != tt.status || p.Code != tt.code || p.Type != "urn:roster:problem:"+tt.code ||
				p.Instance != "/v1/properties/p1/leave" || p.RequestID != "req-1" || p.Title != http.StatusText(tt.status) {
				t.Errorf("answer %d %+v, want %d with code %s for request req-1", w.Code, p, tt.status, tt.code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := w.Header().Get("WWW-Authenticate") != ""; got != (tt.status == 401) {
				t.Errorf("WWW-Authenticate %q on a %d", w.Header().Get("WWW-Authenticate"), tt.status)
			}
			if logged := strings.Contains(log.String(), "internal error"); logged != tt.logged {
				t.Errorf("logged = %v, want %v: %s", logged, tt.logged, log.String())
			}
			if tt.logged && strings.Contains(p.Detail, "db.internal") {
				t.Errorf("detail %q leaks the internal error", p.Detail)
			}
		})
	}
}

func TestWriteErrorSaysWhenToRetry(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration
		want  string
	}{
		{"no wait is no header", 0, ""},
		{"whole seconds stay", 3 * time.Second, "3"},
		{"a fraction rounds up, never to zero", 200 * time.Millisecond, "1"},
		{"a second and a bit is two", 1100 * time.Millisecond, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			w := httptest.NewRecorder()
			e := domain.Errorf(domain.KindTooMany, "too_many_exports", "wait")
			e.RetryAfter = tt.after
			writeError(w, errorRequest(context.Background(), &log), e)
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != tt.want {
				t.Errorf("answer %d with Retry-After %q, want 429 with %q", w.Code, w.Header().Get("Retry-After"), tt.want)
			}
		})
	}
}

func TestWriteErrorIsSilentForAGoneClient(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var log bytes.Buffer
	w := httptest.NewRecorder()
	writeError(w, errorRequest(ctx, &log), fmt.Errorf("read: %w", context.Canceled))
	if w.Body.Len() != 0 || log.Len() != 0 {
		t.Errorf("answered %q and logged %q for a client that left; want nothing", w.Body, log.String())
	}
}

// TestWriteErrorAnswersAnOutage503: an error saying the database cannot be
// reached is the client's to retry, 503 with Retry-After, not Roster's
// fault (500); it is logged, and its detail gives away no address.
func TestWriteErrorAnswersAnOutage503(t *testing.T) {
	var log bytes.Buffer
	w := httptest.NewRecorder()
	err := fmt.Errorf("read members: %w", &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 5432}, Err: syscall.ECONNREFUSED})
	writeError(w, errorRequest(context.Background(), &log), err)
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if w.Code != http.StatusServiceUnavailable || p.Code != domain.CodeUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("answer %d %s with Retry-After %q, want 503 unavailable with a Retry-After", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if strings.Contains(p.Detail, "10.0.0.5") || !strings.Contains(log.String(), "10.0.0.5") {
		t.Errorf("detail %q, log %q: want the address in the log only", p.Detail, log.String())
	}
}

// pinger answers Ping with err.
type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func TestReadyzNamesWhatDoesNotAnswer(t *testing.T) {
	down := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name   string
		ready  []Dependency
		status int
		failed []string
	}{
		{"every dependency answering is ready", []Dependency{{"postgresql", pinger{}}, {"eventstoredb", pinger{}}}, 200, nil},
		{"a database that cannot be reached is named", []Dependency{{"postgresql", pinger{down}}, {"eventstoredb", pinger{}}}, 503, []string{"postgresql"}},
		{"every dependency down is named", []Dependency{{"postgresql", pinger{down}}, {"eventstoredb", pinger{errors.New("no leader")}}}, 503, []string{"postgresql", "eventstoredb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := New(Config{Log: zerolog.Nop(), Ready: tt.ready})
			w := httptest.NewRecorder()
			api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if w.Code != tt.status {
				t.Fatalf("/readyz = %d %s, want %d", w.Code, w.Body, tt.status)
			}
			if tt.status == 200 {
				return
			}
			var p problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			var named []string
			for _, e := range p.Errors {
				named = append(named, e.Field)
			}
			if diff := cmp.Diff(tt.failed, named); diff != "" || p.Code != domain.CodeNotAvailable || w.Header().Get("Retry-After") == "" {
				t.Errorf("problem %s (Retry-After %q); dependencies named (-want +got):\n%s", w.Body, w.Header().Get("Retry-After"), diff)
			}
			for _, name := range tt.failed {
				if !strings.Contains(p.Detail, name) {
					t.Errorf("detail %q does not name %s", p.Detail, name)
				}
			}
		})
	}
}
