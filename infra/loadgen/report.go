package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is what a bench run found: one Figure per measured number, the
// latency summaries and error counts behind them, and how the data set
// was made.
type Report struct {
	StartedAt time.Time `json:"started_at"`
	TookS     float64   `json:"took_s"`
	URL       string    `json:"url"`
	Scale     float64   `json:"scale"`
	// DurationS is each timed scenario's measuring time.
	DurationS float64 `json:"duration_s"`
	Clients   int     `json:"clients"`
	// MemorySource says where the server's memory was read.
	MemorySource string `json:"memory_source"`
	// Durability is the server's synchronous_commit and fsync, under which
	// Roster and the baselines both ran.
	Durability *Durability `json:"durability"`
	Seeding    []SeedStep  `json:"seeding"`
	Baselines  *Baselines  `json:"baselines"`
	Scenarios  []*Scenario `json:"scenarios"`
	// Figures are every scenario's figures in run order, then the
	// run-wide ones: the rows of the Markdown table.
	Figures []Figure `json:"figures"`
	// Failed lists the figures whose target was missed.
	Failed []string `json:"failed"`
	// Notes are remarks on the whole run.
	Notes []string `json:"notes,omitempty"`
}

// SeedStep is one part of the data set: made by this run or found from an
// earlier one.
type SeedStep struct {
	Name     string  `json:"name"`
	Reused   bool    `json:"reused"`
	Detail   string  `json:"detail"`
	TookS    float64 `json:"took_s"`
	Requests int     `json:"requests"`
	// Events is how many events the step appended.
	Events int `json:"events"`
}

// Scenario is one scenario's results.
type Scenario struct {
	Name  string  `json:"name"`
	TookS float64 `json:"took_s"`
	// Latencies are keyed by what was timed (command, lag, member_page, ...).
	Latencies map[string]Latency `json:"latencies"`
	// Errors counts failed requests by kind (see Classify).
	Errors       map[string]int `json:"errors"`
	PeakRSSBytes int64          `json:"peak_rss_bytes"`
	Notes        []string       `json:"notes,omitempty"`
	Figures      []Figure       `json:"figures"`
}

