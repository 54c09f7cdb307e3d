// Package idindex is the dedupe's bounded structure: an on-disk set of (id hash, day) pairs,
// kept as a few sorted run files, that answers "may this id be stored, and on which day?" with
// memory that does not depend on how many ids are stored.
//
// The warehouse used to keep every stored id hash in memory (8 bytes an activity: 800 MB at
// 100M rows, read at every start). Here a commit's new pairs become one small sorted run;
// the newest runs are merged into the one before them once they hold a quarter of its pairs
// (mergeRatio), so each run holds over four times the pairs of the next, a warehouse of N ids
// has at most log4(N / commit)+1 runs, and every pair is rewritten about a dozen times. A
// lookup sorts the batch's hashes and reads, in each run, only the buckets (a directory by the
// hash's top bits, ≤ 65537 entries) those hashes fall into, with pread: nothing is mapped,
// and the page cache that serves the reads is not the process's memory. A hit is only a
// candidate with its day: the caller confirms it exactly (the ids themselves) on that day.
//
// The set may hold more than is stored (pairs of a commit that never landed, of a prune that
// stopped half way); the caller writes a commit's pairs before the commit, so it never holds
// less. Through is the last commit a set covers; a caller that finds a newer commit, or more
// stored ids than pairs, rebuilds the set.
//
// One writer (Add, Rebuild, Drop) and any number of lookups may run at once: the writer builds
// its files unlocked and swaps the list of runs under a lock, and a lookup opens the runs it
// reads under that lock, so a run a merge removes stays readable through the lookup's open
// file. Every Add is a new generation: a lookup returns the generation it read, and
// LookupSince answers for the pairs added after it from the last adds kept in memory, so a
// caller can look up early (beside the writer) and complete the answer just before it relies
// on it.
package idindex

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mcasload/mcasload/internal/failpoint"
)

// Entry is one stored id: the hash of its id and its UTC day (days since 1970-01-01).
type Entry struct {
	H   uint64
	Day int32
}

const (
	magic      = "MCIDX01\n"
	headerSize = 32 // magic, count, through, bits, min day
	entrySize  = 12
	maxBits    = 16  // a directory of at most 65537 offsets (512 KiB)
	perBucket  = 128 // entries a bucket aims at (1.5 KiB, one read)
	bufSize    = 256 << 10
	runPrefix  = "run-"
	runSuffix  = ".ids"
	// mergeRatio: the newest runs are merged into the one before them once they hold a
	// quarter of its pairs, so every run holds over mergeRatio times the pairs of the next: a
	// set of N pairs added c at a time has at most log4(N/c)+1 runs, every pair is rewritten
	// about a dozen times over its life, and a lookup reads a bucket in ~3 large runs
	// (at 20M pairs the binary-counter rule, 1, left 5 large runs and 10 small ones, and a
	// lookup of 3,600 hashes took 13–40 ms; its cost is a pread a hash a large run).
	mergeRatio = 4
	// recentAdds is how many of the last adds LookupSince answers from (a commit's entries
	// each: 16 bytes a pair, ~60 KB for a commit of 3,600 rows).
	recentAdds = 8
)

// seqEntriesPerRead is how many entries a sequential pass reads in the time of one bucket read:
// BenchmarkLookup measured a bucket read from the page cache at ~0.9 µs and a sequential pass at
// ~12–13 ns an entry (3,600 ids against a run of 4M entries: 3.3 ms by buckets, 50 ms by one
// pass; the buckets win down to runs of 64k). It was 2048, from an estimate of 10–20 µs a read:
// every run under ~7M entries was then read whole at every commit, which made a load's probe
// grow with the warehouse (170 ms a commit at 10M stored ids). A variable for the benchmark.
var seqEntriesPerRead int64 = 64

// run is one sorted file of entries: header, entries, then the directory of bucket starts.
type run struct {
	path    string
	seq     uint64
	count   int64
	through int64
	bits    uint
	minDay  int32
}

func (r run) dirOffset() int64 { return headerSize + r.count*entrySize }

func (r run) bucket(h uint64) int {
	if r.bits == 0 {
		return 0
	}
	return int(h >> (64 - r.bits))
}

