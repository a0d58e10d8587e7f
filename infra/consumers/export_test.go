package consumers

import (
	"slices"

	"github.com/rosterhq/roster/projections"
)

// Crash makes c end its Run as a killed process would: its leases stay as
// they are, for the others to take over.
func Crash(c *Consumers) { c.lead.crashed.Store(true) }

// Pause holds c's heartbeat, as a stalled process's, until resume.
func Pause(c *Consumers) (resume func()) {
	ch := make(chan struct{})
	c.lead.paused.Store(&ch)
	return func() {
		c.lead.paused.Store(nil)
		close(ch)
	}
}

// SessionPID is the PostgreSQL backend of c's heartbeat connection.
func SessionPID(c *Consumers) uint32 { return c.lead.backend.Load() }

// Leading is what c leads now, with the lease's epoch.
func Leading(c *Consumers) map[string]int64 { return c.leading() }

// FenceOf is the fence of c's term of name in progress, nil when c does
// not lead it.
func FenceOf(c *Consumers, name string) projections.Fence {
	if t := c.term(name); t != nil {
		return t
	}
	return nil
}

// Grouped is the names of the projections in c's group now, sorted.
func Grouped(c *Consumers) []string {
	c.group.mu.Lock()
	defer c.group.mu.Unlock()
	var out []string
	if g := c.group.cur; g != nil {
		for _, t := range g.members {
			if !t.over.Load() {
				out = append(out, t.consumer)
			}
		}
	}
	slices.Sort(out)
	return out
}
