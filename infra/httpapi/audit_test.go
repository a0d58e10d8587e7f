package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// exportReads is a read side whose audit trail is n entries, produced one
// by one; after is called after each, and failAfter, when positive, fails
// the export after that many. Other queries are not expected.
type exportReads struct {
	ReadModels
	n, failAfter int
	after        func(i int)
	err          error
}

func (f *exportReads) Membership(context.Context, string, string) (readmodels.Member, bool, error) {
	return readmodels.Member{Status: domain.StatusEnabled}, true, nil
}

func (f *exportReads) Position(context.Context) (eventstore.Position, error) {
	return eventstore.Start, nil
}

func (f *exportReads) EachAudit(_ context.Context, _ string, _ readmodels.AuditFilter, fn func(readmodels.AuditEntry) error) error {
	if f.err != nil {
		return f.err
	}
	for i := range f.n {
		if f.failAfter > 0 && i == f.failAfter {
			return errors.New("connection to the database lost")
		}
		e := readmodels.AuditEntry{OccurredAt: time.Unix(int64(i), 0), Type: domain.TypeMemberJoined, Revision: uint64(i)}
		if err := fn(e); err != nil {
			return err
		}
		if f.after != nil {
			f.after(i)
		}
	}
	return nil
}

// flushRecorder counts flushes and what the body held at each.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushedAt []int // body lines at each flush
}

func (w *flushRecorder) Flush() {
	w.flushedAt = append(w.flushedAt, bytes.Count(w.Body.Bytes(), []byte("\n")))
	w.ResponseRecorder.Flush()
}

func exportAPI(reads ReadModels) http.Handler {
	return New(Config{Log: zerolog.Nop(), Reads: reads, Authenticate: func(context.Context, string) (domain.Actor, error) {
		return domain.Actor{AccountID: "a1", Email: "a@example.com", EmailVerified: true}, nil
	}})
}

func exportRequest(format string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/properties/p1/audit?format="+format, nil)
	r.Header.Set("Authorization", "Bearer any")
	return r
}

// TestAuditExportStreams: an export writes and flushes rows while the read
// side is still producing them, rather than collecting them first.
func TestAuditExportStreams(t *testing.T) {
	for _, format := range []string{"csv", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			w := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
			reads := &exportReads{n: 1250}
			reads.after = func(i int) {
				// By the time the 1,000th row is produced, the first 500
				// are already on their way to the client.
				if i == 999 && (len(w.flushedAt) < 2 || w.flushedAt[len(w.flushedAt)-1] < 500) {
					t.Errorf("after 1,000 rows the client has had flushes at %v lines, want one at 500 or more", w.flushedAt)
				}
			}
			exportAPI(reads).ServeHTTP(w, exportRequest(format))
			header := 0
			if format == "csv" {
				header = 1
			}
			if w.Code != http.StatusOK || strings.Count(w.Body.String(), "\n") != 1250+header {
				t.Errorf("answer %d with %d lines, want 200 with %d", w.Code, strings.Count(w.Body.String(), "\n"), 1250+header)
			}
			if len(w.flushedAt) < 4 {
				t.Errorf("flushes at %v lines: want one at the start, every 500 rows and at the end", w.flushedAt)
			}
		})
	}
}

// TestAuditExportFailures: an error before the first row is answered as a
// problem; one after it cuts the connection, so a truncated export never
// looks complete.
func TestAuditExportFailures(t *testing.T) {
	t.Run("a bad filter is a problem document", func(t *testing.T) {
		w := httptest.NewRecorder()
		exportAPI(&exportReads{err: domain.Errorf(domain.KindInvalid, domain.CodeInvalidRequest, "type %q is not an event type", "Nope")}).
			ServeHTTP(w, exportRequest("csv"))
		if w.Code != http.StatusUnprocessableEntity || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("answer %d %q, want 422 application/problem+json", w.Code, w.Header().Get("Content-Type"))
		}
	})
	t.Run("an error midway aborts the response", func(t *testing.T) {
		w := httptest.NewRecorder()
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		exportAPI(&exportReads{n: 100, failAfter: 10}).ServeHTTP(w, exportRequest("ndjson"))
		t.Error("the handler returned normally")
	})
}

func TestAuditMediaFollowsFormatThenAccept(t *testing.T) {
	tests := []struct {
		name, format string
		accept       []string
		want         string
	}{
		{"nothing asked is JSON", "", nil, mediaJSON},
		{"format=csv is CSV", "csv", []string{"application/json"}, mediaCSV},
		{"format is read without regard to case", "NDJSON", nil, mediaNDJSON},
		{"format=json is JSON whatever Accept says", "json", []string{"text/csv"}, mediaJSON},
		{"Accept text/csv is CSV", "", []string{"text/csv"}, mediaCSV},
		{"Accept application/x-ndjson is NDJSON", "", []string{"application/x-ndjson"}, mediaNDJSON},
		{"the heavier range wins", "", []string{"text/csv;q=0.3, application/x-ndjson;q=0.9"}, mediaNDJSON},
		{"the first of equal weights wins", "", []string{"application/x-ndjson, text/csv"}, mediaNDJSON},
		{"a wildcard counts as JSON", "", []string{"*/*, text/csv;q=0.5"}, mediaJSON},
		{"ranges may come in several headers", "", []string{"text/html", "text/csv"}, mediaCSV},
		{"only unknown types is JSON", "", []string{"text/html, application/xml"}, mediaJSON},
		{"a malformed range is skipped", "", []string{"text/csv;q=high, ;;, application/x-ndjson"}, mediaNDJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auditMedia(tt.format, tt.accept)
			if err != nil || got != tt.want {
				t.Errorf("auditMedia(%q, %q) = %q, %v; want %q", tt.format, tt.accept, got, err, tt.want)
			}
		})
	}
	t.Run("an unknown format is refused by name", func(t *testing.T) {
		_, err := auditMedia("xlsx", nil)
		if domain.KindOf(err) != domain.KindInvalid || !strings.Contains(err.Error(), "xlsx") {
			t.Errorf("auditMedia(xlsx) error = %v, want KindInvalid naming xlsx", err)
		}
	})
}
