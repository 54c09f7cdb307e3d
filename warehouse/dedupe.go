package warehouse

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/idindex"
)

// rowColumns are the positions of the columns the dedupe reads in a dataset's rows, and its
// rows' keys (an id is stored once per tenant, see checkTenantColumn).
type rowColumns struct {
	day, raw int
	keys     func(r arrow.RecordBatch) func(i int) string
}

func (t *whTable) rowColumns() rowColumns {
	return rowColumns{day: t.col("day"), raw: t.col("raw"), keys: t.keys}
}

// md5Lower is DuckDB's md5_number_lower(s): the last 8 bytes of the MD5 digest (the low half
// of the digest read as a little-endian 128-bit number) as an unsigned integer. The dedupe index stores it for ids (h) and raw (rawsum); it is
// stable across processes and versions, and verify and repair recompute it in SQL.
func md5Lower(s string) uint64 {
	// md5 only reads its input: hashing the string's bytes in place saves a copy (and 12 MB
	// of garbage a commit, a fifth of the hash's time).
	d := md5.Sum(unsafe.Slice(unsafe.StringData(s), len(s)))
	return binary.LittleEndian.Uint64(d[8:])
}

// RawSums returns the rawsum of each row of r as a commit's index stores it: md5Lower of the
// row's raw column. Hashing raw is the one pass over every byte of a commit's rows; a caller
// that converts records on several cores computes the sums there, off the commit's path, and
// hands them to Commit (Commit.RawSums).
func RawSums(r arrow.RecordBatch) ([]uint64, error) {
	idx := r.Schema().FieldIndices("raw")
	if len(idx) != 1 {
		return nil, fmt.Errorf("hash raw: the record has no raw column")
	}
	col, ok := r.Column(idx[0]).(*array.String)
	if !ok {
		return nil, fmt.Errorf("hash raw: the raw column is %s, not a string", r.Column(idx[0]).DataType())
	}
	sums := make([]uint64, col.Len())
	for i := range sums {
		sums[i] = md5Lower(col.Value(i))
	}
	return sums, nil
}