// Index is the set in one folder. Add, Rebuild and Drop must not run concurrently with one
// another (the warehouse's writer serializes them); Lookup, LookupSince and the counts may run
// beside them and each other.
type Index struct {
	dir  string
	next uint64 // the writer's
	// mu guards runs, gen, floor and recent. The writer reads runs without it (it is the only
	// one that changes them) and takes it to change them; readers take it.
	mu      sync.Mutex
	runs    []run   // by seq, oldest first; replaced, never changed in place once shared
	gen     uint64  // adds so far
	floor   uint64  // LookupSince knows nothing from before this generation (the last Rebuild)
	recent  []added // the last recentAdds adds, oldest first
	buffers sync.Pool
}

// added is one Add's pairs, sorted, for LookupSince.
type added struct {
	gen     uint64
	entries []Entry
}

// Open reads the run headers in dir (created if missing) and removes the temporary files an
// interrupted write left.
func Open(dir string) (*Index, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open id index: %w", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open id index: %w", err)
	}
	x := &Index{dir: dir, next: 1}
	for _, de := range des {
		name := de.Name()
		if strings.HasSuffix(name, ".tmp") {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("open id index: %w", err)
			}
			continue
		}
		seq, ok := runSeq(name)
		if !ok {
			continue
		}
		r, err := readHeader(filepath.Join(dir, name), seq)
		if err != nil {
			return nil, fmt.Errorf("open id index: %w (remove the folder %s: the next load rebuilds it)", err, dir)
		}
		x.runs = append(x.runs, r)
		x.next = max(x.next, seq+1)
	}
	slices.SortFunc(x.runs, func(a, b run) int { return cmp.Compare(a.seq, b.seq) })
	return x, nil
}

// Remove deletes the set in dir, so that the next Open starts empty (and its user rebuilds it).
func Remove(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove id index: %w", err)
	}
	return syncDir(filepath.Dir(dir))
}

func runSeq(name string) (uint64, bool) {
	if !strings.HasPrefix(name, runPrefix) || !strings.HasSuffix(name, runSuffix) {
		return 0, false
	}
	seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, runPrefix), runSuffix), 16, 64)
	return seq, err == nil
}

func readHeader(path string, seq uint64) (run, error) {
	f, err := os.Open(path)
	if err != nil {
		return run{}, err
	}
	defer f.Close()
	var h [headerSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:8]) != magic {
		return run{}, fmt.Errorf("%s is not an id index run", path)
	}
	r := run{path: path, seq: seq,
		count:   int64(binary.LittleEndian.Uint64(h[8:])),
		through: int64(binary.LittleEndian.Uint64(h[16:])),
		bits:    uint(binary.LittleEndian.Uint32(h[24:])),
		minDay:  int32(binary.LittleEndian.Uint32(h[28:]))}
	fi, err := f.Stat()
	if err != nil {
		return run{}, err
	}
	if r.bits > maxBits || fi.Size() != r.dirOffset()+8*(int64(1)<<r.bits+1) {
		return run{}, fmt.Errorf("%s is cut short or damaged", path)
	}
	return r, nil
}

// Count is the number of pairs held (a pair may be held twice after an interrupted merge).
func (x *Index) Count() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	var n int64
	for _, r := range x.runs {
		n += r.count
	}
	return n
}

// Through is the last commit the set covers (0 when empty).
func (x *Index) Through() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	var t int64
	for _, r := range x.runs {
		t = max(t, r.through)
	}
	return t
}

// Runs is the number of run files (for the debug log and the tests).
func (x *Index) Runs() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.runs)
}

// OldestDay is the earliest day held (math.MaxInt32 when empty).
func (x *Index) OldestDay() int32 {
	x.mu.Lock()
	defer x.mu.Unlock()
	d := int32(math.MaxInt32)
	for _, r := range x.runs {
		d = min(d, r.minDay)
	}
	return d
}

// Add writes entries (in any order) as a new run covering commit through, then merges runs
// as mergeRatio says. The pairs are durable when Add returns. Add keeps entries
// (sorted in place) for LookupSince: the caller must not change them afterwards.
func (x *Index) Add(entries []Entry, through int64) error {
	if len(entries) == 0 {
		return nil
	}
	slices.SortFunc(entries, compareEntries)
	r, err := x.write(int64(len(entries)), through, sorted(entries))
	if err != nil {
		return fmt.Errorf("add to id index: %w", err)
	}
	x.mu.Lock()
	x.runs = append(slices.Clip(x.runs), r)
	x.gen++
	x.recent = append(x.recent, added{gen: x.gen, entries: entries})
	if len(x.recent) > recentAdds {
		x.recent = slices.Delete(x.recent, 0, len(x.recent)-recentAdds)
	}
	x.mu.Unlock()
	return x.compact()
}

