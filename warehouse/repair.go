package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/mcasload/mcasload/internal/idindex"
	"github.com/mcasload/mcasload/tenant"
)

// Repair rebuilds one sink from the other. from is the sink that is right: SinkDuckDB rewrites
// every Parquet day from the activities table (one file per day); SinkParquet replaces the
// activities table (each id once) with the Parquet rows. First, damaged Parquet files and files
// the warehouse did not write are moved to the quarantine folder (QuarantineDir). Either way the dedupe index is rebuilt
// to match, so a later load brings back whatever the repair could not.
func (w *Writer) Repair(ctx context.Context, from Sinks) (err error) {
	defer markStorage(&err)
	if from != SinkDuckDB && from != SinkParquet {
		return fmt.Errorf("repair: rebuild from duckdb or parquet, not %q", from)
	}
	if from == SinkDuckDB && w.opts.Sinks != SinkBoth {
		return fmt.Errorf("repair: the warehouse keeps only the %s sink; rebuilding from duckdb needs both sinks", w.opts.Sinks)
	}
	s, err := w.session(ctx)
	if err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	if w.opts.Sinks.parquet() {
		if err := w.publishPending(ctx, s); err != nil {
			return fmt.Errorf("repair: %w", err)
		}
	}
	// The repair rewrites activity_ids outside a commit: the id set is rebuilt from it at the
	// next commit (removed first, so a crash during the repair cannot leave a stale one).
	if err := idindex.Remove(filepath.Join(w.dir, IDIndexDir)); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	if from == SinkDuckDB {
		for _, t := range datasets {
			if err = w.repairParquet(ctx, s, t); err != nil {
				break
			}
		}
	} else {
		err = w.repairDuckDB(ctx, s)
	}
	if err == nil && w.opts.Sinks.parquet() {
		// The findings follow the newer of the table and its snapshot, whichever side is rebuilt.
		err = w.restoreFindings(ctx, s)
	}
	if err != nil {
		return fmt.Errorf("repair from %s: %w", from, err)
	}
	w.log.Info("repaired warehouse", "from", from)
	return nil
}

// repairParquet rewrites every Parquet day of dataset t from its DuckDB table.
func (w *Writer) repairParquet(ctx context.Context, s *session, t *whTable) error {
	// Files the warehouse did not write and damaged files would keep the sinks apart; they are
	// moved aside, never deleted, and their days rewritten below like every other.
	if err := w.quarantineParquet(t); err != nil {
		return err
	}
	if err := rebuildIndex(ctx, s, t, `SELECT tenant, `+t.keySQL("")+` AS id, day, raw FROM wh.`+t.name); err != nil {
		return err
	}
	var maxSeq int64
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM wh.commits`).Scan(&maxSeq); err != nil {
		return err
	}
	var parts []partition
	err := scanRows(ctx, s.conn, `SELECT DISTINCT tenant, strftime(day, '%Y-%m-%d') AS d FROM wh.`+t.name+` ORDER BY tenant, d`, func(r *sql.Rows) error {
		var p partition
		err := r.Scan(&p.tenant, &p.day)
		parts = append(parts, p)
		return err
	})
	if err != nil {
		return err
	}
	for _, p := range parts {
		// part-0-<last> covers every commit so far: reconciliation deletes the older parts
		// even if this process dies before it does.
		q := fmt.Sprintf(`SELECT %s FROM wh.%s WHERE tenant = %s AND day = DATE '%s' ORDER BY ts, %s`, t.columnList("", true), t.name, quoteString(p.tenant), p.day, t.keySQL(""))
		if err := w.writeParquet(ctx, s, t, w.partDir(t, p), partName(0, maxSeq), q, "repair"); err != nil {
			return err
		}
	}
	files, _, _, err := listParts(filepath.Join(w.dir, t.parquetDir), w.legacyTenant)
	if err != nil {
		return err
	}
	for _, f := range files {
		keep := f.from == 0 && f.to == maxSeq && !f.legacy && slices.Contains(parts, f.partition)
		if !keep {
			if err := os.Remove(f.path); err != nil {
				return fmt.Errorf("remove %s: %w", f.path, err)
			}
		}
	}
	return nil
}

// repairDuckDB replaces every dataset's DuckDB rows (and index) with its Parquet rows.
func (w *Writer) repairDuckDB(ctx context.Context, s *session) error {
	repaired := 0
	for _, t := range datasets {
		ok, err := w.repairDuckDBOf(ctx, s, t)
		if err != nil {
			return err
		}
		if ok {
			repaired++
		}
	}
	if repaired == 0 {
		return fmt.Errorf("read parquet: no parquet files in %s", filepath.Join(w.dir, ParquetDir))
	}
	return nil
}

// repairDuckDBOf replaces dataset t's DuckDB rows (each key once) and index with its Parquet
// rows. A dataset without files is left alone when DuckDB holds none of its rows either (ok
// false), and refused when it does: an empty dataset is not a copy of them.
func (w *Writer) repairDuckDBOf(ctx context.Context, s *session, t *whTable) (ok bool, err error) {
	if err := w.quarantineParquet(t); err != nil {
		return false, err
	}
	root := filepath.Join(w.dir, t.parquetDir)
	layout, err := readLayout(root)
	if err != nil {
		return false, err
	}
	scan, ok, err := readDataset(ctx, s.conn, t, layout, w.legacyTenant, nil)
	if err != nil {
		return false, fmt.Errorf("read parquet: %w", err)
	}
	if !ok {
		var stored int64
		if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM wh.`+t.index).Scan(&stored); err != nil {
			return false, fmt.Errorf("count stored rows: %w", err)
		}
		if stored > 0 {
			return false, fmt.Errorf("read parquet: no parquet files in %s, and DuckDB holds %d %s rows", root, stored, t.name)
		}
		return false, nil
	}
	key := t.keySQL("")
	if err := s.exec(ctx, `CREATE OR REPLACE TEMP TABLE repair_rows AS SELECT * FROM (`+scan+`) QUALIFY row_number() OVER (PARTITION BY tenant, `+key+` ORDER BY ts, raw) = 1`); err != nil {
		return false, fmt.Errorf("read parquet: %w", err)
	}
	// One transaction replaces the rows and the index, so a crash leaves the old pair or the new.
	if err := s.exec(ctx, `CREATE OR REPLACE TEMP TABLE repair_src AS SELECT tenant, `+key+` AS id, day, raw FROM temp.repair_rows`); err != nil {
		return false, fmt.Errorf("read parquet: %w", err)
	}
	cols := t.columnList("", false)
	err = inTx(ctx, s, func() error {
		if w.opts.Sinks.duckdb() {
			if err := s.exec(ctx, `DELETE FROM wh.`+t.name); err != nil {
				return err
			}
			if t.name == activitiesTable.name {
				// every day's rows are replaced: the first times are built again
				if err := s.exec(ctx, `DELETE FROM wh.activity_firsts_days`); err != nil {
					return err
				}
			}
			if err := s.exec(ctx, `INSERT INTO wh.`+t.name+` (`+cols+`) SELECT `+cols+` FROM temp.repair_rows ORDER BY tenant, ts, `+key); err != nil {
				return err
			}
		}
		return syncIndex(ctx, s, t)
	})
	if err != nil {
		return false, fmt.Errorf("replace %s: %w", t.name, err)
	}
	return true, nil
}

