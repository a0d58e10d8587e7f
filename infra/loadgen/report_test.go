package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestFigureTargets(t *testing.T) {
	tests := []struct {
		name       string
		fig        Figure
		wantPass   bool
		wantTarget string
		wantRatio  float64 // 0: no ratio
	}{
		{"a rate at its floor passes", newFigure("hot", "rate", "/s", 500).atLeast(500), true, "≥ 500 /s", 0},
		{"a rate under its floor fails", newFigure("hot", "rate", "/s", 499).atLeast(500), false, "≥ 500 /s", 0},
		{"a latency under its ceiling passes", newFigure("spread", "p99", "ms", 24.99).below(25), true, "< 25.00 ms", 0},
		{"a latency at its ceiling fails", newFigure("spread", "p99", "ms", 25).below(25), false, "< 25.00 ms", 0},
		{"half the baseline passes a half ratio floor", newFigure("spread", "rate", "/s", 500).against("INSERT tx/s", 1000).ratioAtLeast(0.5), true, "≥ 0.5× INSERT tx/s", 0.5},
		{"less than half fails it", newFigure("spread", "rate", "/s", 499).against("INSERT tx/s", 1000).ratioAtLeast(0.5), false, "≥ 0.5× INSERT tx/s", 0.499},
		{"1.5 times the fresh latency passes", newFigure("long", "p50", "ms", 15).against("fresh p50", 10).ratioAtMost(1.5), true, "≤ 1.5× fresh p50", 1.5},
		{"more than 1.5 times fails", newFigure("long", "p50", "ms", 15.1).against("fresh p50", 10).ratioAtMost(1.5), false, "≤ 1.5× fresh p50", 1.51},
		{"a zero baseline gives no ratio and fails a ratio target", newFigure("long", "p50", "ms", 1).against("fresh p50", 0).ratioAtMost(1.5), false, "≤ 1.5× fresh p50", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fig.Pass == nil || *tt.fig.Pass != tt.wantPass || tt.fig.Target != tt.wantTarget {
				t.Errorf("pass %v, target %q; want %v, %q", tt.fig.Pass, tt.fig.Target, tt.wantPass, tt.wantTarget)
			}
			switch {
			case tt.wantRatio == 0 && tt.fig.Ratio != nil:
				t.Errorf("ratio = %g, want none", *tt.fig.Ratio)
			case tt.wantRatio != 0 && (tt.fig.Ratio == nil || *tt.fig.Ratio < tt.wantRatio-1e-9 || *tt.fig.Ratio > tt.wantRatio+1e-9):
				t.Errorf("ratio = %v, want %g", tt.fig.Ratio, tt.wantRatio)
			}
		})
	}
}

func sampleReport() *Report {
	s := &Scenario{Name: "hot", Latencies: map[string]Latency{"command": {Count: 3, P50MS: 1, P95MS: 2, P99MS: 3}},
		Errors: map[string]int{"409 concurrent_modification": 2, "transport: a|b": 1}, Notes: []string{"a note | with a bar"}}
	s.add(newFigure("hot", "accepted commands/s", "/s", 612).against("INSERT tx/s", 4000).atLeast(500))
	s.add(newFigure("hot", "command latency p99", "ms", 30).below(25))
	s.add(newFigure("hot", "accepted commands", "", 1234))
	r := &Report{StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), TookS: 12.3, URL: "http://127.0.0.1:8080",
		Scale: 1, DurationS: 20, Clients: 32, MemorySource: "GET /metrics", Scenarios: []*Scenario{s},
		Seeding: []SeedStep{{Name: "read property", Reused: true, Detail: "bench-read-10"}}, Baselines: &Baselines{}}
	r.finish(newFigure("all", "server peak RSS (scenarios)", "MB", 80).below(200))
	return r
}

func TestReportFinishCollectsFiguresAndFailures(t *testing.T) {
	r := sampleReport()
	if len(r.Figures) != 4 {
		t.Fatalf("%d figures, want the scenario's 3 and the run-wide one", len(r.Figures))
	}
	if len(r.Failed) != 1 || r.Failed[0] != "hot: command latency p99" {
		t.Errorf("failed = %v, want the p99 only", r.Failed)
	}
}

func TestReportMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"| scenario | figure | value | baseline | ratio | target | result |",
		"| hot | accepted commands/s | 612 /s | INSERT tx/s: 4000 /s | 0.15× | ≥ 500 /s | pass |",
		"| hot | command latency p99 | 30.00 ms |  |  | < 25.00 ms | **FAIL** |",
		"| hot | accepted commands | 1234 |  |  |  |  |",
		"| all | server peak RSS (scenarios) | 80.0 MB |  |  | < 200.0 MB | pass |",
		"| hot | 409 concurrent_modification | 2 |",
		`| hot | transport: a\|b | 1 |`,
		"| read property | reused |",
		`- hot: a note \| with a bar`,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Every table row has the header's number of cells.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| hot | ") && strings.Contains(line, "ms") {
			if cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); cells != 8 {
				t.Errorf("row %q has %d bars, want 8", line, cells)
			}
		}
	}
}

func TestReportJSONRoundTrips(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("the JSON does not decode: %v", err)
	}
	if len(back.Figures) != 4 || back.Figures[0].Baseline == nil || *back.Figures[0].Baseline != 4000 ||
		back.Figures[2].Pass != nil || back.Scenarios[0].Errors["409 concurrent_modification"] != 2 {
		t.Errorf("decoded report lost something: %+v", back)
	}
}

func TestParseScenarios(t *testing.T) {
	tests := []struct {
		list    string
		want    string
		wantErr string
	}{
		{"spread,hot,long,rebuild,read", "spread,hot,long,read,rebuild", ""},
		{"rebuild, read", "read,rebuild", ""},
		{"hot,hot", "hot", ""},
		{"hot,", "hot", ""},
		{"", "", `unknown scenario ""`},
		{"hot,warm", "", `unknown scenario "warm"`},
		{"Hot", "", `unknown scenario "Hot"`},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			got, err := ParseScenarios(tt.list)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != tt.want {
				t.Errorf("ParseScenarios = %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		return Config{URL: "http://127.0.0.1:8080", PGURL: "postgres://x", Secret: "s", Scale: 1,
			Scenarios: []string{Spread}, Rebuild: func(context.Context) (RebuildRun, error) { return RebuildRun{}, nil }}
	}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr []string
	}{
		{"a complete configuration is valid", func(*Config) {}, nil},
		{"every problem is reported at once", func(c *Config) {
			c.URL, c.PGURL, c.Secret, c.Scale, c.Duration, c.ServerPID = "ftp://x", "", "", -1, -time.Second, -2
		}, []string{"url", "PostgreSQL", "JWT secret", "scale", "duration", "server pid"}},
		{"a URL without a host", func(c *Config) { c.URL = "http://" }, []string{"url"}},
		{"a scale above 10", func(c *Config) { c.Scale = 11 }, []string{"scale 11"}},
		{"an unknown scenario", func(c *Config) { c.Scenarios = []string{"warm"} }, []string{`unknown scenario "warm"`}},
		{"rebuild without a command", func(c *Config) { c.Scenarios, c.Rebuild = []string{Rebuild}, nil }, []string{"rebuild command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.change(&c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors about %v", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}
