package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/schema"
)

// partFile is a published Parquet file of one day. Its name records the range of commit
// sequence numbers whose rows it holds: a commit publishes part-S-S; compaction merges a run of
// files into part-FROM-TO. The names make publishing idempotent (a republished commit gets the
// same name) and let reconciliation delete parts a compacted file already covers.
type partFile struct {
	day      string
	from, to int64
	path     string
	size     int64
}

var partRE = regexp.MustCompile(`^part-([0-9]+)-([0-9]+)\.parquet$`)

func partName(from, to int64) string { return fmt.Sprintf("part-%012d-%012d.parquet", from, to) }

func (w *Writer) dayDir(day string) string {
	return filepath.Join(w.dir, ParquetDir, "day="+day)
}

func (p partFile) covers(seq int64) bool { return p.from <= seq && seq <= p.to }

// listParts lists the published files of every day (or only of days, when given), sorted by
// day and range. Temporary files and unknown names are returned separately.
func listParts(root string) (parts []partFile, temps, unknown []string, err error) {
	days, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list parquet days: %w", err)
	}
	for _, d := range days {
		day, ok := strings.CutPrefix(d.Name(), "day=")
		if !d.IsDir() || !ok {
			unknown = append(unknown, filepath.Join(root, d.Name()))
			continue
		}
		dir := filepath.Join(root, d.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("list parquet day %s: %w", day, err)
		}
		for _, f := range files {
			path := filepath.Join(dir, f.Name())
			if strings.HasSuffix(f.Name(), ".tmp") {
				temps = append(temps, path)
				continue
			}
			m := partRE.FindStringSubmatch(f.Name())
			if m == nil {
				unknown = append(unknown, path)
				continue
			}
			from, _ := strconv.ParseInt(m[1], 10, 64)
			to, _ := strconv.ParseInt(m[2], 10, 64)
			info, err := f.Info()
			if err != nil {
				return nil, nil, nil, fmt.Errorf("stat %s: %w", path, err)
			}
			parts = append(parts, partFile{day: day, from: from, to: to, path: path, size: info.Size()})
		}
	}
	slices.SortFunc(parts, func(a, b partFile) int {
		if c := strings.Compare(a.day, b.day); c != 0 {
			return c
		}
		if a.from != b.from {
			return int(a.from - b.from)
		}
		return int(b.to - a.to)
	})
	return parts, temps, unknown, nil
}

// writeParquet runs COPY (query) to a temporary file in dir, syncs it and renames it to name,
// then syncs the folder: readers see the whole file or nothing. fp prefixes the failpoints.
func (w *Writer) writeParquet(ctx context.Context, s *session, dir, name, query, fp string) error {
	tmp, err := w.writeParquetTemp(ctx, s, dir, name, query, fp)
	if err != nil {
		return err
	}
	return publishTemp(tmp, name, fp)
}