// rebuildIndex makes dataset t's dedupe index hold exactly the ids of src (columns tenant, id,
// day, raw): ids not in src are dropped, so they load again; ids missing from the index get the
// last commit, the newest any row can be (detect takes a stream row of a later commit than its
// watermark for new: one it may not have seen is looked at again, never skipped).
func rebuildIndex(ctx context.Context, s *session, t *whTable, src string) error {
	if err := s.exec(ctx, `CREATE OR REPLACE TEMP TABLE repair_src AS `+src); err != nil {
		return fmt.Errorf("rebuild index: %w", err)
	}
	if err := inTx(ctx, s, func() error { return syncIndex(ctx, s, t) }); err != nil {
		return fmt.Errorf("rebuild index: %w", err)
	}
	return nil
}

// syncIndex makes dataset t's index match temp.repair_src, inside the caller's transaction, and
// records every tenant of the rows (a rebuilt file starts with an empty tenants table).
func syncIndex(ctx context.Context, s *session, t *whTable) error {
	if err := s.exec(ctx, `DELETE FROM wh.`+t.index+` i WHERE NOT EXISTS
		(SELECT 1 FROM temp.repair_src r WHERE r.tenant = i.tenant AND r.id = i.id AND r.day = i.day)`); err != nil {
		return err
	}
	if err := s.exec(ctx, `INSERT INTO wh.`+t.index+` (h, id, day, rawsum, seq, tenant)
		SELECT md5_number_lower(id), id, day, md5_number_lower(raw), (SELECT coalesce(max(seq), 0) FROM wh.commits), tenant
		FROM temp.repair_src r WHERE NOT EXISTS (SELECT 1 FROM wh.`+t.index+` i WHERE i.tenant = r.tenant AND i.id = r.id)`); err != nil {
		return err
	}
	return s.exec(ctx, `INSERT INTO wh.tenants SELECT DISTINCT tenant, NULL, now() FROM temp.repair_src ON CONFLICT (tenant) DO NOTHING`)
}

