package warehouse

import (
	"context"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/internal/idindex"
)

// IDIndexDir holds the dedupe's on-disk sets of (id hash, day) pairs (package idindex), one
// folder per dataset and tenant (activities: tenant=<label>; another dataset:
// <dataset>/tenant=<label>): finding the stored ids a commit re-delivers costs memory that does
// not grow with the warehouse. They are derived from the datasets' indexes (activity_ids, …)
// and rebuilt from them whenever they do not cover what DuckDB stores.
const IDIndexDir = "ids"

// idsDir is the folder of dataset t's id set of tenant label.
func (w *Writer) idsDir(t *whTable, label string) string {
	if t == &activitiesTable {
		return filepath.Join(w.dir, IDIndexDir, tenantPrefix+label)
	}
	return filepath.Join(w.dir, IDIndexDir, t.name, tenantPrefix+label)
}

// forgetIDs drops the opened id sets: the next commit of each opens and checks its set again.
func (w *Writer) forgetIDs() {
	w.idsMu.Lock()
	w.ids = nil
	w.idsMu.Unlock()
}

// IDProbe is a look at a dataset's id set for the ids of one record, taken before the record's
// commit (Writer.ProbeIDs) so that the commit does not wait for it: at 20M stored ids the
// lookup took 13–40 ms of every commit of 3,600 rows. The commit completes it with the ids
// stored since (the set's last adds, kept in memory) and confirms every hit in DuckDB, as it
// does its own lookups.
type IDProbe struct {
	set  *idindex.Index
	gen  uint64
	hits []idindex.Entry // the stored pairs of the record's id hashes, as of gen
}

// ProbeIDs looks up the ids of r (rows of dataset table, "" for activities, of tenant label,
// "" for the writer's) in the id set, for Commit.IDProbes. Unlike the writer's other methods it
// may run beside them: a pipeline's conversion workers call it while a commit is stored. It
// returns nil when the set is not open yet (before PrepareIDs or the writer's first commit of
// that dataset and tenant), when r is not rows of the dataset, or when the lookup failed: the commit then
// looks up itself, and reports what fails.
func (w *Writer) ProbeIDs(table, label string, r arrow.RecordBatch) *IDProbe {
	t, err := datasetNamed(table)
	if err != nil || r == nil || r.NumRows() == 0 || checkSchema(t, r.Schema()) != nil {
		return nil
	}
	if label == "" {
		label = w.tenant
	}
	w.idsMu.Lock()
	x := w.ids[knownKey{t, label}]
	w.idsMu.Unlock()
	if x == nil {
		return nil
	}
	key := t.keys(r)
	hs := make([]uint64, r.NumRows())
	for i := range hs {
		hs[i] = md5Lower(key(i))
	}
	slices.Sort(hs)
	hs = slices.Compact(hs)
	p := &IDProbe{set: x}
	p.gen, err = x.Lookup(hs, func(i int, day int32) { p.hits = append(p.hits, idindex.Entry{H: hs[i], Day: day}) })
	if err != nil {
		return nil
	}
	return p
}

// PrepareIDs opens and checks the id set of dataset table ("" for activities) of tenant label
// ("" for the writer's) ahead of the first commit, which otherwise does it: ProbeIDs then
// answers from the start of a run, and the first commits' lookups (cold, from disk) are not
// on their path. The file stays attached for the commits that follow, as after a commit. Like
// Commit it must not run beside another Commit; a pipeline's committer calls it first.
func (w *Writer) PrepareIDs(ctx context.Context, table, label string) (err error) {
	defer markStorage(&err)
	if w.lock == nil {
		return fmt.Errorf("prepare the id set: the warehouse is closed")
	}
	if label == "" {
		label = w.tenant
	}
	if label == "" {
		return nil // several tenants and none named: each commit names its own
	}
	t, err := checkCommit(Commit{Table: table, Tenant: label}) // the tenant's label and the dataset
	if err != nil {
		return fmt.Errorf("prepare the id set: %w", err)
	}
	w.hold.mu.Lock()
	defer w.hold.mu.Unlock()
	s, err := w.commitSession(ctx)
	if err != nil {
		return fmt.Errorf("prepare the id set: %w", err)
	}
	failed := true
	defer func() {
		if err := w.endCommit(context.WithoutCancel(ctx), failed); err != nil {
			w.log.Warn("close the duckdb file after preparing the id set", "err", err)
		}
	}()
	if _, _, err := w.dedupeState(ctx, s, t, label); err != nil {
		return fmt.Errorf("prepare the id set: %w", err)
	}
	failed = false
	return nil
}

// rebuildChunk is how many pairs a rebuild sorts in memory at a time (16 bytes each).
const rebuildChunk = 1 << 19