// Figure is one number of the report, with its baseline and target when it
// has them.
type Figure struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"name"`
	Unit     string  `json:"unit"`
	Value    float64 `json:"value"`
	// Baseline is the same measure on bare PostgreSQL (or the server's
	// own figure it is compared with), and Ratio is Value / Baseline.
	BaselineName string   `json:"baseline_name,omitempty"`
	Baseline     *float64 `json:"baseline,omitempty"`
	Ratio        *float64 `json:"ratio,omitempty"`
	Target       string   `json:"target,omitempty"`
	// Pass is nil when the figure has no target.
	Pass *bool `json:"pass,omitempty"`
}

func newFigure(scenario, name, unit string, v float64) Figure {
	return Figure{Scenario: scenario, Name: name, Unit: unit, Value: v}
}

// against sets the baseline and the ratio to it.
func (f Figure) against(name string, b float64) Figure {
	f.BaselineName, f.Baseline = name, &b
	if b != 0 {
		r := f.Value / b
		f.Ratio = &r
	}
	return f
}

// target sets the target and whether it is met.
func (f Figure) target(text string, met bool) Figure {
	f.Target, f.Pass = text, &met
	return f
}

func (f Figure) atLeast(t float64) Figure { return f.target("≥ "+f.format(t), f.Value >= t) }
func (f Figure) below(t float64) Figure   { return f.target("< "+f.format(t), f.Value < t) }

// ratioAtLeast sets a target on the ratio to the baseline.
func (f Figure) ratioAtLeast(t float64) Figure {
	return f.target(fmt.Sprintf("≥ %g× %s", t, f.BaselineName), f.Ratio != nil && *f.Ratio >= t)
}

func (f Figure) ratioAtMost(t float64) Figure {
	return f.target(fmt.Sprintf("≤ %g× %s", t, f.BaselineName), f.Ratio != nil && *f.Ratio <= t)
}

// format writes v in the figure's unit.
func (f Figure) format(v float64) string {
	switch f.Unit {
	case "ms":
		return fmt.Sprintf("%.2f ms", v)
	case "MB":
		return fmt.Sprintf("%.1f MB", v)
	case "s":
		return fmt.Sprintf("%.1f s", v)
	case "":
		if v == math.Trunc(v) {
			return fmt.Sprintf("%.0f", v)
		}
		return fmt.Sprintf("%.3g", v)
	}
	return fmt.Sprintf("%.0f %s", v, f.Unit)
}

func mb(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }

// add appends figures to the scenario.
func (s *Scenario) add(fs ...Figure) { s.Figures = append(s.Figures, fs...) }

// latencyFigures gives p50, p95 and p99 of l; p99 gets the target when
// below is positive.
func latencyFigures(scenario, what string, l Latency, p99Below float64) []Figure {
	p99 := newFigure(scenario, what+" p99", "ms", l.P99MS)
	if p99Below > 0 {
		p99 = p99.below(p99Below)
	}
	return []Figure{newFigure(scenario, what+" p50", "ms", l.P50MS), newFigure(scenario, what+" p95", "ms", l.P95MS), p99}
}

// finish collects the figures and the failed targets.
func (r *Report) finish(extra ...Figure) {
	r.Figures = r.Figures[:0]
	for _, s := range r.Scenarios {
		r.Figures = append(r.Figures, s.Figures...)
	}
	r.Figures = append(r.Figures, extra...)
	r.Failed = []string{}
	for _, f := range r.Figures {
		if f.Pass != nil && !*f.Pass {
			r.Failed = append(r.Failed, f.Scenario+": "+f.Name)
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as Markdown: the figures table, the
// errors by kind, the data set and the notes.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Roster bench\n\n")
	fmt.Fprintf(&b, "%s, %s against %s; scale %g, %g s per timed scenario, %d clients; server memory from %s.\n\n",
		r.StartedAt.UTC().Format(time.RFC3339), fmtSeconds(r.TookS), mdEscape(r.URL), r.Scale, r.DurationS, r.Clients, mdEscape(r.MemorySource))
	if d := r.Durability; d != nil {
		fmt.Fprintf(&b, "PostgreSQL durability, for Roster and the baselines alike: synchronous_commit=%s, fsync=%s.\n\n",
			mdEscape(d.SynchronousCommit), mdEscape(d.Fsync))
	}
	b.WriteString(r.Table())
	fmt.Fprintf(&b, "\n## Errors by kind\n\n")
	any := false
	for _, s := range r.Scenarios {
		keys := sortedKeys(s.Errors)
		for _, k := range keys {
			if !any {
				b.WriteString("| scenario | kind | count |\n|---|---|---:|\n")
				any = true
			}
			fmt.Fprintf(&b, "| %s | %s | %d |\n", s.Name, mdEscape(k), s.Errors[k])
		}
	}
	if !any {
		b.WriteString("None.\n")
	}
	if len(r.Seeding) > 0 {
		b.WriteString("\n## Data set\n\n| part | made | requests | events | took | detail |\n|---|---|---:|---:|---:|---|\n")
		for _, s := range r.Seeding {
			made := "this run"
			if s.Reused {
				made = "reused"
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s |\n", s.Name, made, s.Requests, s.Events, fmtSeconds(s.TookS), mdEscape(s.Detail))
		}
	}
	var notes []string
	for _, n := range r.Notes {
		notes = append(notes, "- "+mdEscape(n))
	}
	for _, s := range r.Scenarios {
		for _, n := range s.Notes {
			notes = append(notes, fmt.Sprintf("- %s: %s", s.Name, mdEscape(n)))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n## Notes\n\n" + strings.Join(notes, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Table is the Markdown table of the figures.
func (r *Report) Table() string {
	var b strings.Builder
	b.WriteString("| scenario | figure | value | baseline | ratio | target | result |\n|---|---|---:|---:|---:|---|---|\n")
	for _, f := range r.Figures {
		base, ratio, result := "", "", ""
		if f.Baseline != nil {
			base = mdEscape(f.BaselineName) + ": " + f.format(*f.Baseline)
		}
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.2f×", *f.Ratio)
		}
		if f.Pass != nil {
			result = "pass"
			if !*f.Pass {
				result = "**FAIL**"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", f.Scenario, mdEscape(f.Name), f.format(f.Value), base, ratio, mdEscape(f.Target), result)
	}
	return b.String()
}

func fmtSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
}

// mdEscape keeps a value inside its table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
