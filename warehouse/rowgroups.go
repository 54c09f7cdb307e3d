package warehouse

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/mcasload/mcasload/internal/budget"
	"github.com/mcasload/mcasload/internal/failpoint"
)

// Row groups. Every commit ends in a checkpoint, which writes the commit's rows as row groups
// of their own: at the default memory budget a commit is a few thousand rows, so a 5M-row load
// left 1,375 row groups of ~3,600 rows, and DuckDB merges row groups only where rows were
// deleted. In a small row group the narrow columns share one 256 KB block, so a scan of any
// column reads a block per row group: every query on such a table paid for it (the coverage
// line alone read 1.1 GB at 5M). Close therefore rewrites the rows this writer appended, in
// one transaction, into row groups as large as the memory budget allows (DuckDB builds a row
// group uncompressed in memory before it compresses it), and deletes the originals; the
// emptied row groups go at the checkpoint. A crash or an error before COMMIT leaves the
// table as the commits left it (nothing is lost, the layout is only slower), and the next
// writer merges only its own rows.

// Row group sizes must be multiples of DuckDB's vector size.
const (
	vectorRows      = 2048
	maxRowGroupRows = 122880 // DuckDB's default row group size
)

// appendTail is what this writer appended to one DuckDB table.
type appendTail struct {
	from    int64 // every row this writer appended has a rowid ≥ from
	commits int
	rows    int64
	bytes   int64 // the rows' Arrow size, about DuckDB's uncompressed size
	// written is how many row groups the checkpoints so far made of these rows, and pending
	// the rows appended since the last checkpoint, which the next one writes as row groups of
	// their own: how many row groups the rows sit in, known without pragma_storage_info, which
	// walks every segment of the table (3.1 s at 20M rows, at every Close).
	written int
	pending int64
}

// checkpointed records a checkpoint: the pending rows are now row groups (of at most
// maxRowGroupRows; DuckDB may also fill the table's last row group, so this is at most what
// it made).
func (t *appendTail) checkpointed() {
	t.written, t.pending = t.groups(), 0
}

// groups is how many row groups the tail's rows sit in, at most: those written, and those the
// next checkpoint writes.
func (t *appendTail) groups() int {
	return t.written + int((t.pending+maxRowGroupRows-1)/maxRowGroupRows)
}

// tailsCheckpointed records a checkpoint of the file in every tail.
func (w *Writer) tailsCheckpointed() {
	for _, t := range w.tails {
		t.checkpointed()
	}
}

