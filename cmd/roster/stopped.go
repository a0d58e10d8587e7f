package main

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rosterhq/roster/infra/httpapi"
	"github.com/rosterhq/roster/projections"
)

// The stopped projections are read from projection_failures whenever they
// are asked for, by /metrics or /readyz: every instance then says the same,
// whichever one runs the projection.

var (
	stoppedDesc = prometheus.NewDesc("roster_projection_stopped",
		"1 while the projection is stopped at an event it cannot apply (see roster projections status), else 0.",
		[]string{"projection"}, nil)
	stoppedEventDesc = prometheus.NewDesc("roster_projection_stopped_event",
		"The event a stopped projection waits at (1 per stopped projection); skip it with roster projections skip.",
		[]string{"projection", "event_id", "event_type", "stream", "position"}, nil)
)

// stoppedMetrics reports roster_projection_stopped for every projection
// the consumers run, and roster_projection_stopped_event for each stopped.
type stoppedMetrics struct {
	pool        *pgxpool.Pool
	projections func() []string
}

func (m *stoppedMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- stoppedDesc
	ch <- stoppedEventDesc
}

func (m *stoppedMetrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	stopped, err := projections.Stopped(ctx, m.pool)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(stoppedDesc, err)
		return
	}
	for _, name := range m.projections() {
		f, ok := stopped[name]
		if !ok {
			ch <- prometheus.MustNewConstMetric(stoppedDesc, prometheus.GaugeValue, 0, name)
			continue
		}
		ch <- prometheus.MustNewConstMetric(stoppedDesc, prometheus.GaugeValue, 1, name)
		ch <- prometheus.MustNewConstMetric(stoppedEventDesc, prometheus.GaugeValue, 1,
			name, f.EventID, f.EventType, f.StreamID, f.Position.String())
	}
}

// stoppedDetail tells /readyz which projections are stopped, and where.
type stoppedDetail struct{ pool *pgxpool.Pool }

var _ httpapi.Detailer = stoppedDetail{}

func (d stoppedDetail) Degraded(ctx context.Context) ([]httpapi.Degradation, error) {
	stopped, err := projections.Stopped(ctx, d.pool)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(stopped))
	for name := range stopped {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]httpapi.Degradation, 0, len(names))
	for _, name := range names {
		f := stopped[name]
		out = append(out, httpapi.Degradation{Component: "projection " + name, Problem: f.Summary(), Detail: map[string]string{
			"projection": name, "event_id": f.EventID, "event_type": f.EventType, "stream": f.StreamID,
			"position": f.Position.String(), "error": f.Error, "since": f.FirstFailedAt.Format(time.RFC3339),
		}})
	}
	return out, nil
}
