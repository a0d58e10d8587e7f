package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewJSONWritesFieldsAtOrAboveLevel(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "warn", "")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("dropped")
	log.Warn().Str("property", "p1").Msg("kept")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1 (info is below warn):\n%s", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, lines[0])
	}
	if _, ok := got["time"]; !ok {
		t.Errorf("no time field in %s", lines[0])
	}
	delete(got, "time")
	want := map[string]any{"level": "warn", "property": "p1", "message": "kept"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
}

func TestNewConsoleIsHumanReadableWithoutColourInAFile(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "DEBUG", "console")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug().Str("k", "v").Msg("hello")
	out := buf.String()
	for _, want := range []string{"DBG", "hello", "k=v"} {
		if !strings.Contains(out, want) {
			t.Errorf("console output %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("console output to a buffer has colour codes: %q", out)
	}
}

func TestNewRefusesUnknownLevelOrFormat(t *testing.T) {
	tests := []struct{ name, level, format string }{
		{name: "unknown level", level: "loud", format: "json"},
		{name: "numeric level", level: "3", format: "json"},
		{name: "unknown format", level: "info", format: "xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(&bytes.Buffer{}, tt.level, tt.format); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}
