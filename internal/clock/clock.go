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
	if v.autoAdvance {
		v.now = v.now.Add(d)
		v.wakeLocked()
		v.mu.Unlock()
		return nil
	}
	w := waiter{until: v.now.Add(d), ch: make(chan struct{})}
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