// noteAppend records that the commit in progress appends rows of about bytes (their Arrow
// size) to table; it runs inside the commit's transaction, before the INSERT.
func (w *Writer) noteAppend(ctx context.Context, s *session, table string, rows, bytes int64) error {
	if w.tails == nil {
		w.tails = map[string]*appendTail{}
	}
	tail := w.tails[table]
	if tail == nil {
		var from int64
		if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(rowid) + 1, 0) FROM wh.`+table).Scan(&from); err != nil {
			return fmt.Errorf("read row ids of %s: %w", table, err)
		}
		tail = &appendTail{from: from}
		w.tails[table] = tail
	}
	tail.commits++
	tail.rows += rows
	tail.bytes += bytes
	tail.pending += rows
	return nil
}

// recordsSize is the number of rows of recs and their Arrow size.
func recordsSize(recs []arrow.RecordBatch) (rows, bytes int64) {
	for _, r := range recs {
		rows += r.NumRows()
		for _, c := range r.Columns() {
			bytes += dataBytes(c.Data())
		}
	}
	return rows, bytes
}

// indexRowBytes is about the size of a row of a dedupe index table (hash, id, day, raw's
// checksum, commit, tenant).
const indexRowBytes = 160

// dataBytes is the size of an array's buffers, children included.
func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}

// mergeMemory is the DuckDB memory limit of a merge: three fifths of the writer's, so that
// the merge, which starts after the commits' memory is handed back, stays under the load's own
// peak (measured on 1M rows: +118 MB over the process at 64 MiB and 12,288-row groups, +155 MB
// at 107 MiB).
func mergeMemory(limit string) int64 {
	mem, err := budget.Parse(limit)
	if err != nil {
		return 0
	}
	return mem * 3 / 5
}

// rowGroupRows is the row group size a merge of tail builds within mem bytes of DuckDB memory:
// a row group under construction holds its rows uncompressed, about 1.5 times their Arrow
// size at peak.
func rowGroupRows(mem int64, tail *appendTail) int {
	if mem <= 0 || tail.rows == 0 {
		return 0
	}
	perRow := max(tail.bytes/tail.rows, 1)
	n := mem * 2 / (3 * perRow) / vectorRows * vectorRows
	return int(min(n, maxRowGroupRows))
}

// mergeTails rewrites what this writer appended into larger row groups (see the top of this
// file), one table at a time. It never fails Close: the rows are committed either way, so an
// error only leaves the smaller row groups, with a warning.
func (w *Writer) mergeTails(ctx context.Context) error {
	if len(w.tails) > 0 {
		// Nothing commits after Close: the commits' DuckDB instance and the Go heap's free
		// pages go back to the system before the merge takes its share.
		if err := w.stopHold(); err != nil {
			w.log.Warn("close the duckdb file after commits", "err", err)
		}
		debug.FreeOSMemory()
	}
	for table, tail := range w.tails {
		delete(w.tails, table)
		size := rowGroupRows(mergeMemory(w.opts.MemoryLimit), tail)
		if w.mergeRows > 0 {
			size = w.mergeRows
		}
		// Worth it only when it builds fewer, larger row groups than the commits did.
		if tail.commits < 2 || size < vectorRows || int64(size) <= tail.rows/int64(tail.commits) {
			continue
		}
		start := time.Now()
		merged, err := w.mergeTail(ctx, table, tail, size)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			w.log.Warn("left the row groups of this run's commits unmerged; every row is stored, later queries are only slower",
				"table", table, "error", err)
			continue
		}
		if !merged {
			continue
		}
		w.log.Debug("merged row groups", "table", table, "rows", tail.rows, "commits", tail.commits, "row_group_rows", size, "took", time.Since(start), "rss", residentBytes())
	}
	return nil
}

// mergeSliceGroups is how many of the new row groups one transaction of a merge builds: the
// file grows by at most that much before the checkpoint after it frees the originals' blocks
// for the next slice to reuse (one transaction for a whole 5M-row run would double the file).
var mergeSliceGroups = 8 // a variable for tests

// mergeSliceRows caps a slice of narrow rows: a transaction moving 983,040 rows of the dedupe
// index ran out of a 64 MiB limit (the deletes' and appends' bookkeeping grows with rows).
const mergeSliceRows = 131072

// mergeTail moves the rows of tail, a slice at a time, each slice one transaction: copied to
// the end of the table in row groups of size rows, deleted where they were, then a checkpoint
// (which drops the emptied row groups and renumbers the rowids after them). Every slice leaves
// the table holding each row once. Copied rows are dense at the end and the rows still to move
// are dense just before them, so each slice finds its rows from max(rowid) alone.
func (w *Writer) mergeTail(ctx context.Context, table string, tail *appendTail, size int) (merged bool, err error) {
	cfg := w.sessionConfig()
	if mem := mergeMemory(w.opts.MemoryLimit); mem > 0 {
		cfg.memoryLimit = fmt.Sprintf("%dB", mem)
	}
	cfg.rowGroupRows = size
	cfg.threads = 1 // each thread builds a row group of its own
	s, err := w.sessionWith(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, s.detachClose(context.WithoutCancel(ctx))) }()
	var until int64
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(rowid), -1) FROM wh.`+table).Scan(&until); err != nil {
		return false, fmt.Errorf("read row ids of %s: %w", table, err)
	}
	remaining := until - tail.from + 1
	// On one DuckDB thread a commit appends to the last row group, and the checkpoints
	// counted say how many there are; several threads append a row group each, which only
	// the table's storage says.
	groups := tail.groups()
	if w.commitThreads() > 1 {
		if groups, err = tailGroups(ctx, s, table, tail.from); err != nil {
			return false, err
		}
	}
	// Commits held in the WAL share row groups already (DuckDB appends to the last one until
	// a checkpoint; walgroups.go): nothing to gain when they are on average at least half as
	// large as the merge would build.
	if want := (remaining + int64(size) - 1) / int64(size); int64(groups) <= 2*want {
		w.log.Debug("row groups already merged", "table", table, "rows", remaining, "row_groups", groups, "merge_row_groups", want)
		return false, nil
	}
	slice := int64(min(size*mergeSliceGroups, max(size, mergeSliceRows)))
	for moved := int64(0); remaining > 0; {
		k := min(slice, remaining)
		if err := w.mergeSlice(ctx, s, table, moved, remaining, k); err != nil {
			return false, err
		}
		moved += k
		remaining -= k
	}
	return true, nil
}

// mergeSlice moves the first k of the remaining rows still to move, which sit just before the
// moved rows at the end of the table.
func (w *Writer) mergeSlice(ctx context.Context, s *session, table string, moved, remaining, k int64) (err error) {
	if err := s.exec(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			err = errors.Join(err, s.exec(context.WithoutCancel(ctx), "ROLLBACK"))
		}
	}()
	var last, n int64
	if err := s.conn.QueryRowContext(ctx, `SELECT max(rowid) FROM wh.`+table).Scan(&last); err != nil {
		return fmt.Errorf("read row ids of %s: %w", table, err)
	}
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM wh.`+table+` WHERE rowid BETWEEN ? AND ?`,
		last-moved-remaining+1, last-moved).Scan(&n); err != nil {
		return fmt.Errorf("read row ids of %s: %w", table, err)
	}
	if n != remaining {
		return fmt.Errorf("merge row groups of %s: %d rows where %d were to move (the table changed under the merge)", table, n, remaining)
	}
	lo := last - moved - remaining + 1
	if err := s.exec(ctx, `INSERT INTO wh.`+table+` SELECT * FROM wh.`+table+` WHERE rowid BETWEEN ? AND ?`, lo, lo+k-1); err != nil {
		return fmt.Errorf("merge row groups of %s: %w", table, err)
	}
	if err := s.exec(ctx, `DELETE FROM wh.`+table+` WHERE rowid BETWEEN ? AND ?`, lo, lo+k-1); err != nil {
		return fmt.Errorf("merge row groups of %s: %w", table, err)
	}
	failpoint.Hit("merge-before-commit")
	if err := s.exec(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("merge row groups of %s: %w", table, err)
	}
	committed = true
	if err := s.exec(ctx, "CHECKPOINT wh"); err != nil {
		return fmt.Errorf("merge row groups of %s: %w", table, err)
	}
	return nil
}

// tailGroups counts the row groups of table that hold rows at or after rowid from.
func tailGroups(ctx context.Context, s *session, table string, from int64) (int, error) {
	sizes, err := rowGroupSizes(ctx, s, table)
	if err != nil {
		return 0, err
	}
	n := 0
	var start int64
	for _, count := range sizes {
		if start+count > from {
			n++
		}
		start += count
	}
	return n, nil
}
