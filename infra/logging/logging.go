// Package logging builds Roster's zerolog logger from the configured level
// and format.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// The output formats New understands.
const (
	// FormatJSON writes one JSON object per line, for log collectors.
	FormatJSON = "json"
	// FormatConsole writes human-readable lines, for a terminal.
	FormatConsole = "console"
)

// ParseLevel turns a level name (trace, debug, info, warn, error, fatal,
// panic, disabled; case-insensitive) into a zerolog level. An empty name is
// info. It returns an error naming the value when it is not a level.
func ParseLevel(name string) (zerolog.Level, error) {
	switch name = strings.ToLower(strings.TrimSpace(name)); name {
	case "":
		return zerolog.InfoLevel, nil
	case "trace", "debug", "info", "warn", "error", "fatal", "panic", "disabled":
		return zerolog.ParseLevel(name)
	default:
		// zerolog.ParseLevel also takes numbers; a config value should be a name.
		return zerolog.NoLevel, fmt.Errorf("unknown log level %q (want trace, debug, info, warn, error, fatal, panic or disabled)", name)
	}
}

// CheckFormat returns an error naming format unless it is FormatJSON,
// FormatConsole or empty (which means FormatJSON).
func CheckFormat(format string) error {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", FormatJSON, FormatConsole:
		return nil
	default:
		return fmt.Errorf("unknown log format %q (want %s or %s)", format, FormatJSON, FormatConsole)
	}
}

// New returns a logger writing to w at level in format, each event stamped
// with its time. It touches no zerolog global, so tests may build several.
// It returns an error when level or format is unknown.
func New(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), err
	}
	if err := CheckFormat(format); err != nil {
		return zerolog.Nop(), err
	}
	if strings.EqualFold(strings.TrimSpace(format), FormatConsole) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !isTerminal(w)}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// isTerminal reports whether w is a character device, so colours are only
// sent where someone will see them rather than into CI logs and files.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
