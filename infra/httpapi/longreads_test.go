package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// heldReads is a read side whose long reads (audit exports, as_of queries,
// reviews) each hold until the test lets them go, and whose short queries
// answer at once. Every caller is an enabled member.
type heldReads struct {
	ReadModels
	started chan string // the kind of each long read, as it starts
	release chan struct{}
}

func newHeldReads() *heldReads {
	return &heldReads{started: make(chan string, 64), release: make(chan struct{})}
}

// hold is one long read: it reports its start and waits for release.
func (f *heldReads) hold(ctx context.Context, kind string) error {
	f.started <- kind
	select {
	case <-f.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *heldReads) Membership(context.Context, string, string) (readmodels.Member, bool, error) {
	return readmodels.Member{Status: domain.StatusEnabled}, true, nil
}

func (f *heldReads) Position(context.Context) (eventstore.Position, error) {
	return eventstore.Start, nil
}

func (f *heldReads) Property(_ context.Context, pid string) (readmodels.Property, error) {
	return readmodels.Property{ID: pid}, nil
}

func (f *heldReads) Audit(context.Context, string, readmodels.AuditFilter) (readmodels.AuditPage, error) {
	return readmodels.AuditPage{Entries: []readmodels.AuditEntry{}}, nil
}

func (f *heldReads) Members(context.Context, string, readmodels.MemberFilter) (readmodels.MemberPage, error) {
	return readmodels.MemberPage{Members: []readmodels.Member{}}, nil
}

func (f *heldReads) EachAudit(ctx context.Context, _ string, _ readmodels.AuditFilter, fn func(readmodels.AuditEntry) error) error {
	if err := f.hold(ctx, "export"); err != nil {
		return err
	}
	return fn(readmodels.AuditEntry{Type: domain.TypeMemberJoined})
}

// heldHistory is the history side of heldReads.
type heldHistory struct{ *heldReads }

func (h heldHistory) Members(ctx context.Context, _ string, at time.Time, _ readmodels.MemberFilter) (readmodels.MemberPageAsOf, error) {
	return readmodels.MemberPageAsOf{AsOf: at}, h.hold(ctx, "members as_of")
}

func (h heldHistory) Access(ctx context.Context, _, _ string, at time.Time) (readmodels.AccessAsOf, error) {
	return readmodels.AccessAsOf{AsOf: at}, h.hold(ctx, "permissions as_of")
}

func (h heldHistory) Review(ctx context.Context, _ string, at time.Time) (readmodels.AccessReview, error) {
	return readmodels.AccessReview{AsOf: at}, h.hold(ctx, "review")
}

// longReadPaths are the routes that are long reads, one of each kind.
var longReadPaths = map[string]string{
	"export":            "/v1/properties/p1/audit?format=csv",
	"ndjson export":     "/v1/properties/p1/audit?format=ndjson",
	"members as_of":     "/v1/properties/p1/members?as_of=2026-01-01T00:00:00Z",
	"permissions as_of": "/v1/properties/p1/members/a1/permissions?as_of=2026-01-01T00:00:00Z",
	"review":            "/v1/properties/p1/access-review",
}

// shortPaths are queries that are no long reads and never wait for one.
var shortPaths = []string{"/v1/properties/p1", "/v1/properties/p1/audit", "/v1/properties/p1/members"}

// heldAPI is the API over heldReads with the given bounds; the bearer
// token is the caller's account ID.
func heldAPI(reads *heldReads, limits LongReadLimits) http.Handler {
	return New(Config{Log: zerolog.Nop(), Reads: reads, History: heldHistory{reads}, LongReads: limits,
		Authenticate: func(_ context.Context, raw string) (domain.Actor, error) {
			return domain.Actor{AccountID: raw, EmailVerified: true}, nil
		}})
}

// running starts a long read of account in the background and waits until
// it holds; the returned channel gives its answer once it is let go.
func running(t *testing.T, api http.Handler, reads *heldReads, account, path string) <-chan *httptest.ResponseRecorder {
	t.Helper()
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- get(api, account, path) }()
	select {
	case <-reads.started:
	case w := <-done:
		t.Fatalf("GET %s as %s answered %d %s at once, want it to run", path, account, w.Code, w.Body.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("GET %s as %s did not start in 30 s", path, account)
	}
	return done
}

// wantTooMany checks a 429 too_many_long_reads with a Retry-After.
func wantTooMany(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	wantProblem(t, w, http.StatusTooManyRequests, domain.CodeTooManyLongReads, "")
	if got := w.Header().Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After %q, want 5", got)
	}
}

