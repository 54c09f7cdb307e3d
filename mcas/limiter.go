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
	// Waiting is measured, not promised: waited sums the stretches of time in which at least one
	// caller was asleep in Wait (from its first sleep to the last waiter's wake-up, on the
	// limiter's clock), so parallel waiters count once and an interrupted wait counts as long
	// as it lasted. waitingSince starts the stretch in progress; wakeAt holds each sleeper's
	// planned wake-up, for the progress line.
	waited       time.Duration
	waitingSince time.Time
	wakeAt       map[int]time.Time
	nextWaiter   int
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
		var until time.Time
		switch {
		case now.Before(l.blockedUntil):
			until = l.blockedUntil
		case len(l.sent) >= l.n:
			until = l.sent[0].Add(l.window)
		default:
			l.sent = append(l.sent, now)
			if l.onAcquire != nil {
				l.onAcquire(now)
			}
			l.mu.Unlock()
			return nil
		}
		id := l.startWaitLocked(now, until)
		l.mu.Unlock()
		// Sleep until the instant, not for a duration: the callers that wait for the same free
		// slot wake together (on a clock that moves by itself, they move it once).
		err := clock.SleepUntil(ctx, l.clock, until)
		l.endWait(id)
		if err != nil {
			return err
		}
	}
}

// startWaitLocked records a caller going to sleep from now until wake.
func (l *Limiter) startWaitLocked(now, wake time.Time) int {
	if len(l.wakeAt) == 0 {
		l.waitingSince = now
	}
	if l.wakeAt == nil {
		l.wakeAt = map[int]time.Time{}
	}
	l.nextWaiter++
	l.wakeAt[l.nextWaiter] = wake
	return l.nextWaiter
}

// endWait records a caller waking up; the last one ends the stretch of waiting.
func (l *Limiter) endWait(id int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.wakeAt, id)
	if len(l.wakeAt) == 0 {
		l.waited += l.clock.Now().Sub(l.waitingSince)
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

// Waited is the time callers have spent waiting for the budget so far: the stretches in which
// at least one caller slept in Wait, measured on the limiter's clock, the current one included.
func (l *Limiter) Waited() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.wakeAt) > 0 {
		return l.waited + l.clock.Now().Sub(l.waitingSince)
	}
	return l.waited
}

// Waiting reports whether a caller is asleep in Wait right now and how long until the first
// sleeper is due to wake (0 when it is already due), so a progress line can say the run is
// waiting for the budget, not stalled.
func (l *Limiter) Waiting() (left time.Duration, waiting bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.wakeAt) == 0 {
		return 0, false
	}
	now := l.clock.Now()
	first := time.Time{}
	for _, at := range l.wakeAt {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return max(first.Sub(now), 0), true
}

// Limit returns the configured requests per window.
func (l *Limiter) Limit() (n int, window time.Duration) { return l.n, l.window }
