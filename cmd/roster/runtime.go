package main

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
)

// Defaults of the server's garbage collector settings.
const (
	// defaultMemoryLimit is the soft memory limit when neither
	// ROSTER_MEMORY_LIMIT nor GOMEMLIMIT sets one: under the 200 MB a
	// server's resident memory is to stay within (docs/PERFORMANCE.md),
	// with room for what is not Go's heap.
	defaultMemoryLimit = 160 << 20
	// defaultGCPercent is the GOGC when neither ROSTER_GC_PERCENT nor GOGC
	// sets one: the collector runs about half as often as at Go's 100,
	// and the soft memory limit bounds the larger heap that allows.
	defaultGCPercent = 200
)

// tuneRuntime gives the server's garbage collector its settings: a soft
// memory limit (ROSTER_MEMORY_LIMIT: bytes with an optional suffix B,
// KiB, MiB, GiB or TiB, or off) and a GOGC (ROSTER_GC_PERCENT), each only
// when Go's own variable, GOMEMLIMIT or GOGC, leaves it to the server.
// The access index's entries are live the whole time, so every cycle
// marks them all: fewer cycles are CPU the checks get back, and the limit
// keeps the heap that growth allows within the memory the server is meant
// to use. They are read here rather than with the other settings because
// they are the runtime's, like GOMEMLIMIT and GOGC themselves.
func tuneRuntime(getenv func(string) string) error {
	if getenv("GOMEMLIMIT") == "" {
		limit, err := memoryLimit(getenv("ROSTER_MEMORY_LIMIT"))
		if err != nil {
			return fmt.Errorf("ROSTER_MEMORY_LIMIT: %w", err)
		}
		if limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	}
	if getenv("GOGC") == "" {
		percent := defaultGCPercent
		if v := getenv("ROSTER_GC_PERCENT"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return fmt.Errorf("ROSTER_GC_PERCENT: %q is not a whole number of at least 1", v)
			}
			percent = n
		}
		debug.SetGCPercent(percent)
	}
	return nil
}

// memoryLimit reads a soft memory limit: empty is defaultMemoryLimit,
// "off" is none (0), otherwise a number of bytes with an optional suffix
// of GOMEMLIMIT's.
func memoryLimit(v string) (int64, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return defaultMemoryLimit, nil
	case "off":
		return 0, nil
	}
	num, unit := strings.TrimSpace(v), int64(1)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, unit = n, u.size
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 1 || n > (1<<62)/unit {
		return 0, fmt.Errorf("%q is not a size such as 160MiB, 1GiB or 200000000 (bytes), nor off", v)
	}
	return n * unit, nil
}
