package warehouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/internal/budget"
	"github.com/mcasload/mcasload/internal/failpoint"
)

// writeParquet runs COPY (query) to a temporary file in dir, syncs it and renames it to name,
// then syncs the folder: readers see the whole file or nothing. fp prefixes the failpoints; the
// file records dataset t's schema version.
func (w *Writer) writeParquet(ctx context.Context, s *session, t *whTable, dir, name, query, fp string) error {
	tmp, err := w.writeParquetTemp(ctx, s, t, dir, name, query, fp)
	if err != nil {
		return err
	}
	return publishTemp(tmp, name, fp)
}

// writeParquetTemp runs COPY (query) to dir/.name.tmp and syncs it; publishTemp renames it in.
func (w *Writer) writeParquetTemp(ctx context.Context, s *session, t *whTable, dir, name, query, fp string) (string, error) {
	if err := mkdirAll(dir); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	// Created here so it is 0600 from the first byte; DuckDB truncates it and keeps the mode.
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		return "", fmt.Errorf("write parquet %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", fmt.Errorf("write parquet %s: %w", tmp, err)
	}
	md := fmt.Sprintf("{'mcasload.schema_version': '%d'}", t.version)
	// ROW_GROUP_SIZE_BYTES caps what the Parquet writer buffers: 122,880 rows of ~3.4 KB
	// records would be 400 MB of raw before the first row group is flushed. The writer holds a
	// row group's bytes and then a buffer of their compressed column as large again, so the cap
	// follows DuckDB's memory limit: 32 MB row groups ran a 107 MiB limit out of memory when
	// Close compacted a crowded day.
	copyQ := fmt.Sprintf(`COPY (%s) TO %s (FORMAT PARQUET, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE %d, ROW_GROUP_SIZE_BYTES '%dB', KV_METADATA %s, USE_TMP_FILE false)`,
		query, quoteString(tmp), w.opts.RowGroupSize, parquetRowGroupBytes(w.opts.MemoryLimit), md)
	if err := s.exec(ctx, copyQ); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write parquet %s: %w", tmp, err)
	}
	if fp == "parquet" {
		failpoint.Hit("parquet-write")
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// publishTemp renames a synced temporary file to name in its folder and syncs the folder.
func publishTemp(tmp, name, fp string) error {
	failpoint.Hit(fp + "-before-rename")
	dir := filepath.Dir(tmp)
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("publish parquet %s: %w", final, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	failpoint.Hit(fp + "-after-rename")
	return nil
}

// publish writes the rows of commit seq of partition p of dataset t from the table or subquery
// src (which must have the dataset's columns) and marks the partition published.
func (w *Writer) publish(ctx context.Context, s *session, t *whTable, seq int64, p partition, src string) error {
	start := time.Now()
	defer func() {
		w.log.Debug("published", "table", t.name, "seq", seq, "partition", p, "took", time.Since(start))
	}()
	q := fmt.Sprintf(`SELECT %s FROM %s WHERE tenant = %s AND day = DATE '%s'`, t.columnList("", true), src, quoteString(p.tenant), p.day)
	if err := w.writeParquet(ctx, s, t, w.partDir(t, p), partName(seq, seq), q, "parquet"); err != nil {
		return err
	}
	return w.markPublished(ctx, s, seq, []pendingDay{{table: t, partition: p, seq: seq}})
}

// parquetWrite is one commit's Parquet files being written under temporary names by
// startParquet, on the writer's publishing connection, while the commit's transaction runs.
type parquetWrite struct {
	table  *whTable
	seq    int64
	tenant string
	days   []string
	temps  []string // dir/.name.tmp per day, in days order, as written
	done   chan struct{}
	err    error
	start  time.Time
}

// startParquet writes the new rows of commit seq, one temporary file per day, straight from the
// Arrow slices the commit inserts (no read back from DuckDB). The files become visible only in
// finishParquet, after the DuckDB commit: a crash before that leaves only *.tmp files, which
// reconciliation deletes, exactly as when the files were written after the commit.
func (w *Writer) startParquet(ctx context.Context, t *whTable, seq int64, label string, pl *plan) *parquetWrite {
	pw := &parquetWrite{table: t, seq: seq, tenant: label, days: pl.days, done: make(chan struct{}), start: time.Now()}
	s, err := w.publishSession(ctx)
	if err != nil {
		pw.err = err
		close(pw.done)
		return pw
	}
	go func() {
		defer close(pw.done)
		for _, day := range pl.days {
			d, err := time.Parse(time.DateOnly, day)
			if err != nil {
				pw.err = fmt.Errorf("publish day %q: %w", day, err)
				return
			}
			recs := slices.Clone(pl.byDay[arrow.Date32FromTime(d)])
			// The view holds exactly the published columns: DuckDB's Arrow scan crashes when a
			// projection skips a column of the stream, so day and tenant are dropped here, not
			// in SQL.
			for i, r := range recs {
				recs[i] = withoutPartition(t, r)
			}
			var tmp string
			err = withView(ctx, s, "publish_rows", t.fileRows, recs, func(view string) error {
				q := fmt.Sprintf(`SELECT %s FROM %s`, t.columnList("", true), view)
				tmp, err = w.writeParquetTemp(ctx, s, t, w.partDir(t, partition{label, day}), partName(seq, seq), q, "parquet")
				return err
			})
			for _, r := range recs {
				r.Release()
			}
			if err != nil {
				pw.err = err
				return
			}
			pw.temps = append(pw.temps, tmp)
		}
	}()
	return pw
}

// wait blocks until the files are written (or writing failed).
func (pw *parquetWrite) wait() {
	if pw != nil {
		<-pw.done
	}
}

// abort waits for the writing to end and removes its temporary files (the commit failed).
func (pw *parquetWrite) abort() {
	if pw == nil {
		return
	}
	pw.wait()
	for _, tmp := range pw.temps {
		os.Remove(tmp)
	}
	pw.temps = nil
}

// finishParquet renames the committed commit's files in and queues their days to leave
// pending in the next transaction.
func (w *Writer) finishParquet(pw *parquetWrite) error {
	pw.wait()
	defer func() { w.log.Debug("published", "seq", pw.seq, "days", len(pw.days), "took", time.Since(pw.start)) }()
	if pw.err != nil {
		pw.abort()
		return pw.err
	}
	for i, tmp := range pw.temps {
		if err := publishTemp(tmp, partName(pw.seq, pw.seq), "parquet"); err != nil {
			for _, t := range pw.temps[i:] {
				os.Remove(t)
			}
			return err
		}
		// The file is in; its pending row goes in the next commit's transaction (or at
		// Close), which saves a transaction and its checkpoint per commit. Until then a crash
		// leaves a pending day whose file exists, which reconciliation marks at the next start.
		w.published = append(w.published, pendingDay{table: pw.table, partition: partition{pw.tenant, pw.days[i]}, seq: pw.seq})
	}
	pw.temps = nil
	return nil
}

// withoutPartition returns r's columns without the partition columns (day, tenant), which the
// Parquet files take from their folder names, sharing its buffers: a row of t.fileRows.
func withoutPartition(t *whTable, r arrow.RecordBatch) arrow.RecordBatch {
	cols := make([]arrow.Array, 0, t.fileRows.NumFields())
	for i, c := range r.Columns() {
		if !isPartitionColumn(r.Schema().Field(i).Name) {
			cols = append(cols, c)
		}
	}
	return array.NewRecordBatch(t.fileRows, cols, r.NumRows())
}

func (w *Writer) markPublished(ctx context.Context, s *session, seq int64, parts []pendingDay) error {
	return inTx(ctx, s, func() error { return w.deletePending(ctx, s, parts) })
}

// deletePending removes the (tenant, day, commit) triples from their dataset's pending table
// (and, with --sink parquet, their staging rows), inside the caller's transaction.
func (w *Writer) deletePending(ctx context.Context, s *session, parts []pendingDay) error {
	for _, p := range parts {
		if err := s.exec(ctx, `DELETE FROM wh.`+p.table.pending+` WHERE seq = ? AND tenant = ? AND day = ?::DATE`, p.seq, p.tenant, p.day); err != nil {
			return fmt.Errorf("mark published: %w", err)
		}
		if !w.opts.Sinks.duckdb() {
			if err := s.exec(ctx, `DELETE FROM wh.`+p.table.staging+` WHERE seq = ? AND tenant = ? AND day = ?::DATE`, p.seq, p.tenant, p.day); err != nil {
				return fmt.Errorf("drop published staging rows: %w", err)
			}
		}
	}
	return nil
}

// markDeferred marks the days Commit published but left pending (see publishPlan).
func (w *Writer) markDeferred(ctx context.Context, s *session) error {
	if len(w.published) == 0 {
		return nil
	}
	err := inTx(ctx, s, func() error { return w.deleteDeferred(ctx, s) })
	if err == nil {
		w.published = nil
	}
	return err
}

func (w *Writer) deleteDeferred(ctx context.Context, s *session) error {
	return w.deletePending(ctx, s, w.published)
}

// committedSource is the subquery that yields the rows of commit seq of dataset t from DuckDB,
// for republishing after a crash.
func (w *Writer) committedSource(t *whTable, seq int64) string {
	if w.opts.Sinks.duckdb() {
		return fmt.Sprintf(`(SELECT a.* FROM wh.%s a SEMI JOIN (SELECT tenant, id FROM wh.%s WHERE seq = %d) i ON a.tenant = i.tenant AND (%s) = i.id)`,
			t.name, t.index, seq, t.keySQL("a."))
	}
	return fmt.Sprintf(`(SELECT * FROM wh.%s WHERE seq = %d)`, t.staging, seq)
}

// pendingDay is one partition of a dataset's commit committed but not yet published.
type pendingDay struct {
	table *whTable
	partition
	seq int64
}

func pendingDays(ctx context.Context, s *session, t *whTable) ([]pendingDay, error) {
	rows, err := s.conn.QueryContext(ctx, `SELECT tenant, strftime(day, '%Y-%m-%d'), seq FROM wh.`+t.pending+` ORDER BY seq, tenant, day`)
	if err != nil {
		return nil, fmt.Errorf("list pending days: %w", err)
	}
	defer rows.Close()
	var out []pendingDay
	for rows.Next() {
		p := pendingDay{table: t}
		if err := rows.Scan(&p.tenant, &p.day, &p.seq); err != nil {
			return nil, fmt.Errorf("list pending days: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// publishPending publishes every (day, commit) still pending, of every dataset.
func (w *Writer) publishPending(ctx context.Context, s *session) error {
	for _, t := range datasets {
		if err := w.publishPendingOf(ctx, s, t); err != nil {
			return err
		}
	}
	return nil
}

// publishPendingOf publishes every (day, commit) of dataset t still pending. A day whose file
// already exists (the process died after the rename, before the mark) is only marked.
func (w *Writer) publishPendingOf(ctx context.Context, s *session, t *whTable) error {
	pending, err := pendingDays(ctx, s, t)
	if err != nil || len(pending) == 0 {
		return err
	}
	parts, _, _, err := listParts(filepath.Join(w.dir, t.parquetDir), w.legacyTenant)
	if err != nil {
		return err
	}
	for _, p := range pending {
		covered := slices.ContainsFunc(parts, func(f partFile) bool { return f.partition == p.partition && f.covers(p.seq) })
		if covered {
			w.log.Info("parquet file already published; marking it", "table", t.name, "tenant", p.tenant, "day", p.day, "seq", p.seq)
			if err := w.markPublished(ctx, s, p.seq, []pendingDay{p}); err != nil {
				return err
			}
			continue
		}
		w.log.Info("publishing committed rows to parquet", "table", t.name, "tenant", p.tenant, "day", p.day, "seq", p.seq)
		if err := w.publish(ctx, s, t, p.seq, p.partition, w.committedSource(t, p.seq)); err != nil {
			return err
		}
	}
	return nil
}

// parquetRowGroupBytes is the most a Parquet row group written within DuckDB's memory limit
// holds: an eighth of the limit, between 4 MB and 32 MB.
func parquetRowGroupBytes(limit string) int64 {
	mem, err := budget.Parse(limit)
	if err != nil {
		return 32 << 20
	}
	return min(max(mem/8, 4<<20), 32<<20)
}
