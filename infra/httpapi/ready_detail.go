package httpapi

import (
	"context"
	"net/http"
)

// Degradation is a part of the service that works less than it should
// while the instance stays ready: /readyz still answers 200 (taking the
// instance out of the load balancer would not mend it, and every instance
// shares it) and names it in its body.
type Degradation struct {
	// Component names the part: "projection audit".
	Component string `json:"component"`
	// Problem says what is wrong, in one line.
	Problem string `json:"problem"`
	// Detail holds the problem's facts for tools: IDs, positions, errors.
	Detail map[string]string `json:"detail,omitempty"`
}

// Detailer reports what is degraded, for /readyz, once the dependencies
// answered. An error is reported as a degradation of its own.
type Detailer interface {
	Degraded(ctx context.Context) ([]Degradation, error)
}

// readyBody is /readyz's answer when the instance is ready: status
// "ready", or "degraded" with what is.
type readyBody struct {
	Status   string        `json:"status"`
	Degraded []Degradation `json:"degraded,omitempty"`
}

// writeReady answers a ready /readyz, asking each Detailer what is degraded.
func (s *server) writeReady(ctx context.Context, w http.ResponseWriter) {
	body := readyBody{Status: "ready"}
	for _, d := range s.detail {
		ds, err := d.Degraded(ctx)
		if err != nil {
			ds = []Degradation{{Component: "readiness detail", Problem: "cannot tell what is degraded: " + err.Error()}}
		}
		body.Degraded = append(body.Degraded, ds...)
	}
	if len(body.Degraded) > 0 {
		body.Status = "degraded"
	}
	writeJSON(w, http.StatusOK, body)
}
