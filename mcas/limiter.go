package mcas

import (
	"context"
	"sync"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
)

// Limiter is the one request budget of a process: at most N requests in any sliding window
// (30 per 60 s by default, the documented tenant limit). Every request of every client and scan
// slice that shares a Limiter waits on it, and a 429 seen by any of them pauses them all.
type Limiter struct {
	clock  clock.Clock
	n      int
	window time.Duration

	mu           sync.Mutex
	sent         []time.Time // start times of requests still inside the window, oldest first
	blockedUntil time.Time   // set by a 429; nobody sends before it
	waited       time.Duration
	onAcquire    func(time.Time) // tests record grant times under the lock
}

// Default budget of the Activities API: 30 requests per minute per tenant.
const (
	DefaultRequestsPerWindow = 30
	DefaultWindow            = time.Minute
)

// NewLimiter allows n requests per window on clk (nil means the wall clock; n <= 0 or
// window <= 0 take the defaults).
func NewLimiter(clk clock.Clock, n int, window time.Duration) *Limiter {
	if clk == nil {
		clk = clock.Real{}
	}
	if n <= 0 {
		n = DefaultRequestsPerWindow
	}
	if window <= 0 {
		window = DefaultWindow
	}
	return &Limiter{clock: clk, n: n, window: window}
}

// Wait blocks until a request may be sent and records it as sent.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := l.clock.Now()
		l.pruneLocked(now)
		var d time.Duration
		switch {
		case now.Before(l.blockedUntil):
			d = l.blockedUntil.Sub(now)
		case len(l.sent) >= l.n:
			d = l.sent[0].Add(l.window).Sub(now)
		default:
			l.sent = append(l.sent, now)
			if l.onAcquire != nil {
				l.onAcquire(now)
			}
			l.mu.Unlock()
			return nil
		}
		l.waited += d
		l.mu.Unlock()
		if err := l.clock.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

func (l *Limiter) pruneLocked(now time.Time) {
	cut := 0
	for cut < len(l.sent) && !now.Before(l.sent[cut].Add(l.window)) {
		cut++
	}
	if cut > 0 {
		l.sent = append(l.sent[:0], l.sent[cut:]...)
	}
}

// Throttled tells the limiter the service refused a request for wait: every caller holds off
// until then. A shorter wait never shortens a longer one already in force.
func (l *Limiter) Throttled(wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	until := l.clock.Now().Add(wait)
	if until.After(l.blockedUntil) {
		l.blockedUntil = until
	}
}

// Budget reports how many requests may be sent now without waiting, and how long until the
// next one may be sent when none may.
func (l *Limiter) Budget() (remaining int, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.pruneLocked(now)
	if now.Before(l.blockedUntil) {
		return 0, l.blockedUntil.Sub(now)
	}
	remaining = l.n - len(l.sent)
	if remaining <= 0 {
		return 0, l.sent[0].Add(l.window).Sub(now)
	}
	return remaining, 0
}

// Waited is the total time callers were told to wait, summed over callers.
func (l *Limiter) Waited() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waited
}

// Limit returns the configured requests per window.
func (l *Limiter) Limit() (n int, window time.Duration) { return l.n, l.window }
