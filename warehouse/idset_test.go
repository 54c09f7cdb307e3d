package warehouse

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestStoredHashes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		loaded int // hashes present when the set is read
		adds   []int
	}{
		{"empty", 0, nil},
		{"loaded only", 1000, nil},
		{"adds below a merge", 10, []int{5000, 5000}},
		{"adds across merges", 100, []int{mergeEvery - 1, 2, mergeEvery + 7, 3}},
		{"repeated values", 50, []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			want := map[uint64]bool{}
			k := &storedHashes{recent: map[uint64]struct{}{}}
			for range tc.loaded {
				h := rng.Uint64()
				k.sorted = append(k.sorted, h)
				want[h] = true
			}
			slices.Sort(k.sorted)
			for _, n := range tc.adds {
				hs := make([]uint64, n)
				for i := range hs {
					hs[i] = rng.Uint64()
					if tc.name == "repeated values" {
						hs[i] = k.sorted[0] // a value the set already holds
					}
					want[hs[i]] = true
				}
				k.add(hs)
				if !slices.IsSorted(k.sorted) {
					t.Fatalf("sorted part out of order after adding %d", n)
				}
				if len(k.recent) >= mergeEvery {
					t.Fatalf("recent holds %d, merge should have emptied it", len(k.recent))
				}
			}
			for h := range want {
				if !k.has(h) {
					t.Fatalf("has(%d) = false for a stored hash", h)
				}
			}
			for range 10000 {
				if h := rng.Uint64(); !want[h] && k.has(h) {
					t.Fatalf("has(%d) = true for a hash never added", h)
				}
			}
			if k.len() < len(want) {
				t.Fatalf("len = %d, want at least %d", k.len(), len(want))
			}
		})
	}
}