// setRuns makes runs the set's list (under the lock, for the readers).
func (x *Index) setRuns(runs []run) {
	x.mu.Lock()
	x.runs = runs
	x.mu.Unlock()
}

// Rebuild replaces the set with the pairs that fill calls add with (in chunks of any order and
// size; each chunk becomes a run, so memory is what the caller's chunks take), then merges them
// into one run. LookupSince knows nothing from before a Rebuild.
func (x *Index) Rebuild(through int64, fill func(add func([]Entry) error) error) error {
	old := x.runs
	var built []run
	err := fill(func(chunk []Entry) error {
		if len(chunk) == 0 {
			return nil
		}
		slices.SortFunc(chunk, compareEntries)
		r, err := x.write(int64(len(chunk)), through, sorted(chunk))
		if err != nil {
			return err
		}
		built = append(built, r)
		return nil
	})
	if err == nil && len(built) > 1 {
		var out run
		if out, err = x.mergeRuns(built); err == nil {
			err = removeRuns(x.dir, built)
			built = []run{out}
		}
	}
	if err == nil && len(built) == 0 { // nothing stored: an empty run still records through
		var r run
		if r, err = x.write(0, through, func(func(Entry) error) error { return nil }); err == nil {
			built = []run{r}
		}
	}
	x.mu.Lock()
	x.gen++
	x.floor, x.recent = x.gen, nil
	if err != nil {
		x.runs = append(slices.Clone(old), built...) // a superset, as before
	} else {
		x.runs = built
	}
	x.mu.Unlock()
	if err != nil {
		return fmt.Errorf("rebuild id index: %w", err)
	}
	if err := removeRuns(x.dir, old); err != nil {
		return fmt.Errorf("rebuild id index: %w", err)
	}
	return nil
}

// Drop removes every pair of a day before day and returns how many it removed; runs that hold
// none are left as they are.
func (x *Index) Drop(day int32) (int64, error) {
	var removed int64
	for _, r := range slices.Clone(x.runs) {
		if r.minDay >= day {
			continue
		}
		var kept int64
		nr, err := x.write(r.count, r.through, func(emit func(Entry) error) error {
			return eachEntry(r, nil, func(e Entry) error {
				if e.Day < day {
					return nil
				}
				kept++
				return emit(e)
			})
		})
		if err != nil {
			return removed, fmt.Errorf("drop days from id index: %w", err)
		}
		// In place of r (found by its seq: the list is re-sorted by seq as runs are replaced).
		runs := slices.Clone(x.runs)
		runs[slices.IndexFunc(runs, func(o run) bool { return o.seq == r.seq })] = nr
		slices.SortFunc(runs, func(a, b run) int { return cmp.Compare(a.seq, b.seq) })
		x.setRuns(runs)
		if err := removeRuns(x.dir, []run{r}); err != nil {
			return removed, fmt.Errorf("drop days from id index: %w", err)
		}
		removed += r.count - kept
	}
	return removed, nil
}

// Lookup calls found with the position in hs of every hash the set holds, and the day of each
// pair with it, run by run (oldest first), positions ascending within a run, and returns the
// generation it read (for LookupSince). hs must be sorted ascending. The runs are read on up
// to GOMAXPROCS goroutines: a lookup is mostly pread system calls, one a touched bucket a run.
func (x *Index) Lookup(hs []uint64, found func(i int, day int32)) (uint64, error) {
	x.mu.Lock()
	gen := x.gen
	if len(hs) == 0 || len(x.runs) == 0 {
		x.mu.Unlock()
		return gen, nil
	}
	runs := slices.Clone(x.runs)
	// Opened under the lock: a merge swaps the list under it before it removes the files.
	files := make([]*os.File, len(runs))
	var err error
	for k, r := range runs {
		if r.count == 0 {
			continue
		}
		if files[k], err = os.Open(r.path); err != nil {
			break
		}
	}
	x.mu.Unlock()
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	if err != nil {
		return gen, fmt.Errorf("look up id index: %w", err)
	}
	type hit struct {
		i   int
		day int32
	}
	hits := make([][]hit, len(runs))
	errs := make([]error, len(runs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(runs), runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lb, _ := x.buffers.Get().(*lookupBuffers)
			if lb == nil {
				lb = &lookupBuffers{}
			}
			defer x.buffers.Put(lb)
			for {
				k := int(next.Add(1) - 1)
				if k >= len(runs) {
					return
				}
				if files[k] != nil {
					errs[k] = lb.lookupRun(runs[k], files[k], hs, func(i int, day int32) { hits[k] = append(hits[k], hit{i, day}) })
				}
			}
		}()
	}
	wg.Wait()
	for k := range runs {
		if errs[k] != nil {
			return gen, fmt.Errorf("look up id index: %w", errs[k])
		}
		for _, h := range hits[k] {
			found(h.i, h.day)
		}
	}
	return gen, nil
}

