package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    procStatus
		wantErr string
	}{
		{"both sizes in kB", "Name:\troster\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n",
			procStatus{VmRSS: 100 << 20, VmHWM: 200 << 20}, ""},
		{"a kernel thread has neither", "Name:\tkthreadd\nState:\tS (sleeping)\n", procStatus{}, "missing"},
		{"one missing is refused", "VmRSS:\t 10 kB\n", procStatus{}, "missing"},
		{"another unit is refused", "VmHWM:\t 1 MB\nVmRSS:\t 1 MB\n", procStatus{}, "not a size in kB"},
		{"a number that is not one is refused", "VmHWM:\t x kB\nVmRSS:\t 1 kB\n", procStatus{}, "VmHWM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStatus([]byte(tt.raw))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseProcStatus = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestReadProcStatusOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	st, err := readProcStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.VmRSS <= 0 || st.VmHWM < st.VmRSS {
		t.Errorf("status = %+v, want 0 < VmRSS <= VmHWM", st)
	}
}

func TestMetricValue(t *testing.T) {
	const exposition = `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 6.2459904e+07
process_resident_memory_bytes_extra 1
roster_consumer_lag_events{handler="audit"} 12
roster_consumer_lag_events{handler="members",x="a}b"} 40
roster_consumer_lag_events{handler="access"} 3 1700000000000
`
	tests := []struct {
		name    string
		metric  string
		want    int64
		wantErr string
	}{
		{"an unlabelled gauge in exponent notation", "process_resident_memory_bytes", 62459904, ""},
		{"the largest of a labelled series", "roster_consumer_lag_events", 40, ""},
		{"a metric that is not there", "go_goroutines", 0, "not exposed"},
		{"a prefix of a name is not that metric", "process_resident", 0, "not exposed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := metricValue([]byte(exposition), tt.metric)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("metricValue = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	if _, err := metricValue([]byte("process_resident_memory_bytes abc\n"), "process_resident_memory_bytes"); err == nil {
		t.Error("a value that is not a number was read")
	}
	samples, err := metricSamples([]byte(exposition), "roster_consumer_lag_events")
	want := []metricSample{{`handler="audit"`, 12}, {`handler="members",x="a}b"`, 40}, {`handler="access"`, 3}}
	if err != nil || len(samples) != len(want) {
		t.Fatalf("metricSamples = %v, %v; want %v", samples, err, want)
	}
	for i := range want {
		if samples[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, samples[i], want[i])
		}
	}
}

// TestMemorySamplerKeepsThePeak serves a /metrics whose gauge rises and
// falls, and checks the sampler's scenario window and run-wide peak.
func TestMemorySamplerKeepsThePeak(t *testing.T) {
	values := []string{"100", "300", "200", "50"}
	var i atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		v := values[min(int(i.Add(1))-1, len(values)-1)]
		_, _ = w.Write([]byte("process_resident_memory_bytes " + v + "\n"))
	}))
	defer srv.Close()
	c := newClient(srv.URL)
	defer c.close()
	m := newMemorySampler(c, 0)
	ctx := context.Background()
	// The samples come in order: 100 (reset), 300, 200 (scenarioPeak),
	// then 50 for the second window's reset and its end.
	m.reset(ctx)
	m.sample(ctx)
	if got := m.scenarioPeak(ctx); got != 300 {
		t.Errorf("first window peak = %d, want 300", got)
	}
	m.reset(ctx)
	if got := m.scenarioPeak(ctx); got != 50 {
		t.Errorf("second window peak = %d, want 50 (its own, not the first window's)", got)
	}
	if sampled, hwm := m.lifetimePeak(); sampled != 300 || hwm != 0 {
		t.Errorf("lifetime = %d sampled, %d hwm; want 300 and none without a pid", sampled, hwm)
	}
	if !strings.Contains(m.source, "/metrics") {
		t.Errorf("source = %q, want it to name /metrics", m.source)
	}
}

func TestMemorySamplerCountsFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("go_goroutines 8\n"))
	}))
	defer srv.Close()
	c := newClient(srv.URL)
	defer c.close()
	m := newMemorySampler(c, 0)
	m.sample(context.Background())
	if m.failures != 1 || m.lastError == nil || !strings.Contains(m.lastError.Error(), "not exposed") {
		t.Errorf("failures = %d, last error %v; want 1 saying the metric is not exposed", m.failures, m.lastError)
	}
}
