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
// Slices are named by their Index; Split cuts one in two while it runs, so a worker whose slice
// is finished can take over half of what another has left.
type Frontier struct {
	mu     sync.Mutex
	slices []*frontierSlice // in order of From: disjoint, covering the window
}

type frontierSlice struct {
	id            int
	from, to, pos int64
}

// NewFrontier starts every slice at its From.
func NewFrontier(slices []Slice) *Frontier {
	f := &Frontier{}
	for _, s := range slices {
		f.slices = append(f.slices, &frontierSlice{id: s.Index, from: s.From, to: s.To, pos: s.From})
	}
	return f
}

func (f *Frontier) find(id int) *frontierSlice {
	for _, s := range f.slices {
		if s.id == id {
			return s
		}
	}
	panic(fmt.Sprintf("frontier: no slice %d", id))
}

// Advance records that slice id has committed every activity created before pos. Positions only
// move forward and never leave the slice.
func (f *Frontier) Advance(id int, pos int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(id)
	pos = min(max(pos, s.from), s.to)
	if pos > s.pos {
		s.pos = pos
	}
}

// Position returns how far slice id has committed.
func (f *Frontier) Position(id int) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.find(id).pos
}

// Slice returns slice id's current range: its end moves down when the slice is split.
func (f *Frontier) Slice(id int) Slice {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(id)
	return Slice{Index: id, From: s.from, To: s.to}
}

// Watermark returns the end of the committed prefix: every activity of the window created before
// it is committed. With no slices it returns (0, false).
func (f *Frontier) Watermark() (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.slices) == 0 {
		return 0, false
	}
	return f.watermarkLocked(-1, 0), true
}

// WatermarkIf returns what Watermark would be after Advance(id, pos), without advancing: the
// scan loop attaches it to a page before the page is accepted, and advances only once it is.
func (f *Frontier) WatermarkIf(id int, pos int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watermarkLocked(id, pos)
}

func (f *Frontier) watermarkLocked(id int, pos int64) int64 {
	for _, s := range f.slices {
		p := s.pos
		if s.id == id {
			p = max(min(max(pos, s.from), s.to), s.pos)
		}
		if p < s.to {
			return p
		}
	}
	return f.slices[len(f.slices)-1].to
}

// Done reports whether every slice has committed its whole range.
func (f *Frontier) Done() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.slices {
		if s.pos < s.to {
			return false
		}
	}
	return true
}

// Split cuts slice id at at: the slice keeps [From, at) and a new slice newID gets [at, To),
// which it returns. at must lie strictly inside what the slice has not committed yet.
func (f *Frontier) Split(id int, at int64, newID int) (Slice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.slices {
		if s.id != id {
			continue
		}
		if at <= s.pos || at >= s.to {
			return Slice{}, fmt.Errorf("split slice %d at %d: outside its uncommitted range [%d, %d)", id, at, s.pos, s.to)
		}
		n := &frontierSlice{id: newID, from: at, to: s.to, pos: at}
		s.to = at
		f.slices = append(f.slices[:i+1], append([]*frontierSlice{n}, f.slices[i+1:]...)...)
		return Slice{Index: newID, From: at, To: n.to}, nil
	}
	return Slice{}, fmt.Errorf("split slice %d: no such slice", id)
}