// RebuildDatabase builds a new DuckDB file for the warehouse in opts.Dir from its Parquet
// dataset, for a DuckDB file that is missing or damaged: the old file (and its WAL) is moved to
// the quarantine folder first. The new file records the last commit the Parquet part names
// cover, so opening it keeps every part; then the rows and the dedupe index are rebuilt as
// Repair(SinkParquet) does, and the scan watermarks and stream cursors come back from the state
// snapshot of the last Close (statesnapshot.go).
func RebuildDatabase(ctx context.Context, opts Options) (err error) {
	defer markStorage(&err)
	if err := opts.defaults(); err != nil {
		return err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return fmt.Errorf("rebuild duckdb: %w", err)
	}
	root := filepath.Join(dir, ParquetDir)
	// A rebuild that died while holding the datasets aside: put them back before anything else.
	restore := func() error {
		var errs []error
		for _, t := range datasets {
			errs = append(errs, restoreHeld(filepath.Join(dir, t.parquetDir), filepath.Join(dir, t.parquetDir+".rebuild")))
		}
		return errors.Join(errs...)
	}
	if err := restore(); err != nil {
		return err
	}
	maxSeq, err := lastPublishedCommit(dir)
	if err != nil {
		return err
	}
	if err := quarantineDatabase(dir, opts); err != nil {
		return err
	}
	// Opening a writer on a new file reconciles Parquet against it, and with no commit recorded
	// it would remove every part. The datasets are held aside while the file is created and told
	// the last commit; a crash in between leaves them in <dataset>.rebuild, which the next
	// rebuild moves back first.
	for _, t := range datasets {
		root := filepath.Join(dir, t.parquetDir)
		if _, err := os.Stat(root); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(root, filepath.Join(dir, t.parquetDir+".rebuild")); err != nil {
			return errors.Join(fmt.Errorf("rebuild duckdb: hold the parquet dataset aside: %w", err), restore())
		}
	}
	opts.Sinks = SinkBoth
	w, err := Open(ctx, opts)
	if err != nil {
		return errors.Join(fmt.Errorf("rebuild duckdb: %w", err), restore())
	}
	err = w.recordCommit(ctx, maxSeq)
	if rerr := restore(); err == nil {
		err = rerr
	}
	if err == nil {
		// Opened while the dataset was held aside, the writer found no file from before tenants
		// to move: move them now, or they would stay in the old layout.
		var parts []partFile
		if parts, _, _, err = listParts(root, w.legacyTenant); err == nil {
			err = w.migrateLayout(ctx, parts)
		}
	}
	if err == nil {
		err = w.Repair(ctx, SinkParquet)
	}
	if err == nil {
		err = w.restoreStateSnapshot(ctx, maxSeq)
	}
	if cerr := w.Close(context.WithoutCancel(ctx)); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rebuild duckdb: %w", err)
	}
	return nil
}

// restoreHeld moves the dataset a rebuild held aside (hold) back to root, if it is there. The
// root folder then holds at most the empty folders a writer created meanwhile.
func restoreHeld(root, hold string) error {
	if _, err := os.Stat(hold); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := removeEmptyTree(root); err != nil {
		return fmt.Errorf("rebuild duckdb: %s and %s both hold files; keep the right one as %s: %w", hold, root, root, err)
	}
	if err := os.Rename(hold, root); err != nil {
		return fmt.Errorf("rebuild duckdb: move %s back to %s: %w", hold, root, err)
	}
	return nil
}

// lastPublishedCommit is the last commit the Parquet part names of the datasets of the
// warehouse in dir cover.
func lastPublishedCommit(dir string) (int64, error) {
	var maxSeq int64
	n := 0
	for _, t := range datasets {
		parts, _, _, err := listParts(filepath.Join(dir, t.parquetDir), tenant.Default)
		if err != nil {
			return 0, fmt.Errorf("rebuild duckdb: %w", err)
		}
		n += len(parts)
		for _, p := range parts {
			maxSeq = max(maxSeq, p.to)
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("rebuild duckdb: no parquet files in %s to rebuild from", filepath.Join(dir, ParquetDir))
	}
	return maxSeq, nil
}

// quarantineDatabase moves the warehouse's DuckDB file and its WAL, when there, to the
// quarantine folder.
func quarantineDatabase(dir string, opts Options) error {
	var old []string
	for _, f := range []string{DatabaseFile, DatabaseFile + ".wal"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			old = append(old, filepath.Join(dir, f))
		}
	}
	q, err := quarantine(dir, opts.Clock.Now(), old)
	if err != nil {
		return fmt.Errorf("rebuild duckdb: %w", err)
	}
	if q != "" {
		opts.Logger.Warn("moved the damaged duckdb file to quarantine", "to", q)
	}
	return nil
}

// recordCommit records commit seq as done, covering no day, so the Parquet parts up to it stay.
func (w *Writer) recordCommit(ctx context.Context, seq int64) error {
	s, err := w.session(ctx)
	if err != nil {
		return err
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	if err := s.exec(ctx, `INSERT INTO wh.commits (seq, run_id, committed_at, inserted, duplicates, conflicts, rejected, days) VALUES (?, ?, ?, 0, 0, 0, 0, []::VARCHAR[])`, seq, "rebuild-from-parquet", w.opts.Clock.Now().UTC()); err != nil {
		return fmt.Errorf("record last commit: %w", err)
	}
	return nil
}

// removeEmptyTree removes root if it holds only folders (or nothing); it refuses to remove a file.
func removeEmptyTree(root string) error {
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(files) > 0 {
		return fmt.Errorf("%s is not empty: it holds %s", root, files[0])
	}
	return os.RemoveAll(root)
}
