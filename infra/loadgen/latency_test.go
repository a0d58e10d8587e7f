package loadgen

import (
	"sync"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"no samples give zero", nil, 99, 0},
		{"one sample is every percentile", ms(7), 50, 7 * time.Millisecond},
		{"one sample is the p99 too", ms(7), 99, 7 * time.Millisecond},
		{"the median of an odd count is the middle sample", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"the median of an even count is the lower middle sample", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 1..100 is 99", ms(hundred...), 99, 99 * time.Millisecond},
		{"p95 of 1..100 is 95", ms(hundred...), 95, 95 * time.Millisecond},
		{"p100 is the largest", ms(hundred...), 100, 100 * time.Millisecond},
		{"p0 is the smallest, not an invented zero", ms(5, 6), 0, 5 * time.Millisecond},
		{"p99 of ten samples is the largest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p%g) = %s, want %s", tt.p, got, tt.want)
			}
		})
	}
}

func TestRecorderSummary(t *testing.T) {
	tests := []struct {
		name    string
		samples []time.Duration
		want    Latency
	}{
		{"nothing recorded is all zero", nil, Latency{}},
		{"samples in any order are summarised sorted",
			[]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 1500 * time.Microsecond},
			Latency{Count: 4, MeanMS: 1.875, P50MS: 1.5, P95MS: 3, P99MS: 3, MaxMS: 3}},
		{"sub-microsecond parts are rounded away", []time.Duration{1234567 * time.Nanosecond},
			Latency{Count: 1, MeanMS: 1.235, P50MS: 1.235, P95MS: 1.235, P99MS: 1.235, MaxMS: 1.235}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Recorder
			for _, d := range tt.samples {
				r.Record(d)
			}
			if got := r.Summary(); got != tt.want {
				t.Errorf("Summary = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRecorderKeepsEverySampleFromManyGoroutines(t *testing.T) {
	var r Recorder
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				r.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	l := r.Summary()
	if l.Count != 8000 || r.Count() != 8000 {
		t.Fatalf("count = %d (Count %d), want 8000", l.Count, r.Count())
	}
	if !(l.P50MS <= l.P95MS && l.P95MS <= l.P99MS && l.P99MS <= l.MaxMS) {
		t.Errorf("percentiles out of order: %+v", l)
	}
	if l.MaxMS != 7.999 {
		t.Errorf("max = %g ms, want 7.999", l.MaxMS)
	}
}