// openIDs opens dataset t's id set of tenant label and checks that it covers DuckDB: at least
// as many pairs as t's index holds for the tenant, and written through the last commit that
// stored any. A commit writes its pairs before
// its DuckDB transaction, so only a set that was removed (Repair removes it), damaged, or
// restored from an older copy fails the check; it is then rebuilt from activity_ids.
func (w *Writer) openIDs(ctx context.Context, s *session, t *whTable, label string) (*idindex.Index, error) {
	dir := w.idsDir(t, label)
	x, err := idindex.Open(dir)
	if err != nil {
		w.log.Warn("the dedupe's id index is damaged; rebuilding it from duckdb", "err", err)
		if err := idindex.Remove(dir); err != nil {
			return nil, err
		}
		if x, err = idindex.Open(dir); err != nil {
			return nil, err
		}
	}
	stored, last, err := idsBeyond(ctx, s, t, label, x)
	if err != nil {
		return nil, err
	}
	horizon, err := horizonDay(ctx, s.conn, label)
	if err != nil {
		return nil, err
	}
	if x.Count() >= stored && x.Through() >= last {
		// A prune that died before dropping the pairs behind its horizon left them.
		if int32(horizon) > x.OldestDay() {
			if _, err := x.Drop(int32(horizon)); err != nil {
				return nil, err
			}
		}
		return x, nil
	}
	t0 := time.Now()
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM wh.`+t.index+` WHERE tenant = ?`, label).Scan(&last); err != nil {
		return nil, fmt.Errorf("find the last commit of stored ids: %w", err)
	}
	if err := x.Rebuild(last, func(add func([]idindex.Entry) error) error { return storedPairs(ctx, s, t, label, add) }); err != nil {
		return nil, err
	}
	w.log.Info("rebuilt the dedupe's id index from duckdb", "table", t.name, "tenant", label, "ids", x.Count(), "took", time.Since(t0).Round(time.Millisecond))
	return x, nil
}

// idsBeyond is what openIDs checks x against, read without scanning the index at every open
// (a scan of its tenant column took 0.1–0.5 s at 20M rows): the stored ids of tenant label
// when x holds fewer pairs than the whole index (whose count is DuckDB's metadata), else that
// count, which bounds them; and the last commit that stored an id of the tenant when it is
// after x's, else 0 (DuckDB skips the row groups of older commits by their min/max seq).
func idsBeyond(ctx context.Context, s *session, t *whTable, label string, x *idindex.Index) (stored, last int64, err error) {
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM wh.`+t.index).Scan(&stored); err != nil {
		return 0, 0, fmt.Errorf("count stored ids: %w", err)
	}
	if stored > x.Count() { // several tenants, or a set that does not cover the index
		if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM wh.`+t.index+` WHERE tenant = ?`, label).Scan(&stored); err != nil {
			return 0, 0, fmt.Errorf("count stored ids: %w", err)
		}
	}
	// A literal, not a parameter: DuckDB prunes row groups by a constant filter.
	q := fmt.Sprintf(`SELECT coalesce(max(seq), 0) FROM wh.%s WHERE tenant = ? AND seq > %d`, t.index, x.Through())
	if err := s.conn.QueryRowContext(ctx, q, label).Scan(&last); err != nil {
		return 0, 0, fmt.Errorf("find the last commit of stored ids: %w", err)
	}
	return stored, last, nil
}

// storedPairs reads (h, day) of tenant label's rows of t's index through Arrow, in chunks.
// (label is a checked tenant label, safe to quote into the query.)
func storedPairs(ctx context.Context, s *session, t *whTable, label string, add func([]idindex.Entry) error) error {
	chunk := make([]idindex.Entry, 0, rebuildChunk)
	err := s.conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rdr, err := ar.QueryContext(ctx, `SELECT h, day FROM wh.`+t.index+` WHERE tenant = `+quoteString(label))
		if err != nil {
			return err
		}
		defer rdr.Release()
		for rdr.Next() {
			rec := rdr.RecordBatch()
			hs := rec.Column(0).(*array.Uint64).Uint64Values()
			days := rec.Column(1).(*array.Date32).Date32Values()
			for i, h := range hs {
				chunk = append(chunk, idindex.Entry{H: h, Day: int32(days[i])})
				if len(chunk) == cap(chunk) {
					if err := add(chunk); err != nil {
						return err
					}
					chunk = chunk[:0]
				}
			}
		}
		return rdr.Err()
	})
	if err == nil {
		err = add(chunk)
	}
	if err != nil {
		return fmt.Errorf("read stored ids: %w", err)
	}
	return nil
}

// indexEntries are the (h, day) pairs of a plan's index record.
func indexEntries(index arrow.RecordBatch) []idindex.Entry {
	hs := index.Column(0).(*array.Uint64).Uint64Values()
	days := index.Column(2).(*array.Date32).Date32Values()
	out := make([]idindex.Entry, len(hs))
	for i, h := range hs {
		out[i] = idindex.Entry{H: h, Day: int32(days[i])}
	}
	return out
}
