package idindex

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
)

// model is what the set must answer: every pair added and not dropped.
type model map[uint64][]int32

func (m model) lookup(hs []uint64) map[uint64][]int32 {
	out := map[uint64][]int32{}
	for _, h := range hs {
		if d, ok := m[h]; ok {
			out[h] = slices.Sorted(slices.Values(d))
		}
	}
	return out
}

func lookup(t *testing.T, x *Index, hs []uint64) map[uint64][]int32 {
	t.Helper()
	hs = slices.Clone(hs)
	slices.Sort(hs)
	hs = slices.Compact(hs)
	out := map[uint64][]int32{}
	if _, err := x.Lookup(hs, func(i int, day int32) { out[hs[i]] = append(out[hs[i]], day) }); err != nil {
		t.Fatal(err)
	}
	for h := range out {
		slices.Sort(out[h])
		out[h] = slices.Compact(out[h])
	}
	return out
}

func equal(a, b map[uint64][]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// probe is a mix of stored hashes (with both lookup paths: few and many buckets) and absent ones.
func probe(rng *rand.Rand, m model, n int) []uint64 {
	var hs []uint64
	for h := range m {
		if len(hs) >= n/2 {
			break
		}
		hs = append(hs, h)
	}
	for len(hs) < n {
		hs = append(hs, rng.Uint64())
	}
	return hs
}

func TestAddLookupMergeReopen(t *testing.T) {
	tests := []struct {
		name           string
		batches, batch int
		probes         []int
	}{
		{"one small run", 1, 10, []int{1, 20}},
		{"many commits merged", 40, 500, []int{3, 50, 5000}},
		{"large runs with a directory", 6, 40000, []int{2, 60, 300, 60000}}, // a bucket read each, the directory read whole, a sequential pass
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tt.batch)))
			dir := filepath.Join(t.TempDir(), "ids")
			x, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			m := model{}
			for b := range tt.batches {
				var es []Entry
				for range tt.batch {
					e := Entry{H: rng.Uint64(), Day: int32(20000 + rng.IntN(30))}
					es = append(es, e)
					m[e.H] = append(m[e.H], e.Day)
				}
				// the same id on another day, as a re-delivery with another timestamp would be
				es = append(es, Entry{H: es[0].H, Day: es[0].Day + 1})
				m[es[0].H] = append(m[es[0].H], es[0].Day+1)
				if err := x.Add(es, int64(b+1)); err != nil {
					t.Fatal(err)
				}
			}
			if x.Runs() > 2+bitsLen(tt.batches) {
				t.Errorf("%d runs after %d adds; the merge rule keeps fewer than log2", x.Runs(), tt.batches)
			}
			for i := 1; i < len(x.runs); i++ {
				if x.runs[i-1].count <= mergeRatio*x.runs[i].count {
					t.Errorf("run %d holds %d pairs, the next %d: want over %d times as many", i-1, x.runs[i-1].count, x.runs[i].count, mergeRatio)
				}
			}
			for _, n := range tt.probes {
				hs := probe(rng, m, n)
				if got, want := lookup(t, x, hs), m.lookup(hs); !equal(got, want) {
					t.Fatalf("lookup of %d hashes: %d found, want %d", n, len(got), len(want))
				}
			}
			y, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if y.Count() != x.Count() || y.Through() != int64(tt.batches) {
				t.Errorf("reopened: %d pairs through %d, want %d through %d", y.Count(), y.Through(), x.Count(), tt.batches)
			}
			hs := probe(rng, m, 100)
			if got, want := lookup(t, y, hs), m.lookup(hs); !equal(got, want) {
				t.Errorf("reopened lookup: %d found, want %d", len(got), len(want))
			}
		})
	}
}

func bitsLen(n int) int {
	b := 0
	for n > 0 {
		b, n = b+1, n/2
	}
	return b
}

