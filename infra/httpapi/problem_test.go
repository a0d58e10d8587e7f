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
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
		domain.KindNoRoute:         http.StatusNotFound,
		domain.KindBadMethod:       http.StatusMethodNotAllowed,
		domain.KindConflict:        http.StatusConflict,
		domain.KindPrecondition:    http.StatusPreconditionFailed,
		domain.KindUnavailable:     http.StatusServiceUnavailable,
		domain.KindInternal:        http.StatusInternalServerError,
	}
	if diff := cmp.Diff(want, statusOf); diff != "" {
		t.Errorf("statusOf (-want +got):\n%s", diff)
	}
	kinds := declaredKinds(t)
	if len(kinds) != len(want) {
		t.Errorf("domain declares %d kinds %v; this test knows %d", len(kinds), kinds, len(want))
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