func TestLongReadsAreBoundedPerCallerAndInTotal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits LongReadLimits
		// hold are the long reads running, by account, when refused asks.
		hold    []string
		refused string
		// admitted is an account that may still start one.
		admitted string
	}{
		{"a caller at its bound is refused, another is not", LongReadLimits{PerCaller: 2, Total: 8}, []string{"a1", "a1"}, "a1", "a2"},
		{"the defaults bound a caller at two", LongReadLimits{}, []string{"a1", "a1"}, "a1", "a2"},
		{"at the total everyone is refused", LongReadLimits{PerCaller: 2, Total: 3}, []string{"a1", "a1", "a2"}, "a3", ""},
		{"one place left admits one caller", LongReadLimits{PerCaller: 1, Total: 3}, []string{"a1", "a2"}, "a1", "a3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reads := newHeldReads()
			api := heldAPI(reads, tt.limits)
			var answers []<-chan *httptest.ResponseRecorder
			for _, account := range tt.hold {
				answers = append(answers, running(t, api, reads, account, longReadPaths["export"]))
			}
			for kind, path := range longReadPaths {
				t.Run(kind+" refused", func(t *testing.T) { wantTooMany(t, get(api, tt.refused, path)) })
			}
			for _, path := range shortPaths {
				if w := get(api, tt.refused, path); w.Code != http.StatusOK {
					t.Errorf("GET %s beside the long reads answered %d %s, want 200", path, w.Code, w.Body.String())
				}
			}
			if w := get(api, tt.refused, "/v1/properties/p1/audit?format=xml"); w.Code != http.StatusUnprocessableEntity {
				t.Errorf("a bad format beside the long reads answered %d, want 422: bad input is named before any bound", w.Code)
			}
			if tt.admitted != "" {
				answers = append(answers, running(t, api, reads, tt.admitted, longReadPaths["review"]))
			}
			close(reads.release)
			for _, done := range answers {
				if w := <-done; w.Code != http.StatusOK {
					t.Errorf("a held long read answered %d %s, want 200", w.Code, w.Body.String())
				}
			}
			// Every place was given back: each kind runs again at once.
			for kind, path := range longReadPaths {
				if w := get(api, tt.refused, path); w.Code != http.StatusOK {
					t.Errorf("%s after the others ended answered %d %s, want 200", kind, w.Code, w.Body.String())
				}
			}
		})
	}
}

// TestLongReadsGiveTheirPlaceBack: a long read that fails, or whose client
// goes away, frees its place as one that succeeds does.
func TestLongReadsGiveTheirPlaceBack(t *testing.T) {
	t.Parallel()
	reads := newHeldReads()
	api := heldAPI(reads, LongReadLimits{PerCaller: 1, Total: 1})
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		r := httptest.NewRequest(http.MethodGet, longReadPaths["export"], nil).WithContext(ctx)
		r.Header.Set("Authorization", "Bearer a1")
		done := make(chan struct{})
		go func() {
			defer close(done)
			api.ServeHTTP(httptest.NewRecorder(), r)
		}()
		<-reads.started
		cancel() // the client leaves; the read fails with the context
		<-done
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-reads.started
		close(reads.release)
	}()
	if w := get(api, "a2", longReadPaths["members as_of"]); w.Code != http.StatusOK {
		t.Errorf("a long read after three abandoned ones answered %d %s, want 200", w.Code, w.Body.String())
	}
	wg.Wait()
}
