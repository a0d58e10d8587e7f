package loadgen

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Recorder collects latencies from many goroutines. It keeps every sample:
// a scenario records at most a few hundred thousand, and sorting them once
// at the end gives exact percentiles where a bucketed histogram would round.
type Recorder struct {
	mu      sync.Mutex
	samples []time.Duration
}

// Record adds one latency.
func (r *Recorder) Record(d time.Duration) {
	r.mu.Lock()
	r.samples = append(r.samples, d)
	r.mu.Unlock()
}

// Count returns how many latencies were recorded.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}

// Summary sorts a copy of the samples and summarises them.
func (r *Recorder) Summary() Latency {
	r.mu.Lock()
	s := slices.Clone(r.samples)
	r.mu.Unlock()
	return summarise(s)
}

// Latency summarises a set of latencies, in milliseconds so the JSON reads
// as the Markdown table does.
type Latency struct {
	Count  int     `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

func summarise(s []time.Duration) Latency {
	if len(s) == 0 {
		return Latency{}
	}
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Latency{
		Count:  len(s),
		MeanMS: ms(sum / time.Duration(len(s))),
		P50MS:  ms(percentile(s, 50)),
		P95MS:  ms(percentile(s, 95)),
		P99MS:  ms(percentile(s, 99)),
		MaxMS:  ms(s[len(s)-1]),
	}
}

// percentile returns the nearest-rank percentile p of sorted: the smallest
// sample with at least p% of the samples at or below it. Nearest rank never
// invents a latency nobody saw, which interpolation would.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
