package clock

import (
	"context"
	"sync/atomic"
	"time"
)

// Offset is a clock that runs at its base clock's pace but shows a different time: the base's
// time plus an offset that may be changed while it runs. The simulator uses it to serve a
// service whose clock differs from the client's (`mcasload sim --clock-offset`), and tests move
// it to let time pass on the service only.
type Offset struct {
	base   Clock
	offset atomic.Int64 // nanoseconds
}

// NewOffset returns base shifted by d (negative: behind base).
func NewOffset(base Clock, d time.Duration) *Offset {
	if base == nil {
		base = Real{}
	}
	o := &Offset{base: base}
	o.offset.Store(int64(d))
	return o
}

// Now returns the base's time plus the offset.
func (o *Offset) Now() time.Time { return o.base.Now().Add(o.Offset()) }

// Sleep waits on the base clock: an offset changes what time it is, not how long a wait takes.
func (o *Offset) Sleep(ctx context.Context, d time.Duration) error { return o.base.Sleep(ctx, d) }

// SleepUntil waits until the clock shows t: until the base shows t minus the offset as it is
// when the wait starts.
func (o *Offset) SleepUntil(ctx context.Context, t time.Time) error {
	return SleepUntil(ctx, o.base, t.Add(-o.Offset()))
}

// Offset returns the current offset.
func (o *Offset) Offset() time.Duration { return time.Duration(o.offset.Load()) }

// Advance moves the clock forward by d (backward when d is negative).
func (o *Offset) Advance(d time.Duration) { o.offset.Add(int64(d)) }