func TestDropAndRebuild(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	dir := filepath.Join(t.TempDir(), "ids")
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	// each add under a quarter of the one before: five runs, the first three holding days
	// before 125, so Drop replaces several runs of the list in turn
	for b, n := range []int{3000, 500, 100, 20, 4} {
		var es []Entry
		for range n {
			e := Entry{H: rng.Uint64(), Day: int32(100 + b*10 + rng.IntN(10))}
			es = append(es, e)
			m[e.H] = append(m[e.H], e.Day)
		}
		if err := x.Add(es, int64(b+1)); err != nil {
			t.Fatal(err)
		}
	}
	if x.Runs() != 5 {
		t.Fatalf("%d runs before Drop, want 5", x.Runs())
	}
	removed, err := x.Drop(125)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for h, ds := range m {
		var keep []int32
		for _, d := range ds {
			if d < 125 {
				want++
			} else {
				keep = append(keep, d)
			}
		}
		if keep == nil {
			delete(m, h)
		} else {
			m[h] = keep
		}
	}
	if removed != want || x.OldestDay() != 125 {
		t.Errorf("Drop(125) removed %d (oldest day now %d), want %d (125)", removed, x.OldestDay(), want)
	}
	hs := probe(rng, m, 4000)
	for h := range m { // and every id that was dropped must be gone
		hs = append(hs, h)
	}
	if got, want := lookup(t, x, hs), m.lookup(hs); !equal(got, want) {
		t.Errorf("after Drop: %d found, want %d", len(got), len(want))
	}

	// Rebuild from chunks replaces everything with one run; an interrupted write's temporary
	// file is removed at the next Open.
	if err := os.WriteFile(filepath.Join(dir, "run-00000000000000ff.ids.tmp"), []byte("cut"), 0o600); err != nil {
		t.Fatal(err)
	}
	y, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "run-00000000000000ff.ids.tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary file left after Open: %v", err)
	}
	all := []Entry{{H: 1, Day: 5}, {H: 7, Day: 6}, {H: 7, Day: 9}, {H: 1 << 63, Day: 5}}
	if err := y.Rebuild(42, func(add func([]Entry) error) error {
		if err := add(slices.Clone(all[:2])); err != nil {
			return err
		}
		return add(slices.Clone(all[2:]))
	}); err != nil {
		t.Fatal(err)
	}
	if y.Runs() != 1 || y.Count() != 4 || y.Through() != 42 {
		t.Errorf("rebuilt: %d runs, %d pairs through %d; want 1, 4, 42", y.Runs(), y.Count(), y.Through())
	}
	got := lookup(t, y, []uint64{1, 7, 8, 1 << 63})
	if want := map[uint64][]int32{1: {5}, 7: {6, 9}, 1 << 63: {5}}; !equal(got, want) {
		t.Errorf("rebuilt lookup = %v, want %v", got, want)
	}
	if err := y.Rebuild(43, func(func([]Entry) error) error { return nil }); err != nil || y.Count() != 0 || y.Through() != 43 {
		t.Errorf("rebuilt empty: %d pairs through %d, err %v; want 0 through 43", y.Count(), y.Through(), err)
	}
}

func TestOpenRefusesDamagedRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ids")
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Add([]Entry{{H: 3, Day: 1}, {H: 4, Day: 1}}, 1); err != nil {
		t.Fatal(err)
	}
	p := x.runs[0].path
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, b[:len(b)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("Open accepted a cut run")
	}
	if err := Remove(dir); err != nil {
		t.Fatal(err)
	}
	if y, err := Open(dir); err != nil || y.Count() != 0 {
		t.Fatalf("after Remove: %v, err %v", y, err)
	}
}

