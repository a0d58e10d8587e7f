package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

type pingFunc func(context.Context) error

func (f pingFunc) Ping(ctx context.Context) error { return f(ctx) }

type detailFunc func(context.Context) ([]Degradation, error)

func (f detailFunc) Degraded(ctx context.Context) ([]Degradation, error) { return f(ctx) }

// TestReadyzNamesWhatIsDegraded: a ready instance answers 200 whatever its
// Detailers report, saying "degraded" and naming each part when one is
// (an error of a Detailer included); a dependency that does not answer is
// 503, before any Detailer is asked.
func TestReadyzNamesWhatIsDegraded(t *testing.T) {
	up := pingFunc(func(context.Context) error { return nil })
	down := pingFunc(func(context.Context) error { return errors.New("connection refused") })
	stopped := detailFunc(func(context.Context) ([]Degradation, error) {
		return []Degradation{{Component: "projection audit", Problem: "stopped at event e1", Detail: map[string]string{"event_id": "e1"}}}, nil
	})
	fine := detailFunc(func(context.Context) ([]Degradation, error) { return nil, nil })
	broken := detailFunc(func(context.Context) ([]Degradation, error) { return nil, errors.New("query failed") })
	asked := false
	watched := detailFunc(func(context.Context) ([]Degradation, error) { asked = true; return nil, nil })
	tests := []struct {
		name   string
		ready  []Dependency
		detail []Detailer
		status int
		body   string
	}{
		{"nothing degraded is ready", []Dependency{{Name: "postgresql", Pinger: up}}, []Detailer{fine}, http.StatusOK, `{"status":"ready"}`},
		{"a stopped projection is degraded, still 200", []Dependency{{Name: "postgresql", Pinger: up}}, []Detailer{fine, stopped}, http.StatusOK,
			`{"status":"degraded","degraded":[{"component":"projection audit","problem":"stopped at event e1","detail":{"event_id":"e1"}}]}`},
		{"a Detailer that fails is reported as degraded", []Dependency{{Name: "postgresql", Pinger: up}}, []Detailer{broken}, http.StatusOK,
			`{"status":"degraded","degraded":[{"component":"readiness detail","problem":"cannot tell what is degraded: query failed"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Config{Log: zerolog.Nop(), Ready: tt.ready, Detail: tt.detail})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			if diff := cmp.Diff(tt.body+"\n", rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a dependency down is 503 and no Detailer is asked", func(t *testing.T) {
		h := New(Config{Log: zerolog.Nop(), Ready: []Dependency{{Name: "postgresql", Pinger: down}}, Detail: []Detailer{watched}})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code != http.StatusServiceUnavailable || asked {
			t.Errorf("status %d, Detailer asked %v; want 503 without asking", rec.Code, asked)
		}
	})
}
