package delivery

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff between attempts: baseDelay before the first retry, doubling, capped at maxDelay,
// the upper half jittered so that many findings retried at once do not arrive in lockstep.
const (
	baseDelay = time.Second
	maxDelay  = 30 * time.Second
)

// backoff is the delay before retry number n (1-based).
func backoff(n int, jitter func() float64) time.Duration {
	d := baseDelay
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d/2 + time.Duration(jitter()*float64(d/2))
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date (RFC 9110 §10.2.3). A
// date in the past means now; a missing or unreadable header reports false.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil && n >= 0 {
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