// BenchmarkLookup looks up a commit's worth of new ids (3,600 absent hashes) in one run of
// MCASLOAD_IDS_RUN entries (default 4M), by the sequential pass and by bucket reads.
func BenchmarkLookup(b *testing.B) {
	n := int64(4 << 20)
	if v, err := strconv.ParseInt(os.Getenv("MCASLOAD_IDS_RUN"), 10, 64); err == nil && v > 0 {
		n = v
	}
	x, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = Entry{H: rng.Uint64(), Day: 20000}
	}
	if err := x.Add(entries, 1); err != nil {
		b.Fatal(err)
	}
	hs := make([]uint64, 3600)
	for i := range hs {
		hs[i] = rng.Uint64()
	}
	slices.Sort(hs)
	for _, tc := range []struct {
		name  string
		pread int64
	}{{"sequential", 1 << 40}, {"buckets", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			defer func(p int64) { seqEntriesPerRead = p }(seqEntriesPerRead)
			seqEntriesPerRead = tc.pread
			for b.Loop() {
				if _, err := x.Lookup(hs, func(int, int32) {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLookupSince: a lookup's generation, completed by LookupSince, answers for every pair
// added since; it refuses after a rebuild and after more adds than it keeps.
func TestLookupSince(t *testing.T) {
	x, err := Open(filepath.Join(t.TempDir(), "ids"))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Add([]Entry{{H: 10, Day: 1}, {H: 30, Day: 1}}, 1); err != nil {
		t.Fatal(err)
	}
	hs := []uint64{10, 20, 30, 40, 50}
	since := func(gen uint64) (map[uint64][]int32, bool) {
		out := map[uint64][]int32{}
		ok := x.LookupSince(gen, hs, func(i int, day int32) { out[hs[i]] = append(out[hs[i]], day) })
		return out, ok
	}
	gen, err := x.Lookup(hs, func(int, int32) {})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := since(gen); !ok || len(got) != 0 {
		t.Errorf("nothing added: LookupSince = %v, %v; want nothing, true", got, ok)
	}
	if err := x.Add([]Entry{{H: 40, Day: 2}, {H: 20, Day: 3}, {H: 99, Day: 3}}, 2); err != nil {
		t.Fatal(err)
	}
	if err := x.Add([]Entry{{H: 40, Day: 4}, {H: 5, Day: 4}}, 3); err != nil {
		t.Fatal(err)
	}
	want := map[uint64][]int32{20: {3}, 40: {2, 4}}
	if got, ok := since(gen); !ok || !equal(got, want) {
		t.Errorf("two adds since: LookupSince = %v, %v; want %v, true", got, ok, want)
	}
	if _, ok := since(gen + 3); ok {
		t.Error("LookupSince answered for a generation the set has not reached")
	}
	for i := range recentAdds - 1 {
		if err := x.Add([]Entry{{H: 1000 + uint64(i), Day: 5}}, int64(4+i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := since(gen); ok {
		t.Errorf("LookupSince answered for %d adds, more than the %d it keeps", recentAdds+1, recentAdds)
	}
	if got, ok := since(gen + 1); !ok || !equal(got, map[uint64][]int32{40: {4}}) {
		t.Errorf("the last %d adds: LookupSince = %v, %v; want 40 on day 4", recentAdds, got, ok)
	}
	gen, err = x.Lookup(hs, func(int, int32) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Rebuild(20, func(add func([]Entry) error) error { return add([]Entry{{H: 50, Day: 6}}) }); err != nil {
		t.Fatal(err)
	}
	if _, ok := since(gen); ok {
		t.Error("LookupSince answered across a Rebuild")
	}
}

// TestLookupBesideWriter runs lookups while adds write and merge runs (run it with -race):
// a lookup finds every pair added before it started, and with LookupSince every pair added
// before that answer; no lookup fails on a run a merge removed.
func TestLookupBesideWriter(t *testing.T) {
	x, err := Open(filepath.Join(t.TempDir(), "ids"))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const batches, per = 120, 40
	all := make([][]Entry, batches)
	for i := range all {
		for range per {
			all[i] = append(all[i], Entry{H: rng.Uint64(), Day: int32(i)})
		}
	}
	var added atomic.Int64
	writerDone := make(chan error, 1)
	go func() {
		for i, b := range all {
			if err := x.Add(slices.Clone(b), int64(i+1)); err != nil {
				writerDone <- err
				return
			}
			added.Store(int64(i + 1))
		}
		writerDone <- nil
	}()
	hashes := func(n int64) []uint64 {
		var hs []uint64
		for _, b := range all[:n] {
			for _, e := range b {
				hs = append(hs, e.H)
			}
		}
		slices.Sort(hs)
		return hs
	}
	everything := hashes(batches)
	for lookups := 0; ; lookups++ {
		before := added.Load()
		seen := map[uint64]bool{}
		gen, err := x.Lookup(everything, func(i int, _ int32) { seen[everything[i]] = true })
		if err != nil {
			t.Fatalf("lookup %d: %v", lookups, err)
		}
		for _, h := range hashes(before) {
			if !seen[h] {
				t.Fatalf("lookup %d (generation %d) missed a pair of the %d adds done before it", lookups, gen, before)
			}
		}
		upto := added.Load()
		if x.LookupSince(gen, everything, func(i int, _ int32) { seen[everything[i]] = true }) {
			for _, h := range hashes(upto) {
				if !seen[h] {
					t.Fatalf("lookup %d completed by LookupSince missed a pair of the %d adds done before", lookups, upto)
				}
			}
		}
		if before == batches {
			break
		}
	}
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	if got := x.Count(); got != batches*per {
		t.Errorf("after the adds: %d pairs, want %d", got, batches*per)
	}
}
