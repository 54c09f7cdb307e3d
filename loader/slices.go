package loader

import (
	"fmt"
	"sync"
	"time"
)

// Slice is a half-open range [From, To) of `created` times in epoch ms, scanned by one worker.
// Slices of one window are disjoint and cover it exactly, so every activity belongs to one.
type Slice struct {
	Index    int
	From, To int64
}

// String reads like "slice 2 of created [2026-11-25T00:00:00Z, 2026-11-25T06:00:00Z)".
func (s Slice) String() string {
	return fmt.Sprintf("slice %d of created [%s, %s)", s.Index,
		time.UnixMilli(s.From).UTC().Format(time.RFC3339Nano), time.UnixMilli(s.To).UTC().Format(time.RFC3339Nano))
}

// SplitWindow cuts [from, to) into n disjoint slices of (almost) equal length, in order. Fewer
// slices come back when the window is shorter than n milliseconds; none when it is empty.
func SplitWindow(from, to int64, n int) []Slice {
	if to <= from {
		return nil
	}
	if n < 1 {
		n = 1
	}
	if span := to - from; int64(n) > span {
		n = int(span)
	}
	out := make([]Slice, n)
	span := to - from
	for i := range n {
		// Computed from the window each time, so rounding never leaves a gap or an overlap.
		a := from + span*int64(i)/int64(n)
		b := from + span*int64(i+1)/int64(n)
		out[i] = Slice{Index: i, From: a, To: b}
	}
	return out
}

// Frontier follows what each slice has committed and answers how far the watermark may move:
// to the contiguous prefix of the window that is fully committed. A slice that has committed up
// to P holds everything in [From, P); the watermark is the position of the lowest slice that is
// not finished, so an activity below the watermark is committed whatever the other slices did.
type Frontier struct {
	mu     sync.Mutex
	slices []Slice
	pos    []int64
}

// NewFrontier starts every slice at its From.
func NewFrontier(slices []Slice) *Frontier {
	f := &Frontier{slices: slices, pos: make([]int64, len(slices))}
	for i, s := range slices {
		f.pos[i] = s.From
	}
	return f
}

// Advance records that slice i has committed every activity created before pos. Positions only
// move forward and never leave the slice.
func (f *Frontier) Advance(i int, pos int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.slices[i]
	pos = min(max(pos, s.From), s.To)
	if pos > f.pos[i] {
		f.pos[i] = pos
	}
}

// Position returns how far slice i has committed.
func (f *Frontier) Position(i int) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos[i]
}

// Watermark returns the end of the committed prefix: every activity of the window created before
// it is committed. With no slices it returns (0, false).
func (f *Frontier) Watermark() (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.slices) == 0 {
		return 0, false
	}
	for i, s := range f.slices {
		if f.pos[i] < s.To {
			return f.pos[i], true
		}
	}
	return f.slices[len(f.slices)-1].To, true
}

// WatermarkIf returns what Watermark would be after Advance(i, pos), without advancing: the scan
// loop attaches it to a page before the page is accepted, and advances only once it is.
func (f *Frontier) WatermarkIf(i int, pos int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.slices[i]
	pos = max(min(max(pos, s.From), s.To), f.pos[i])
	for j, sj := range f.slices {
		p := f.pos[j]
		if j == i {
			p = pos
		}
		if p < sj.To {
			return p
		}
	}
	return f.slices[len(f.slices)-1].To
}

// Done reports whether every slice has committed its whole range.
func (f *Frontier) Done() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.slices {
		if f.pos[i] < s.To {
			return false
		}
	}
	return true
}