// writeParquetTemp runs COPY (query) to dir/.name.tmp and syncs it; publishTemp renames it in.
func (w *Writer) writeParquetTemp(ctx context.Context, s *session, dir, name, query, fp string) (string, error) {
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
	md := fmt.Sprintf("{'mcasload.schema_version': '%d'}", schema.Version)
	// ROW_GROUP_SIZE_BYTES caps what the Parquet writer buffers: 122,880 rows of ~3.4 KB
	// records would be 400 MB of raw before the first row group is flushed.
	copyQ := fmt.Sprintf(`COPY (%s) TO %s (FORMAT PARQUET, COMPRESSION zstd, ROW_GROUP_SIZE %d, ROW_GROUP_SIZE_BYTES '32MB', KV_METADATA %s, USE_TMP_FILE false)`,
		query, quoteString(tmp), w.opts.RowGroupSize, md)
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

// publish writes the rows of commit seq for each day from the table or subquery src (which must
// have the schema's columns and a day column) and marks those days published.
func (w *Writer) publish(ctx context.Context, s *session, seq int64, days []string, src string) error {
	start := time.Now()
	defer func() { w.log.Debug("published", "seq", seq, "days", len(days), "took", time.Since(start)) }()
	for _, day := range days {
		q := fmt.Sprintf(`SELECT %s FROM %s WHERE day = DATE '%s'`, columnList("", true), src, day)
		if err := w.writeParquet(ctx, s, w.dayDir(day), partName(seq, seq), q, "parquet"); err != nil {
			return err
		}
	}
	return w.markPublished(ctx, s, seq, days)
}

// parquetWrite is one commit's Parquet files being written under temporary names by
// startParquet, on the writer's publishing connection, while the commit's transaction runs.
type parquetWrite struct {
	seq   int64
	days  []string
	temps []string // dir/.name.tmp per day, in days order, as written
	done  chan struct{}
	err   error
	start time.Time
}

// startParquet writes the new rows of commit seq, one temporary file per day, straight from the
// Arrow slices the commit inserts (no read back from DuckDB). The files become visible only in
// finishParquet, after the DuckDB commit: a crash before that leaves only *.tmp files, which
// reconciliation deletes, exactly as when the files were written after the commit.
func (w *Writer) startParquet(ctx context.Context, seq int64, pl *plan) *parquetWrite {
	pw := &parquetWrite{seq: seq, days: pl.days, done: make(chan struct{}), start: time.Now()}
	s, err := w.publishSession(ctx)
	if err != nil {
		pw.err = err
		close(pw.done)
		return pw
	}
	go func() {
		defer close(pw.done)
		for _, day := range pl.days {
			t, err := time.Parse(time.DateOnly, day)
			if err != nil {
				pw.err = fmt.Errorf("publish day %q: %w", day, err)
				return
			}
			recs := slices.Clone(pl.byDay[arrow.Date32FromTime(t)])
			// The view holds exactly the published columns: DuckDB's Arrow scan crashes when a
			// projection skips a column of the stream, so day is dropped here, not in SQL.
			for i, r := range recs {
				recs[i] = withoutDay(r)
			}
			var tmp string
			err = withView(ctx, s, "publish_rows", publishSchema, recs, func(view string) error {
				q := fmt.Sprintf(`SELECT %s FROM %s`, columnList("", true), view)
				tmp, err = w.writeParquetTemp(ctx, s, w.dayDir(day), partName(seq, seq), q, "parquet")
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
		w.published = append(w.published, pendingDay{day: pw.days[i], seq: pw.seq})
	}
	pw.temps = nil
	return nil
}

// publishSchema is schema.Activities without day, which the Parquet files take from their
// folder name.
var publishSchema = func() *arrow.Schema {
	var fields []arrow.Field
	for _, f := range schema.Activities.Fields() {
		if f.Name != "day" {
			fields = append(fields, f)
		}
	}
	md := schema.Activities.Metadata()
	return arrow.NewSchema(fields, &md)
}()

// withoutDay returns r's columns without day, sharing its buffers.
func withoutDay(r arrow.RecordBatch) arrow.RecordBatch {
	cols := make([]arrow.Array, 0, r.NumCols()-1)
	for i, c := range r.Columns() {
		if i != colDay {
			cols = append(cols, c)
		}
	}
	return array.NewRecordBatch(publishSchema, cols, r.NumRows())
}

func (w *Writer) markPublished(ctx context.Context, s *session, seq int64, days []string) error {
	return inTx(ctx, s, func() error { return w.deletePending(ctx, s, seq, days) })
}

// deletePending removes the (day, commit) pairs from pending (and, with --sink parquet, their
// staging rows), inside the caller's transaction.
func (w *Writer) deletePending(ctx context.Context, s *session, seq int64, days []string) error {
	for _, day := range days {
		if err := s.exec(ctx, `DELETE FROM wh.pending WHERE seq = ? AND day = ?::DATE`, seq, day); err != nil {
			return fmt.Errorf("mark published: %w", err)
		}
		if !w.opts.Sinks.duckdb() {
			if err := s.exec(ctx, `DELETE FROM wh.staging WHERE seq = ? AND day = ?::DATE`, seq, day); err != nil {
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
	for _, p := range w.published {
		if err := w.deletePending(ctx, s, p.seq, []string{p.day}); err != nil {
			return err
		}
	}
	return nil
}

// committedSource is the subquery that yields the rows of commit seq from DuckDB, for
// republishing after a crash.
func (w *Writer) committedSource(seq int64) string {
	if w.opts.Sinks.duckdb() {
		return fmt.Sprintf(`(SELECT * FROM wh.activities WHERE id IN (SELECT id FROM wh.activity_ids WHERE seq = %d))`, seq)
	}
	return fmt.Sprintf(`(SELECT * FROM wh.staging WHERE seq = %d)`, seq)
}

type pendingDay struct {
	day string
	seq int64
}

func pendingDays(ctx context.Context, s *session) ([]pendingDay, error) {
	rows, err := s.conn.QueryContext(ctx, `SELECT strftime(day, '%Y-%m-%d'), seq FROM wh.pending ORDER BY seq, day`)
	if err != nil {
		return nil, fmt.Errorf("list pending days: %w", err)
	}
	defer rows.Close()
	var out []pendingDay
	for rows.Next() {
		var p pendingDay
		if err := rows.Scan(&p.day, &p.seq); err != nil {
			return nil, fmt.Errorf("list pending days: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// publishPending publishes every (day, commit) still pending. A day whose file already exists
// (the process died after the rename, before the mark) is only marked.
func (w *Writer) publishPending(ctx context.Context, s *session) error {
	pending, err := pendingDays(ctx, s)
	if err != nil || len(pending) == 0 {
		return err
	}
	parts, _, _, err := listParts(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return err
	}
	for _, p := range pending {
		covered := slices.ContainsFunc(parts, func(f partFile) bool { return f.day == p.day && f.covers(p.seq) })
		if covered {
			w.log.Info("parquet file already published; marking it", "day", p.day, "seq", p.seq)
			if err := w.markPublished(ctx, s, p.seq, []string{p.day}); err != nil {
				return err
			}
			continue
		}
		w.log.Info("publishing committed rows to parquet", "day", p.day, "seq", p.seq)
		if err := w.publish(ctx, s, p.seq, []string{p.day}, w.committedSource(p.seq)); err != nil {
			return err
		}
	}
	return nil
}

// reconcile makes the Parquet dataset hold exactly the committed rows: it removes temporary
// files and files beyond the last commit, removes parts a compacted file covers (a compaction
// that died before deleting them), publishes pending days and rewrites the last run's rejects.
func (w *Writer) reconcile(ctx context.Context, s *session) error {
	if w.opts.Sinks.parquet() {
		if err := w.removeOrphans(ctx, s); err != nil {
			return fmt.Errorf("reconcile parquet: %w", err)
		}
		failpoint.Hit("reconcile")
		if err := w.publishPending(ctx, s); err != nil {
			return fmt.Errorf("reconcile parquet: %w", err)
		}
	}
	runs, err := queryStrings(ctx, s.conn, `SELECT run_id FROM wh.rejected_activities GROUP BY run_id ORDER BY max("at") DESC LIMIT 1`)
	if err != nil {
		return fmt.Errorf("reconcile rejects: %w", err)
	}
	for _, r := range runs {
		if err := w.writeRejectedFile(ctx, s, r); err != nil {
			return fmt.Errorf("reconcile rejects: %w", err)
		}
	}
	return nil
}

func (w *Writer) removeOrphans(ctx context.Context, s *session) error {
	var maxSeq int64
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM wh.commits`).Scan(&maxSeq); err != nil {
		return fmt.Errorf("read last commit: %w", err)
	}
	parts, temps, unknown, err := listParts(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return err
	}
	dirty := map[string]bool{}
	remove := func(path, why string) error {
		w.log.Warn("removing parquet file: "+why, "path", path)
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		dirty[filepath.Dir(path)] = true
		return nil
	}
	for _, t := range temps {
		if err := remove(t, "temporary file of an interrupted write"); err != nil {
			return err
		}
	}
	for _, u := range unknown {
		w.log.Warn("unknown file in the parquet dataset; mcasload verify counts it, remove it by hand", "path", u)
	}
	var kept []partFile
	for _, p := range parts {
		if p.to > maxSeq {
			if err := remove(p.path, "no committed state backs it"); err != nil {
				return err
			}
			continue
		}
		kept = append(kept, p)
	}
	for i, p := range kept {
		covered := slices.ContainsFunc(kept, func(o partFile) bool {
			return o.day == p.day && o.path != p.path && o.from <= p.from && p.to <= o.to &&
				(o.from != p.from || o.to != p.to || o.path < p.path)
		})
		if covered {
			if err := remove(kept[i].path, "a compacted file already holds its rows"); err != nil {
				return err
			}
		}
	}
	for d := range dirty {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// CompactOptions choose what Compact merges.
type CompactOptions struct {
	Days        []string // YYYY-MM-DD; empty means every day with at least MinFiles files
	TargetBytes int64    // merge files until the output would pass this size (default 512 MB)
	MinFiles    int      // compact a day only if it has at least this many files (default 2)
}

// CompactResult counts what Compact did.
type CompactResult struct {
	Days        int // days compacted
	FilesBefore int
	FilesAfter  int
}

// Compact merges each day's Parquet files into few files of about TargetBytes, atomically: the
// merged file is renamed in before its inputs are deleted, and its name records the commits it
// covers, so an interruption leaves either the inputs or a file reconciliation can finish.
func (w *Writer) Compact(ctx context.Context, opts CompactOptions) (CompactResult, error) {
	var res CompactResult
	if !w.opts.Sinks.parquet() {
		return res, nil
	}
	if opts.MinFiles < 2 {
		opts.MinFiles = 2
	}
	s, err := w.session(ctx)
	if err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	if err := w.publishPending(ctx, s); err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	days := opts.Days
	if len(days) == 0 {
		days, err = w.daysWithFiles(func(n int) bool { return n >= opts.MinFiles })
		if err != nil {
			return res, fmt.Errorf("compact: %w", err)
		}
	}
	for _, d := range days {
		r, err := w.compactDay(ctx, s, d, opts)
		if err != nil {
			return res, fmt.Errorf("compact: %w", err)
		}
		if r.FilesBefore != r.FilesAfter {
			res.Days++
		}
		res.FilesBefore += r.FilesBefore
		res.FilesAfter += r.FilesAfter
	}
	return res, nil
}

func (w *Writer) daysWithFiles(keep func(n int) bool) ([]string, error) {
	parts, _, _, err := listParts(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	for _, p := range parts {
		count[p.day]++
	}
	var days []string
	for d, n := range count {
		if keep(n) {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	return days, nil
}

func (w *Writer) compactDay(ctx context.Context, s *session, day string, opts CompactOptions) (CompactResult, error) {
	start := time.Now()
	if opts.TargetBytes <= 0 {
		opts.TargetBytes = 512 << 20
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return CompactResult{}, fmt.Errorf("compact day %q: use YYYY-MM-DD", day)
	}
	all, _, _, err := listParts(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return CompactResult{}, err
	}
	var parts []partFile
	for _, p := range all {
		if p.day == day {
			parts = append(parts, p)
		}
	}
	res := CompactResult{FilesBefore: len(parts)}
	var groups [][]partFile
	var cur []partFile
	var size int64
	for _, p := range parts {
		if len(cur) > 0 && size+p.size > opts.TargetBytes {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		cur = append(cur, p)
		size += p.size
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	for _, g := range groups {
		res.FilesAfter++
		if len(g) < 2 {
			continue
		}
		paths := make([]string, len(g))
		for i, p := range g {
			paths[i] = quoteString(p.path)
		}
		// Parts may predate schema version 2 (no parameters): see anyVersionScan.
		// No ORDER BY: sorting a day (160k rows, 550 MB of raw at 5M) took most of a 1 GB
		// memory limit; streaming the parts keeps a compaction to a row group at a time.
		q := anyVersionScan("["+strings.Join(paths, ", ")+"]", false)
		name := partName(g[0].from, g[len(g)-1].to)
		if err := w.writeParquet(ctx, s, w.dayDir(day), name, q, "compact"); err != nil {
			return res, err
		}
		for _, p := range g {
			if filepath.Base(p.path) == name {
				continue // replaced by the merged file (only if reconciliation was skipped)
			}
			if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return res, fmt.Errorf("remove compacted %s: %w", p.path, err)
			}
		}
		if err := syncDir(w.dayDir(day)); err != nil {
			return res, err
		}
	}
	w.log.Info("compacted parquet day", "day", day, "files_before", res.FilesBefore, "files_after", res.FilesAfter, "took", time.Since(start))
	return res, nil
}

func syncFile(path string) error {
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func rejectedPath(dir, runID string) string {
	return filepath.Join(dir, RejectedDir, unsafeName.ReplaceAllString(runID, "_")+".ndjson")
}
