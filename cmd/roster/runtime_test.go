package main

import (
	"strings"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"", defaultMemoryLimit, ""},
		{"off", 0, ""},
		{"OFF", 0, ""},
		{"160MiB", 160 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"512KiB", 512 << 10, ""},
		{"200000000", 200_000_000, ""},
		{"100B", 100, ""},
		{"lots", 0, "not a size"},
		{"0", 0, "not a size"},
		{"-5MiB", 0, "not a size"},
		{"160MB", 0, "not a size"},
		{"99999999TiB", 0, "not a size"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := memoryLimit(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("memoryLimit(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("memoryLimit(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestTuneRuntimeRefusesABadSetting(t *testing.T) {
	for _, env := range []map[string]string{
		{"ROSTER_MEMORY_LIMIT": "a lot"},
		{"GOMEMLIMIT": "set by the test", "ROSTER_GC_PERCENT": "-1"},
		{"GOMEMLIMIT": "set by the test", "ROSTER_GC_PERCENT": "half"},
	} {
		if err := tuneRuntime(func(k string) string { return env[k] }); err == nil {
			t.Errorf("tuneRuntime(%v) = nil, want an error naming the variable", env)
		}
	}
}
