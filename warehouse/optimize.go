package warehouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
)

// Optimize. A load builds its row groups within the memory budget, and DuckDB builds a row
// group uncompressed before it compresses it: with raw (most of a row's bytes) in the row,
// activities gets row groups of ~10–12k rows, and in a small row group the narrow columns
// share one 256 KB block, so a scan of any column reads a block per row group. At 20M rows
// that is ~2,000 row groups, and every investigation reads several times the bytes it uses
// (docs/benchmarks.md, "Cold reads at scale"). Building full row groups during the load would
// spill the held rows to disk and cost every load a sixth to a quarter more.
//
// Optimize moves the rows of the small row groups (under half of DuckDB's 122,880 rows) to the
// end of the table, packed into row groups of up to 122,880: a slice of small row groups at a
// time, each slice in one transaction (copied to the end, deleted where they were), then a
// checkpoint that drops the emptied row groups, so the file grows by one slice at most. Slices
// go from the end of the table backwards: a checkpoint renumbers the rowids after the row
// groups it drops, never before, so the row groups still to move keep the rowids read at the
// start. Every transaction moves exactly the rows it copied (copied and deleted are counted and
// must agree), so whatever happens each row stays stored once: a kill (failpoint
// optimize-before-commit) or an error leaves the row groups not yet moved as they were, and the
// next Optimize goes on. The dedupe indexes are rewritten the same way. The Parquet dataset is
// untouched: compaction already writes each day's files whole.

// optimizeSliceRows is the most rows one transaction of Optimize moves: one full row group.
// Smaller slices do not bound the memory: the scans load the metadata of the row groups they
// pass, outside DuckDB's memory_limit (389 MB at 20M rows in 1,855 row groups, 494 MB at 5M
// in 1,375, with slices of 40,960, 61,440 or 122,880 rows alike; docs/warehouse.md).
var optimizeSliceRows int64 = maxRowGroupRows // a variable for tests

// smallRowGroup is the size under which a row group is worth rewriting.
func smallRowGroup(rows int64) bool { return rows < optimizeSliceRows/2 }

// OptimizeResult is what Optimize found and did in one table.
type OptimizeResult struct {
	Table        string
	Rows         int64 // rows the table holds
	GroupsBefore int   // row groups before
	GroupsAfter  int   // row groups after
	Small        int   // small row groups found
	Moved        int64 // rows moved
	Took         time.Duration
}

// OptimizeOptions are Optimize's settings.
type OptimizeOptions struct {
	// MemoryLimit is DuckDB's memory_limit while it rewrites ("" is the writer's).
	MemoryLimit string
}

