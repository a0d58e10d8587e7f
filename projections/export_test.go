package projections

import "time"

// SetBackoff shortens a runner's redelivery backoff, so tests of restarts do
// not sit through production delays.
func SetBackoff(r *Runner, lo, hi time.Duration) { r.minBackoff, r.maxBackoff = lo, hi }
