package loader

import (
	"math/rand/v2"
	"testing"
)

func TestSplitWindow(t *testing.T) {
	tests := []struct {
		name     string
		from, to int64
		n        int
		want     int
	}{
		{"one", 0, 1000, 1, 1},
		{"even", 0, 1000, 4, 4},
		{"uneven", 7, 1000, 3, 3},
		{"more slices than ms", 10, 13, 8, 3},
		{"empty", 10, 10, 4, 0},
		{"reversed", 10, 5, 4, 0},
		{"zero n means one", 0, 100, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitWindow(tt.from, tt.to, tt.n)
			if len(got) != tt.want {
				t.Fatalf("got %d slices %v, want %d", len(got), got, tt.want)
			}
			if len(got) == 0 {
				return
			}
			// Disjoint, contiguous, covering [from, to), none empty.
			if got[0].From != tt.from || got[len(got)-1].To != tt.to {
				t.Errorf("slices %v do not cover [%d, %d)", got, tt.from, tt.to)
			}
			for i, s := range got {
				if s.Index != i || s.To <= s.From {
					t.Errorf("bad slice %v at %d", s, i)
				}
				if i > 0 && got[i-1].To != s.From {
					t.Errorf("gap or overlap between %v and %v", got[i-1], s)
				}
			}
		})
	}
}

func TestFrontierContiguousPrefix(t *testing.T) {
	f := NewFrontier(SplitWindow(0, 400, 4)) // [0,100) [100,200) [200,300) [300,400)
	check := func(want int64) {
		t.Helper()
		if got, ok := f.Watermark(); !ok || got != want {
			t.Fatalf("watermark = %d, %v; want %d", got, ok, want)
		}
	}
	check(0)
	f.Advance(2, 300) // slice 2 finished, but slices 0 and 1 have not moved
	check(0)
	f.Advance(0, 60)
	check(60)
	f.Advance(0, 50) // never backwards
	check(60)
	f.Advance(0, 100)
	check(100)         // slice 0 done, slice 1 still at its start
	f.Advance(1, 5000) // clamped to the slice end
	if p := f.Position(1); p != 200 {
		t.Fatalf("position 1 = %d, want clamped 200", p)
	}
	check(300) // 0, 1 and 2 done: up to slice 3's start
	if f.Done() {
		t.Fatal("done with slice 3 untouched")
	}
	f.Advance(3, 400)
	check(400)
	if !f.Done() {
		t.Fatal("not done after every slice finished")
	}
	if _, ok := NewFrontier(nil).Watermark(); ok {
		t.Fatal("empty frontier has a watermark")
	}
}

// TestFrontierNeverPassesUncommitted checks the invariant the watermark rests on with random
// interleavings: every ms below the watermark lies in a committed part of some slice.
func TestFrontierNeverPassesUncommitted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + rng.IntN(6)
		sl := SplitWindow(0, int64(50+rng.IntN(500)), n)
		f := NewFrontier(sl)
		committed := make([]int64, len(sl))
		for i, s := range sl {
			committed[i] = s.From
		}
		for range 40 {
			i := rng.IntN(len(sl))
			p := sl[i].From + rng.Int64N(sl[i].To-sl[i].From+1)
			predicted := f.WatermarkIf(i, p)
			f.Advance(i, p)
			if got, _ := f.Watermark(); got != predicted {
				t.Fatalf("WatermarkIf(%d, %d) = %d, Watermark after Advance = %d", i, p, predicted, got)
			}
			committed[i] = max(committed[i], p)
			wm, _ := f.Watermark()
			for j, s := range sl {
				lo, hi := s.From, min(s.To, wm)
				if hi > lo && committed[j] < hi {
					t.Fatalf("watermark %d passes slice %v committed only to %d", wm, s, committed[j])
				}
			}
		}
	}
}

// TestFrontierSplit: a split slice hands the rest of its range to a new slice; the watermark
// still stops at the first uncommitted millisecond, whichever slice holds it.
func TestFrontierSplit(t *testing.T) {
	f := NewFrontier(SplitWindow(0, 200, 2)) // [0,100) [100,200)
	f.Advance(0, 30)
	if _, err := f.Split(0, 30, 2); err == nil {
		t.Fatal("split at the committed position accepted")
	}
	if _, err := f.Split(0, 100, 2); err == nil {
		t.Fatal("split at the slice end accepted")
	}
	s, err := f.Split(0, 60, 2) // [0,60) [60,100) [100,200)
	if err != nil || s != (Slice{Index: 2, From: 60, To: 100}) {
		t.Fatalf("split = %v, %v", s, err)
	}
	if got := f.Slice(0); got.To != 60 {
		t.Fatalf("slice 0 after the split = %v", got)
	}
	f.Advance(1, 200)
	f.Advance(2, 100)
	if wm, _ := f.Watermark(); wm != 30 {
		t.Fatalf("watermark %d, want 30: slice 0 is at 30", wm)
	}
	f.Advance(0, 90) // a page of the old range: clamped to the new end
	if wm, _ := f.Watermark(); wm != 200 || !f.Done() {
		t.Fatalf("watermark %d done %v, want 200 and done", wm, f.Done())
	}
}