// Optimize packs the small row groups of every dataset and dedupe index (see the top of this
// file). It returns what it found in each table, also when it stops early (a cancelled context
// or an error): the slices moved until then stay moved.
func (w *Writer) Optimize(ctx context.Context, opts OptimizeOptions) (_ []OptimizeResult, err error) {
	cfg := w.sessionConfig()
	cfg.threads = 1 // each thread would build a row group of its own
	cfg.rowGroupRows = maxRowGroupRows
	if opts.MemoryLimit != "" {
		if !memoryLimitRE.MatchString(opts.MemoryLimit) {
			return nil, fmt.Errorf("parse memory limit %q: use a size such as 300MB or 2GB", opts.MemoryLimit)
		}
		cfg.memoryLimit = opts.MemoryLimit
	}
	s, err := w.sessionWith(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, s.detachClose(context.WithoutCancel(ctx))) }()
	var out []OptimizeResult
	for _, t := range datasets {
		for _, table := range []string{t.name, t.index} {
			res, err := w.optimizeTable(ctx, s, table)
			out = append(out, res)
			if err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// rowidRange is the rowids of one row group, lo…hi.
type rowidRange struct{ lo, hi int64 }

func (w *Writer) optimizeTable(ctx context.Context, s *session, table string) (OptimizeResult, error) {
	start := time.Now()
	res := OptimizeResult{Table: table}
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM wh.`+table).Scan(&res.Rows); err != nil {
		return res, fmt.Errorf("count rows of %s: %w", table, err)
	}
	sizes, err := rowGroupSizes(ctx, s, table)
	if err != nil {
		return res, err
	}
	res.GroupsBefore, res.GroupsAfter = len(sizes), len(sizes)
	slices, small := packSmall(sizes)
	res.Small = small
	for i, slice := range slices {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		t0 := time.Now()
		n, err := w.moveRows(ctx, s, table, slice)
		if err != nil {
			return res, fmt.Errorf("optimize %s: %w", table, err)
		}
		res.Moved += n
		w.log.Info("packed small row groups", "table", table, "row_groups", len(slice), "rows", n,
			"slice", fmt.Sprintf("%d/%d", i+1, len(slices)), "took", time.Since(t0).Round(time.Millisecond))
	}
	if len(slices) > 0 {
		if sizes, err = rowGroupSizes(ctx, s, table); err != nil {
			return res, err
		}
		res.GroupsAfter = len(sizes)
	}
	res.Took = time.Since(start)
	return res, nil
}

// packSmall groups the small row groups of a table whose row groups hold sizes rows (deleted
// rows included, in rowid order) into slices of at most optimizeSliceRows rows, from the end of
// the table backwards. It returns no slice when packing would not leave fewer row groups than
// there are small ones (a lone small row group stays), nor a slice of a single row group, and
// the number of small row groups.
func packSmall(sizes []int64) (slices [][]rowidRange, small int) {
	starts := make([]int64, len(sizes))
	var at, total int64
	for i, n := range sizes {
		starts[i] = at
		at += n
		if smallRowGroup(n) {
			small++
			total += n
		}
	}
	if int64(small) <= (total+optimizeSliceRows-1)/optimizeSliceRows {
		return nil, small
	}
	var cur []rowidRange
	var rows int64
	for i := len(sizes) - 1; i >= 0; i-- {
		if !smallRowGroup(sizes[i]) || sizes[i] == 0 {
			continue
		}
		if rows+sizes[i] > optimizeSliceRows {
			slices = append(slices, cur)
			cur, rows = nil, 0
		}
		cur = append(cur, rowidRange{starts[i], starts[i] + sizes[i] - 1})
		rows += sizes[i]
	}
	if len(cur) > 0 {
		slices = append(slices, cur)
	}
	// A slice of one row group would only move it.
	return multiGroupSlices(slices), small
}

// multiGroupSlices keeps the slices of at least two row groups.
func multiGroupSlices(slices [][]rowidRange) [][]rowidRange {
	out := slices[:0]
	for _, sl := range slices {
		if len(sl) > 1 {
			out = append(out, sl)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// moveRows copies the rows of table within the rowid ranges of slice to the end of the table and
// deletes them where they were, in one transaction, then checkpoints. It returns the rows moved.
func (w *Writer) moveRows(ctx context.Context, s *session, table string, slice []rowidRange) (moved int64, err error) {
	conds := make([]string, len(slice))
	for i, r := range slice {
		conds[i] = fmt.Sprintf("rowid BETWEEN %d AND %d", r.lo, r.hi)
	}
	cond := "(" + strings.Join(conds, " OR ") + ")"
	err = inTx(ctx, s, func() error {
		var last int64
		if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(rowid), -1) FROM wh.`+table).Scan(&last); err != nil {
			return fmt.Errorf("read row ids of %s: %w", table, err)
		}
		copied, err := s.conn.ExecContext(ctx, `INSERT INTO wh.`+table+` SELECT * FROM wh.`+table+` WHERE `+cond)
		if err != nil {
			return fmt.Errorf("copy rows of %s: %w", table, err)
		}
		deleted, err := s.conn.ExecContext(ctx, `DELETE FROM wh.`+table+` WHERE `+cond+` AND rowid <= ?`, last)
		if err != nil {
			return fmt.Errorf("delete copied rows of %s: %w", table, err)
		}
		nc, err1 := copied.RowsAffected()
		nd, err2 := deleted.RowsAffected()
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("count moved rows of %s: %w", table, err)
		}
		if nc != nd {
			return fmt.Errorf("move rows of %s: copied %d rows, deleted %d (rolled back)", table, nc, nd)
		}
		moved = nc
		failpoint.Hit("optimize-before-commit")
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := s.exec(ctx, "CHECKPOINT wh"); err != nil {
		return moved, fmt.Errorf("checkpoint after moving rows of %s: %w", table, err)
	}
	return moved, nil
}

// rowGroupSizes lists the rows of each row group of table (deleted rows included: a row group's
// rowids follow the previous one's), in rowid order. pragma_storage_info gives each segment's
// rows once per column and its validity; it walks every segment of the table (3.1 s at 20M rows).
func rowGroupSizes(ctx context.Context, s *session, table string) ([]int64, error) {
	rows, err := s.conn.QueryContext(ctx, `SELECT row_group_id, sum(count) FROM pragma_storage_info('wh.`+table+`')
		WHERE column_id = 0 AND segment_type <> 'VALIDITY' GROUP BY row_group_id ORDER BY row_group_id`)
	if err != nil {
		return nil, fmt.Errorf("read row groups of %s: %w", table, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id, count int64
		if err := rows.Scan(&id, &count); err != nil {
			return nil, fmt.Errorf("read row groups of %s: %w", table, err)
		}
		out = append(out, count)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read row groups of %s: %w", table, err)
	}
	return out, nil
}
