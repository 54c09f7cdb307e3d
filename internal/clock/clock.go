// Package clock makes time injectable: production code takes a Clock, tests pass a Virtual one
// and advance it, so no test waits for real time to pass.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first.
	Sleep(ctx context.Context, d time.Duration) error
}

// SleepUntil waits until c shows t or ctx is done. Callers that know when they want to wake
// (a rate limiter's next free slot) should use it rather than Sleep(t - Now()): several callers
// that wait for the same instant then wake together on a clock that moves by itself, instead of
// each pushing it forward by its own wait.
func SleepUntil(ctx context.Context, c Clock, t time.Time) error {
	if u, ok := c.(interface {
		SleepUntil(ctx context.Context, t time.Time) error
	}); ok {
		return u.SleepUntil(ctx, t)
	}
	return c.Sleep(ctx, t.Sub(c.Now()))
}

// Real is the wall clock.
type Real struct{}

// Now returns the current time.
func (Real) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx is done.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Virtual is a clock that moves only when told to. Sleep advances it by the slept duration at
// once (when AutoAdvance is set) or blocks until Advance moves it past the deadline.
type Virtual struct {
	mu          sync.Mutex
	now         time.Time
	autoAdvance bool
	waiters     []waiter
}

type waiter struct {
	until time.Time
	ch    chan struct{}
}

// NewVirtual returns a virtual clock set to start. With autoAdvance, Sleep returns at once and
// moves the clock forward by the slept duration, so code that waits a minute runs instantly.
func NewVirtual(start time.Time, autoAdvance bool) *Virtual {
	return &Virtual{now: start, autoAdvance: autoAdvance}
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// Set moves the clock to t (forward or back) and wakes sleepers whose deadline has passed.
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	v.now = t
	v.wakeLocked()
	v.mu.Unlock()
}

// Advance moves the clock forward by d and wakes sleepers whose deadline has passed.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	v.now = v.now.Add(d)
	v.wakeLocked()
	v.mu.Unlock()
}

func (v *Virtual) wakeLocked() {
	kept := v.waiters[:0]
	for _, w := range v.waiters {
		if !v.now.Before(w.until) {
			close(w.ch)
			continue
		}
		kept = append(kept, w)
	}
	v.waiters = kept
}

// Sleep waits for d of virtual time.
func (v *Virtual) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	v.mu.Lock()
	return v.sleepUntilLocked(ctx, v.now.Add(d))
}

// SleepUntil waits until the virtual time is t. With auto-advance the clock moves to t at once
// unless it is already past it, so sleepers waiting for the same instant move it once.
func (v *Virtual) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.mu.Lock()
	return v.sleepUntilLocked(ctx, t)
}

// sleepUntilLocked is called with v.mu held and releases it.
func (v *Virtual) sleepUntilLocked(ctx context.Context, t time.Time) error {
	if !v.now.Before(t) {
		v.mu.Unlock()
		return nil
	}
	if v.autoAdvance {
		v.now = t
		v.wakeLocked()
		v.mu.Unlock()
		return nil
	}
	w := waiter{until: t, ch: make(chan struct{})}
	v.waiters = append(v.waiters, w)
	v.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-w.ch:
		return nil
	}
}

// waiting reports how many sleepers wait for the clock (for tests).
func (v *Virtual) waiting() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.waiters)
}