// LookupSince calls found, like Lookup, for the pairs added after generation gen (a Lookup's),
// from the adds kept in memory, and reports whether it could: false when the set has been
// rebuilt since, or more adds came than it keeps (look up again). hs must be sorted ascending.
func (x *Index) LookupSince(gen uint64, hs []uint64, found func(i int, day int32)) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if gen == x.gen {
		return true
	}
	if gen > x.gen || gen < x.floor || len(x.recent) == 0 || x.recent[0].gen > gen+1 {
		return false
	}
	for _, a := range x.recent {
		if a.gen <= gen {
			continue
		}
		i, e := 0, 0
		for i < len(hs) && e < len(a.entries) {
			switch h := a.entries[e].H; {
			case hs[i] < h:
				i++
			case hs[i] > h:
				e++
			default:
				found(i, a.entries[e].Day)
				e++
			}
		}
	}
	return true
}

// lookupBuffers are one lookup goroutine's read buffers, kept between lookups.
type lookupBuffers struct{ buf []byte }

func (lb *lookupBuffers) buffer(n int) []byte {
	if cap(lb.buf) < n {
		lb.buf = make([]byte, n)
	}
	return lb.buf[:n]
}

// lookupRun looks hs up in r (not empty: Lookup skips empty runs), read from f.
func (lb *lookupBuffers) lookupRun(r run, f *os.File, hs []uint64, found func(int, int32)) error {
	buckets := 1 << r.bits
	touched := 0
	for i, last := 0, -1; i < len(hs); i++ {
		if b := r.bucket(hs[i]); b != last {
			touched, last = touched+1, b
		}
	}
	// Many buckets touched: one sequential pass over the run costs less than a read each (see
	// seqEntriesPerRead).
	if int64(touched)*seqEntriesPerRead >= r.count {
		i := 0
		return eachEntry(r, f, func(e Entry) error {
			for i < len(hs) && hs[i] < e.H {
				i++
			}
			for j := i; j < len(hs) && hs[j] == e.H; j++ {
				found(j, e.Day)
			}
			return nil
		})
	}
	var dir []uint64 // the whole directory, when reading it once costs less than a read a bucket
	if touched > buckets/64 {
		b := lb.buffer(8 * (buckets + 1))
		if _, err := f.ReadAt(b, r.dirOffset()); err != nil {
			return err
		}
		dir = make([]uint64, buckets+1)
		for i := range dir {
			dir[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
	}
	var pair [16]byte
	for i := 0; i < len(hs); {
		b := r.bucket(hs[i])
		j := i + 1
		for j < len(hs) && r.bucket(hs[j]) == b {
			j++
		}
		var from, to uint64
		if dir != nil {
			from, to = dir[b], dir[b+1]
		} else {
			if _, err := f.ReadAt(pair[:], r.dirOffset()+8*int64(b)); err != nil {
				return err
			}
			from, to = binary.LittleEndian.Uint64(pair[:]), binary.LittleEndian.Uint64(pair[8:])
		}
		if to > from {
			buf := lb.buffer(int(to-from) * entrySize)
			if _, err := f.ReadAt(buf, headerSize+int64(from)*entrySize); err != nil {
				return err
			}
			findInBucket(buf, hs[i:j], func(k int, day int32) { found(i+k, day) })
		}
		i = j
	}
	return nil
}

// findInBucket calls found for every pair of the sorted entries in buf whose hash is one of hs
// (sorted), by binary search: a bucket holds ~128 entries and a lookup usually one hash of it.
func findInBucket(buf []byte, hs []uint64, found func(k int, day int32)) {
	n := len(buf) / entrySize
	hashAt := func(e int) uint64 { return binary.LittleEndian.Uint64(buf[e*entrySize:]) }
	lo := 0
	for k, h := range hs {
		// the first entry at or after lo whose hash is ≥ h
		a, b := lo, n
		for a < b {
			m := int(uint(a+b) >> 1)
			if hashAt(m) < h {
				a = m + 1
			} else {
				b = m
			}
		}
		lo = a
		for e := a; e < n && hashAt(e) == h; e++ {
			found(k, decode(buf[e*entrySize:]).Day)
		}
	}
}

// compact merges the newest runs while mergeRatio times their sum is at least the size of
// the run before them (all of them at once: a rebuild's equal chunks are merged in one pass).
func (x *Index) compact() error {
	k := len(x.runs) - 1
	tail := int64(0)
	for k > 0 {
		tail += x.runs[k].count
		if tail*mergeRatio < x.runs[k-1].count {
			break
		}
		k--
	}
	if k >= len(x.runs)-1 {
		return nil
	}
	return x.merge(k)
}

// merge replaces runs[k:] with one run; the old files go only after the new one is durable
// and the list no longer names them (a lookup that opened them reads on).
func (x *Index) merge(k int) error {
	in := x.runs[k:]
	out, err := x.mergeRuns(in)
	if err != nil {
		return err
	}
	x.setRuns(append(slices.Clone(x.runs[:k]), out))
	if err := removeRuns(x.dir, in); err != nil {
		return fmt.Errorf("merge id index runs: %w", err)
	}
	return nil
}

// mergeRuns writes the pairs of runs into one new run.
func (x *Index) mergeRuns(in []run) (run, error) {
	var total, through int64
	for _, r := range in {
		total += r.count
		through = max(through, r.through)
	}
	out, err := x.write(total, through, func(emit func(Entry) error) error { return mergeEntries(in, emit) })
	if err != nil {
		return run{}, fmt.Errorf("merge id index runs: %w", err)
	}
	failpoint.Hit("ids-merge")
	return out, nil
}

// mergeEntries emits the entries of runs in order, each distinct pair once.
func mergeEntries(runs []run, emit func(Entry) error) error {
	readers := make([]*runReader, 0, len(runs))
	defer func() {
		for _, rd := range readers {
			rd.close()
		}
	}()
	heads := make([]Entry, 0, len(runs))
	for _, r := range runs {
		rd, err := openRun(r, nil)
		if err != nil {
			return err
		}
		readers = append(readers, rd)
		heads = append(heads, Entry{})
	}
	live := make([]bool, len(readers))
	for i, rd := range readers {
		e, ok, err := rd.next()
		if err != nil {
			return err
		}
		heads[i], live[i] = e, ok
	}
	var last Entry
	first := true
	for {
		m := -1
		for i := range heads {
			if live[i] && (m < 0 || compareEntries(heads[i], heads[m]) < 0) {
				m = i
			}
		}
		if m < 0 {
			return nil
		}
		if first || heads[m] != last {
			if err := emit(heads[m]); err != nil {
				return err
			}
			last, first = heads[m], false
		}
		e, ok, err := readers[m].next()
		if err != nil {
			return err
		}
		heads[m], live[m] = e, ok
	}
}

// write creates a run from the entries emitted in ascending order (at most limit of them),
// through a synced temporary file and a rename.
func (x *Index) write(limit, through int64, entries func(emit func(Entry) error) error) (run, error) {
	seq := x.next
	x.next++
	r := run{path: filepath.Join(x.dir, fmt.Sprintf("%s%016x%s", runPrefix, seq, runSuffix)), seq: seq, through: through, minDay: math.MaxInt32}
	for limit>>r.bits > perBucket && r.bits < maxBits {
		r.bits++
	}
	tmp := r.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return run{}, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, bufSize)
	if _, err := w.Write(make([]byte, headerSize)); err != nil {
		return run{}, err
	}
	// The directory follows the entries; at most 512 KiB (maxBits), whatever the count.
	buckets := 1 << r.bits
	dir := make([]byte, 0, 8*(buckets+1))
	nextBucket := 0 // dir holds the starts of buckets < nextBucket
	putStarts := func(upto int, at int64) {
		for ; nextBucket <= upto; nextBucket++ {
			dir = binary.LittleEndian.AppendUint64(dir, uint64(at))
		}
	}
	var prev Entry
	var rec [entrySize]byte
	err = entries(func(e Entry) error {
		if r.count > 0 && compareEntries(e, prev) < 0 {
			return errors.New("entries out of order")
		}
		if r.count >= limit {
			return errors.New("more entries than announced")
		}
		putStarts(r.bucket(e.H), r.count)
		binary.LittleEndian.PutUint64(rec[:], e.H)
		binary.LittleEndian.PutUint32(rec[8:], uint32(e.Day))
		if _, err := w.Write(rec[:]); err != nil {
			return err
		}
		r.count++
		r.minDay = min(r.minDay, e.Day)
		prev = e
		return nil
	})
	if err != nil {
		return run{}, err
	}
	putStarts(buckets, r.count)
	if _, err := w.Write(dir); err != nil {
		return run{}, err
	}
	if err := w.Flush(); err != nil {
		return run{}, err
	}
	if _, err := f.WriteAt(r.header(), 0); err != nil {
		return run{}, err
	}
	if err := f.Sync(); err != nil {
		return run{}, err
	}
	if err := f.Close(); err != nil {
		return run{}, err
	}
	if err := os.Rename(tmp, r.path); err != nil {
		return run{}, err
	}
	ok = true
	return r, syncDir(x.dir)
}

// header is the run's first headerSize bytes, written last (the count is known only then).
func (r run) header() []byte {
	h := make([]byte, headerSize)
	copy(h, magic)
	binary.LittleEndian.PutUint64(h[8:], uint64(r.count))
	binary.LittleEndian.PutUint64(h[16:], uint64(r.through))
	binary.LittleEndian.PutUint32(h[24:], uint32(r.bits))
	binary.LittleEndian.PutUint32(h[28:], uint32(r.minDay))
	return h
}

// sorted emits the entries of a sorted slice, for write.
func sorted(entries []Entry) func(emit func(Entry) error) error {
	return func(emit func(Entry) error) error {
		for _, e := range entries {
			if err := emit(e); err != nil {
				return err
			}
		}
		return nil
	}
}

func compareEntries(a, b Entry) int {
	if c := cmp.Compare(a.H, b.H); c != 0 {
		return c
	}
	return cmp.Compare(a.Day, b.Day)
}

func decode(b []byte) Entry {
	return Entry{H: binary.LittleEndian.Uint64(b), Day: int32(binary.LittleEndian.Uint32(b[8:]))}
}

// runReader reads a run's entries in order through a fixed buffer.
type runReader struct {
	f     *os.File
	owned bool // opened by openRun, closed by close
	r     *bufio.Reader
	left  int64
	rec   [entrySize]byte
}

// openRun reads r from f (read with ReadAt only, so others may share it), or from its file
// when f is nil.
func openRun(r run, f *os.File) (*runReader, error) {
	owned := f == nil
	if owned {
		var err error
		if f, err = os.Open(r.path); err != nil {
			return nil, err
		}
	}
	sec := io.NewSectionReader(f, headerSize, r.count*entrySize)
	return &runReader{f: f, owned: owned, r: bufio.NewReaderSize(sec, bufSize), left: r.count}, nil
}

func (rd *runReader) next() (Entry, bool, error) {
	if rd.left == 0 {
		return Entry{}, false, nil
	}
	if _, err := io.ReadFull(rd.r, rd.rec[:]); err != nil {
		return Entry{}, false, fmt.Errorf("read id index run %s: %w", rd.f.Name(), err)
	}
	rd.left--
	return decode(rd.rec[:]), true, nil
}

func (rd *runReader) close() {
	if rd.owned {
		rd.f.Close()
	}
}

// eachEntry calls fn with every entry of r, in order, read from f (from r's file when nil).
func eachEntry(r run, f *os.File, fn func(Entry) error) error {
	rd, err := openRun(r, f)
	if err != nil {
		return err
	}
	defer rd.close()
	for {
		e, ok, err := rd.next()
		if err != nil || !ok {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

func removeRuns(dir string, runs []run) error {
	for _, r := range runs {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
