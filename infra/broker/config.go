// Package broker publishes Roster's events to NATS JetStream as integration
// events: a public, versioned schema other services of the platform rely on,
// mapped explicitly from the internal events (docs/integration-events.md).
package broker

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultStream          = "ROSTER"
	DefaultSubjectPrefix   = "roster"
	DefaultDuplicateWindow = time.Hour
	DefaultPublishTimeout  = 5 * time.Second
	DefaultReconnectWait   = time.Second
	DefaultConnectionName  = "roster-forwarder"
)

// Config says where and how the Forwarder publishes. The zero value of
// every field but URL means its default.
type Config struct {
	// URL is the NATS server, nats://host:port (ROSTER_BROKER_URL).
	URL string
	// Stream is the JetStream stream that keeps integration events; it is
	// created when missing. Default DefaultStream.
	Stream string
	// SubjectPrefix starts every subject: <prefix>.property.<pid>.<type>.
	// The stream captures <prefix>.>. Default DefaultSubjectPrefix.
	SubjectPrefix string
	// DuplicateWindow is how long JetStream remembers a message ID to drop
	// a second publish of the same event. It must cover the longest a
	// retry can take, including a Roster restart that replays from the
	// forwarder's checkpoint. Used only when the stream is created.
	// Default DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// PublishTimeout bounds the wait for JetStream's acknowledgement of one
	// publish. Default DefaultPublishTimeout.
	PublishTimeout time.Duration
	// ReconnectWait is the pause between attempts to reconnect to a server
	// that went away. Default DefaultReconnectWait.
	ReconnectWait time.Duration
	// ConnectionName names the connection in the server's monitoring.
	// Default DefaultConnectionName.
	ConnectionName string
}

func (c *Config) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.ConnectionName == "" {
		c.ConnectionName = DefaultConnectionName
	}
}

// Validate reports every problem of c at once, joined.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("broker URL is empty"))
	}
	if c.Stream == "" || strings.ContainsAny(c.Stream, ". *>\t\r\n/\\") {
		errs = append(errs, fmt.Errorf("stream name %q is empty or holds one of . * > / \\ or a space", c.Stream))
	}
	if c.SubjectPrefix != "" && !validSubject(c.SubjectPrefix) {
		errs = append(errs, fmt.Errorf("subject prefix %q is not a literal NATS subject", c.SubjectPrefix))
	}
	if c.DuplicateWindow < 0 {
		errs = append(errs, fmt.Errorf("duplicate window %v is negative", c.DuplicateWindow))
	}
	if c.PublishTimeout < 0 {
		errs = append(errs, fmt.Errorf("publish timeout %v is negative", c.PublishTimeout))
	}
	if c.ReconnectWait < 0 {
		errs = append(errs, fmt.Errorf("reconnect wait %v is negative", c.ReconnectWait))
	}
	return errors.Join(errs...)
}

// validSubject reports whether s is a literal subject: dot-separated
// non-empty tokens without wildcards or white space.
func validSubject(s string) bool {
	for tok := range strings.SplitSeq(s, ".") {
		if !validToken(tok) {
			return false
		}
	}
	return true
}

// validToken reports whether s can stand as one subject token.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}