// indexSchema is the narrow Arrow record a commit inserts into activity_ids.
var indexSchema = arrow.NewSchema([]arrow.Field{
	{Name: "h", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	{Name: "rawsum", Type: arrow.PrimitiveTypes.Uint64},
}, nil)

// rowRef is one row of a commit: record index and row within it.
type rowRef struct{ rec, row int32 }

// plan is what a commit stores, decided in Go from a narrow query: the new rows (zero-copy
// slices of the caller's records, in input order), their index entries, and the rows of each
// day for publishing.
type plan struct {
	total, inserted, duplicates, conflicts int
	old                                    int                                  // rows before the horizon, not stored
	keep                                   []arrow.RecordBatch                  // new rows, in input order
	byDay                                  map[arrow.Date32][]arrow.RecordBatch // new rows per UTC day
	days                                   []string                             // YYYY-MM-DD, sorted
	index                                  arrow.RecordBatch                    // (h, id, day, rawsum) of keep; nil until buildIndex
	// buildIndex fills index (hashing every kept raw, the plan's one pass over all bytes); it
	// is separate so the commit can start writing Parquet first. nil when nothing is kept.
	buildIndex          func()
	parquet             *parquetWrite // this commit's Parquet files while they are written; nil when none
	tHash, tProbe, tSum time.Duration
	tIDs                time.Duration // adding the kept ids to the id set
	idsDone             chan struct{} // closed when the id set holds the kept ids (or failed to); nil when not started
	idsErr              error
}

// addIDs adds the kept rows' (hash, day) pairs to the id set in the background, beside the
// commit's transaction (the set's run file is written and synced while DuckDB inserts the rows);
// waitIDs waits for it.
func (p *plan) addIDs(ids *idindex.Index, seq int64) {
	entries := indexEntries(p.index)
	p.idsDone = make(chan struct{})
	go func() {
		defer close(p.idsDone)
		t := time.Now()
		p.idsErr = ids.Add(entries, seq)
		p.tIDs = time.Since(t)
		if p.idsErr == nil {
			failpoint.Hit("ids-before-commit")
		}
	}()
}

// waitIDs waits until addIDs is done and returns its error (nil when it was not started).
func (p *plan) waitIDs() error {
	if p.idsDone == nil {
		return nil
	}
	<-p.idsDone
	return p.idsErr
}

func (p *plan) release() {
	_ = p.waitIDs()  // the id set is the writer's: nothing else may touch it while it is written
	p.parquet.wait() // it reads the slices released below
	for _, r := range p.keep {
		r.Release()
	}
	for _, rs := range p.byDay {
		for _, r := range rs {
			r.Release()
		}
	}
	if p.index != nil {
		p.index.Release()
	}
	*p = plan{}
}

// planCommit decides which rows of records (all of tenant label) are new. An id already in
// t's index for the tenant, or seen earlier in the same commit, is a duplicate (first wins),
// whatever its timestamp; a duplicate whose raw hash differs from the kept row's is a conflict;
// a row dated before horizon is Old and not stored. The batch's id hashes are looked up in ids
// (the on-disk set of the tenant's stored (hash, day) pairs); only hits go to DuckDB, which
// returns (id, rawsum) of the stored rows with those hashes on the days the set names (a
// re-delivery usually keeps its time, so that is the days the batch touches, and DuckDB reads
// only those days' row groups; probes, when they cover the commit, have looked the hashes up
// in the set already); ids are compared exactly in Go, and raw is hashed in Go only
// for re-delivered rows and for the index entries of new rows. Its phases are timed
// separately (hash, probe, plan) for the commit's debug log.
func planCommit(ctx context.Context, s *session, mem memory.Allocator, t *whTable, label string, records []arrow.RecordBatch, rawSums [][]uint64, probes []*IDProbe, ids *idindex.Index, horizon arrow.Date32) (*plan, error) {
	p := &plan{byDay: map[arrow.Date32][]arrow.RecordBatch{}}
	cols := t.rowColumns()
	t0 := time.Now()
	n := 0
	for _, r := range records {
		n += int(r.NumRows())
	}
	p.total = n
	if n == 0 {
		return p, nil
	}
	b := hashIDs(records, cols, n, horizon)
	p.tHash = time.Since(t0)
	t1 := time.Now()
	stored, err := probeStored(ctx, s, t, label, ids, b, probes)
	if err != nil {
		return nil, err
	}
	p.tProbe = time.Since(t1)
	t2 := time.Now()
	runs, kept := p.decide(records, cols, rawSums, b, stored, horizon)
	p.inserted = len(kept)
	if p.inserted == 0 {
		return p, nil
	}
	p.cut(records, runs)
	p.tSum = time.Since(t2)
	p.buildIndex = func() {
		t := time.Now()
		p.index = buildIndex(mem, records, cols, rawSums, b.hashes, kept)
		p.tSum += time.Since(t)
	}
	return p, nil
}

// batchIDs is what the first phase of planCommit learns from the ids alone.
type batchIDs struct {
	first  map[string]rowRef // first occurrence of each id in the commit
	hashes [][]uint64        // each row's id hash, per record
	dupOf  map[rowRef]rowRef // in-commit re-deliveries → the first row with that id
	firsts []uint64          // hashes of the first occurrences
}

// hashIDs hashes every id of the n rows of records and finds the in-commit re-deliveries. Rows
// dated before horizon are left out: they are not stored, so they are not the first of an id.
func hashIDs(records []arrow.RecordBatch, cols rowColumns, n int, horizon arrow.Date32) batchIDs {
	b := batchIDs{
		first:  make(map[string]rowRef, n),
		hashes: make([][]uint64, len(records)),
		dupOf:  map[rowRef]rowRef{},
	}
	for ri, r := range records {
		key := cols.keys(r)
		days := r.Column(cols.day).(*array.Date32)
		hs := make([]uint64, r.NumRows())
		for i := range hs {
			if days.Value(i) < horizon {
				continue
			}
			id := key(i)
			hs[i] = md5Lower(id)
			ref := rowRef{int32(ri), int32(i)}
			if f, ok := b.first[id]; ok {
				b.dupOf[ref] = f
				continue
			}
			b.first[id] = ref
			b.firsts = append(b.firsts, hs[i])
		}
		b.hashes[ri] = hs
	}
	return b
}

// probeStored returns the stored ids of tenant label this commit re-delivers, with the rawsum
// of the stored row: the candidates by hash, with their days, from the id set (from the
// commit's probes when they cover it, see probed), then an exact id match read from t's index
// in DuckDB for just those hashes on just those days.
func probeStored(ctx context.Context, s *session, t *whTable, label string, ids *idindex.Index, b batchIDs, probes []*IDProbe) (map[string]uint64, error) {
	stored := map[string]uint64{}
	hs := b.firsts // sorted in place: the rows keep their own copy in b.hashes
	slices.Sort(hs)
	hs = slices.Compact(hs)
	matched := map[uint64]bool{}
	days := map[int32]bool{}
	found := func(i int, day int32) {
		matched[hs[i]] = true
		days[day] = true
	}
	if !probed(ids, probes, hs, found) {
		if _, err := ids.Lookup(hs, found); err != nil {
			return nil, fmt.Errorf("find stored ids: %w", err)
		}
	}
	if len(matched) == 0 {
		return stored, nil
	}
	err := storedSums(ctx, s, t, label, slices.Sorted(maps.Keys(matched)), slices.Sorted(maps.Keys(days)), func(id string, sum uint64) {
		if _, ok := b.first[id]; ok {
			stored[id] = sum
		}
	})
	if err != nil {
		return nil, fmt.Errorf("find stored ids: %w", err)
	}
	return stored, nil
}

// probed calls found for the hashes of hs the commit's probes hit, and for those the set ids
// gained since the oldest probe, and reports whether that answers for all of hs: every record
// probed, in this very set, which still remembers the adds since. Otherwise it calls nothing.
func probed(ids *idindex.Index, probes []*IDProbe, hs []uint64, found func(i int, day int32)) bool {
	if len(probes) == 0 {
		return false
	}
	gen := uint64(math.MaxUint64)
	for _, p := range probes {
		if p == nil || p.set != ids {
			return false
		}
		gen = min(gen, p.gen)
	}
	if !ids.LookupSince(gen, hs, found) {
		return false
	}
	for _, p := range probes {
		for _, e := range p.hits {
			if i, ok := slices.BinarySearch(hs, e.H); ok {
				found(i, e.Day)
			}
		}
	}
	return true
}

// keptRun is a run of consecutive kept rows of one record and one day.
type keptRun struct {
	rec, from, to int
	day           arrow.Date32
}

// decide goes row by row: it counts duplicates and conflicts into p and returns the kept rows,
// cut into runs per record and per day, and one reference per kept row.
func (p *plan) decide(records []arrow.RecordBatch, cols rowColumns, rawSums [][]uint64, b batchIDs, stored map[string]uint64, horizon arrow.Date32) ([]keptRun, []rowRef) {
	sumOf := func(ref rowRef) uint64 {
		if rawSums != nil {
			return rawSums[ref.rec][ref.row]
		}
		return md5Lower(records[ref.rec].Column(cols.raw).(*array.String).Value(int(ref.row)))
	}
	var runs []keptRun
	var keptRefs []rowRef
	firstSum := map[rowRef]uint64{}
	for ri, r := range records {
		key := cols.keys(r)
		days := r.Column(cols.day).(*array.Date32)
		for i := range int(r.NumRows()) {
			if days.Value(i) < horizon {
				p.old++
				continue
			}
			ref := rowRef{int32(ri), int32(i)}
			id := key(i)
			var want uint64
			isDup := false
			if sum, ok := stored[id]; ok {
				want, isDup = sum, true
			} else if f, ok := b.dupOf[ref]; ok {
				s, ok := firstSum[f]
				if !ok {
					s = sumOf(f)
					firstSum[f] = s
				}
				want, isDup = s, true
			}
			if isDup {
				p.duplicates++
				if sumOf(ref) != want {
					p.conflicts++
				}
				continue
			}
			keptRefs = append(keptRefs, ref)
			d := days.Value(i)
			if l := len(runs) - 1; l >= 0 && runs[l].rec == ri && runs[l].to == i && runs[l].day == d {
				runs[l].to++
			} else {
				runs = append(runs, keptRun{rec: ri, from: i, to: i + 1, day: d})
			}
		}
	}
	return runs, keptRefs
}

// cut fills keep (one zero-copy slice per maximal run within a record, days merged), byDay (one
// slice per run) and days from the kept runs.
func (p *plan) cut(records []arrow.RecordBatch, runs []keptRun) {
	daySet := map[arrow.Date32]bool{}
	for i, rn := range runs {
		r := records[rn.rec]
		p.byDay[rn.day] = append(p.byDay[rn.day], r.NewSlice(int64(rn.from), int64(rn.to)))
		daySet[rn.day] = true
		if i > 0 && runs[i-1].rec == rn.rec && runs[i-1].to == rn.from {
			continue // extends the previous keep slice
		}
		end := rn.to
		for j := i + 1; j < len(runs) && runs[j].rec == rn.rec && runs[j].from == end; j++ {
			end = runs[j].to
		}
		if rn.from == 0 && end == int(r.NumRows()) {
			r.Retain()
			p.keep = append(p.keep, r)
		} else {
			p.keep = append(p.keep, r.NewSlice(int64(rn.from), int64(end)))
		}
	}
	for d := range daySet {
		p.days = append(p.days, d.ToTime().Format(time.DateOnly))
	}
	slices.Sort(p.days)
}

// storedSums calls f with (id, rawsum) of every row of t's index of tenant label whose h is in
// hashes and whose day is in days (days since 1970-01-01, ascending): the range lets DuckDB skip
// other days' row groups by their min/max. A query reads the days' ids whole, whatever the
// number of hashes (a re-delivered commit into a 20M-row warehouse: ~50–100 ms a query for two
// days of 1M rows each, with 10 or 4,000 hashes alike), so a commit's hashes go in as few
// queries as the statement's size allows.
func storedSums(ctx context.Context, s *session, t *whTable, label string, hashes []uint64, days []int32, f func(id string, sum uint64)) error {
	var onDays strings.Builder
	dayLit := func(d int32) string { return "DATE '" + arrow.Date32(d).ToTime().Format(time.DateOnly) + "'" }
	fmt.Fprintf(&onDays, `tenant = %s AND day BETWEEN %s AND %s AND day IN (`, quoteString(label), dayLit(days[0]), dayLit(days[len(days)-1]))
	for i, d := range days {
		if i > 0 {
			onDays.WriteByte(',')
		}
		onDays.WriteString(dayLit(d))
	}
	onDays.WriteString(`) AND `)
	for len(hashes) > 0 {
		n := min(len(hashes), storedSumsChunk)
		var q strings.Builder
		q.WriteString(`SELECT id, rawsum FROM wh.` + t.index + ` WHERE `)
		q.WriteString(onDays.String())
		q.WriteString(`h IN (`)
		for i, h := range hashes[:n] {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(strconv.FormatUint(h, 10))
		}
		q.WriteString(`)`)
		hashes = hashes[n:]
		rows, err := s.conn.QueryContext(ctx, q.String())
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var sum uint64
			if err := rows.Scan(&id, &sum); err != nil {
				rows.Close()
				return err
			}
			f(id, sum)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// storedSumsChunk is how many hashes one storedSums query lists (~20 bytes each in its text).
const storedSumsChunk = 32768

// buildIndex builds the (h, id, day, rawsum) entries of the kept rows. The raw hashes, the one
// pass over every byte of raw, come from rawSums when the caller computed them (RawSums), else
// they are computed here on all CPUs.
func buildIndex(mem memory.Allocator, records []arrow.RecordBatch, cols rowColumns, rawSums [][]uint64, hashes [][]uint64, kept []rowRef) arrow.RecordBatch {
	sums := make([]uint64, len(kept))
	if rawSums != nil {
		for i, ref := range kept {
			sums[i] = rawSums[ref.rec][ref.row]
		}
	} else {
		workers := min(runtime.GOMAXPROCS(0), max(1, len(kept)/1000))
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(kept); i += workers {
					ref := kept[i]
					sums[i] = md5Lower(records[ref.rec].Column(cols.raw).(*array.String).Value(int(ref.row)))
				}
			})
		}
		wg.Wait()
	}
	b := array.NewRecordBuilder(mem, indexSchema)
	defer b.Release()
	hB := b.Field(0).(*array.Uint64Builder)
	idB := b.Field(1).(*array.StringBuilder)
	dayB := b.Field(2).(*array.Date32Builder)
	sumB := b.Field(3).(*array.Uint64Builder)
	b.Reserve(len(kept))
	keys := make([]func(int) string, len(records))
	for i, r := range records {
		keys[i] = cols.keys(r)
	}
	for i, ref := range kept {
		r := records[ref.rec]
		hB.Append(hashes[ref.rec][ref.row])
		idB.Append(keys[ref.rec](int(ref.row)))
		dayB.Append(r.Column(cols.day).(*array.Date32).Value(int(ref.row)))
		sumB.Append(sums[i])
	}
	return b.NewRecordBatch()
}
