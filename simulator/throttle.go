package simulator

import (
	"sync"
	"time"
)

// limiter is a sliding-window request budget per tenant: at most limit accepted requests in any
// window. Throttled requests are not counted, so a client that waits as told gets through.
type limiter struct {
	limit  int
	window time.Duration

	mu       sync.Mutex
	accepted []time.Time // oldest first
}

// allow records a request at now and reports whether it fits the budget; if not, wait is how long
// until the oldest accepted request leaves the window.
func (l *limiter) allow(now time.Time) (ok bool, wait time.Duration) {
	if l.limit <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := 0
	for cut < len(l.accepted) && !l.accepted[cut].After(now.Add(-l.window)) {
		cut++
	}
	l.accepted = append(l.accepted[:0], l.accepted[cut:]...)
	if len(l.accepted) >= l.limit {
		return false, l.accepted[0].Add(l.window).Sub(now)
	}
	l.accepted = append(l.accepted, now)
	return true, 0
}
