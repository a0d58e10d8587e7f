package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sampleEvery is how often the server's memory is sampled.
const sampleEvery = 250 * time.Millisecond

// memorySampler follows the server's resident memory: from /proc/<pid>/status
// when the bench knows the server's process, else from the
// process_resident_memory_bytes gauge of its GET /metrics. It keeps the
// highest value seen since the last reset and over the whole run.
type memorySampler struct {
	read   func(ctx context.Context) (int64, error)
	source string
	pid    int

	mu        sync.Mutex
	peak      int64 // since reset
	overall   int64
	failures  int
	lastError error
}

func newMemorySampler(c *client, pid int) *memorySampler {
	if pid > 0 {
		return &memorySampler{pid: pid, source: fmt.Sprintf("/proc/%d/status VmRSS", pid),
			read: func(context.Context) (int64, error) {
				st, err := readProcStatus(pid)
				return st.VmRSS, err
			}}
	}
	return &memorySampler{source: "GET /metrics process_resident_memory_bytes",
		read: func(ctx context.Context) (int64, error) {
			a := c.get(ctx, "/metrics", "")
			if a.Kind != "" {
				return 0, a.err("GET /metrics")
			}
			return metricValue(a.Body, "process_resident_memory_bytes")
		}}
}

// run samples until ctx ends.
func (m *memorySampler) run(ctx context.Context) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		m.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *memorySampler) sample(ctx context.Context) {
	v, err := m.read(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			m.failures++
			m.lastError = err
		}
		return
	}
	m.peak = max(m.peak, v)
	m.overall = max(m.overall, v)
}

// reset starts a scenario's window with a fresh sample, so its peak is its own.
func (m *memorySampler) reset(ctx context.Context) {
	m.mu.Lock()
	m.peak = 0
	m.mu.Unlock()
	m.sample(ctx)
}

// scenarioPeak takes a last sample and returns the peak since reset.
func (m *memorySampler) scenarioPeak(ctx context.Context) int64 {
	m.sample(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

// lifetimePeak is the peak over the run, and with a pid the kernel's own
// high-water mark (VmHWM), which also covers moments between samples and
// before the bench started.
func (m *memorySampler) lifetimePeak() (sampled, hwm int64) {
	m.mu.Lock()
	sampled = m.overall
	m.mu.Unlock()
	if m.pid > 0 {
		if st, err := readProcStatus(m.pid); err == nil {
			hwm = st.VmHWM
		}
	}
	return sampled, hwm
}

// trouble says how many samples failed and why, "" when none did.
func (m *memorySampler) trouble() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failures == 0 {
		return ""
	}
	return fmt.Sprintf("%d memory samples from %s failed, the last with: %v", m.failures, m.source, m.lastError)
}

// procStatus is the memory part of /proc/<pid>/status, in bytes.
type procStatus struct {
	VmRSS, VmHWM int64
}

func readProcStatus(pid int) (procStatus, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	return parseProcStatus(raw)
}

// parseProcStatus reads VmRSS and VmHWM ("VmRSS:	  123456 kB") from the
// text of /proc/<pid>/status.
func parseProcStatus(raw []byte) (procStatus, error) {
	var st procStatus
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return st, fmt.Errorf("/proc status: %s is %q, not a size in kB", name, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return st, fmt.Errorf("/proc status: %s: %w", name, err)
		}
		if name == "VmRSS" {
			st.VmRSS = kb * 1024
		} else {
			st.VmHWM = kb * 1024
		}
		found++
	}
	if found < 2 {
		return st, fmt.Errorf("/proc status: VmRSS or VmHWM missing (a kernel thread, or not Linux)")
	}
	return st, nil
}

// metricValue returns the largest sample of the metric name, over all its
// label sets, in Prometheus' text exposition format.
func metricValue(body []byte, name string) (int64, error) {
	samples, err := metricSamples(body, name)
	if err != nil {
		return 0, err
	}
	var high float64
	for i, v := range samples {
		if i == 0 || v.value > high {
			high = v.value
		}
	}
	return int64(high), nil
}

// metricSample is one sample of a metric: its labels as written between
// the braces ("" for none) and its value.
type metricSample struct {
	labels string
	value  float64
}

// metricSamples returns every sample of the metric name.
func metricSamples(body []byte, name string) ([]metricSample, error) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var out []metricSample
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name)
		if !ok {
			continue
		}
		var labels string
		switch {
		case strings.HasPrefix(rest, " "):
		case strings.HasPrefix(rest, "{"):
			end := strings.LastIndex(rest, "}")
			if end < 0 {
				return nil, fmt.Errorf("metric %s: unterminated labels in %q", name, sc.Text())
			}
			labels, rest = rest[1:end], rest[end+1:]
		default:
			continue // another metric whose name starts with this one
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metric %s: no value in %q", name, sc.Text())
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %q: %w", name, f[0], err)
		}
		out = append(out, metricSample{labels: labels, value: v})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("metric %s is not exposed", name)
	}
	return out, nil
}
