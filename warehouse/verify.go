package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
)

// DayCheck compares one UTC day across the sinks.
type DayCheck struct {
	Day               string
	DuckDB            int64 // rows in DuckDB (activities, or the dedupe index with --sink parquet)
	Parquet           int64 // rows in the day's Parquet folder
	MissingInParquet  int64 // ids in DuckDB but not in the day's Parquet folder
	MissingInDuckDB   int64 // ids in the day's Parquet folder but not in DuckDB
	DuplicatesDuckDB  int64 // rows beyond the first of an id
	DuplicatesParquet int64
	OutsideDay        int64 // Parquet rows whose ts falls on another UTC day than their folder
	IndexMismatch     int64 // ids in activities but not in the dedupe index, or the reverse
	RawMismatch       int64 // rows whose raw differs from the one the dedupe index recorded
}

// OK reports whether the day is consistent.
func (d DayCheck) OK() bool {
	return d.MissingInParquet == 0 && d.MissingInDuckDB == 0 && d.DuplicatesDuckDB == 0 &&
		d.DuplicatesParquet == 0 && d.OutsideDay == 0 && d.IndexMismatch == 0 && d.RawMismatch == 0
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Days         []DayCheck // every day present in either sink
	UnknownFiles []string   // files in the Parquet tree that mcasload did not write
	DamagedFiles []string   // Parquet files that are not valid Parquet (truncated, overwritten); not read
	Pending      int        // (day, commit) pairs not yet published; excluded from the check
}

// OK reports whether every day is consistent and nothing unknown lies in the dataset.
func (r *VerifyReport) OK() bool {
	for _, d := range r.Days {
		if !d.OK() {
			return false
		}
	}
	return len(r.UnknownFiles) == 0 && len(r.DamagedFiles) == 0
}

// Problems lists the inconsistencies, one line each, for people.
func (r *VerifyReport) Problems() []string {
	var out []string
	for _, d := range r.Days {
		if d.OK() {
			continue
		}
		out = append(out, fmt.Sprintf("%s: duckdb %d rows, parquet %d rows; missing in parquet %d, missing in duckdb %d, duplicates duckdb %d parquet %d, outside their day %d, index mismatch %d, raw mismatch %d",
			d.Day, d.DuckDB, d.Parquet, d.MissingInParquet, d.MissingInDuckDB, d.DuplicatesDuckDB, d.DuplicatesParquet, d.OutsideDay, d.IndexMismatch, d.RawMismatch))
	}
	for _, f := range r.DamagedFiles {
		out = append(out, "damaged file in the parquet dataset (not valid parquet): "+f)
	}
	for _, f := range r.UnknownFiles {
		out = append(out, "unknown file in the parquet dataset: "+f)
	}
	return out
}

// Verify compares DuckDB and Parquet day by day: counts, ids, duplicates, rows outside their
// day folder, the dedupe index against the activities table, and each row's raw against the
// hash the index recorded when it was stored. It changes nothing.
func (w *Writer) Verify(ctx context.Context) (*VerifyReport, error) {
	s, err := w.session(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	rep, err := w.verify(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return rep, nil
}

func (w *Writer) verify(ctx context.Context, s *session) (*VerifyReport, error) {
	rep := &VerifyReport{}
	pending, err := pendingDays(ctx, s)
	if err != nil {
		return nil, err
	}
	rep.Pending = len(pending)
	_, _, unknown, err := listParts(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return nil, err
	}
	rep.UnknownFiles = unknown
	good, damaged, err := splitParquetFiles(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return nil, err
	}
	rep.DamagedFiles = damaged
	sinks := w.opts.Sinks
	// d: what DuckDB says is stored (and published, when comparing with Parquet).
	dSrc := `SELECT id, day, rawsum FROM wh.activity_ids`
	if sinks.duckdb() {
		dSrc = `SELECT id, day, md5_number_lower(raw) AS rawsum FROM wh.activities`
	}
	if sinks.parquet() {
		dSrc = `SELECT id, day, rawsum FROM (` + dSrc + `) x WHERE id NOT IN (SELECT i.id FROM wh.activity_ids i JOIN wh.pending p ON p.seq = i.seq AND p.day = i.day)`
	}
	pSrc := `SELECT NULL::VARCHAR AS id, NULL::DATE AS day, NULL::TIMESTAMPTZ AS ts, NULL::UBIGINT AS rawsum WHERE false`
	if sinks.parquet() && len(good) > 0 {
		// Damaged files are reported above and left out, so the rest is still compared.
		pSrc = fmt.Sprintf(`SELECT id, day, ts, md5_number_lower(raw) AS rawsum FROM read_parquet(%s, hive_partitioning = true, hive_types = {'day': DATE})`,
			fileList(good))
	}
	iSrc := `SELECT id, day, rawsum FROM wh.activity_ids`
	if !sinks.duckdb() {
		iSrc = dSrc // the index is the DuckDB side; nothing to compare it with
	}
	setup := []string{
		`CREATE OR REPLACE TEMP TABLE v_d AS ` + dSrc,
		`CREATE OR REPLACE TEMP TABLE v_p AS ` + pSrc,
		`CREATE OR REPLACE TEMP TABLE v_i AS ` + iSrc,
	}
	for _, q := range setup {
		if err := s.exec(ctx, q); err != nil {
			return nil, fmt.Errorf("read sinks: %w", err)
		}
	}
	compareParquet := sinks.parquet()
	q := `
	WITH days AS (SELECT day FROM temp.v_d UNION SELECT day FROM temp.v_p UNION SELECT day FROM temp.v_i),
	dd AS (SELECT day, count(*) n, count(*) - count(DISTINCT id) dup FROM temp.v_d GROUP BY day),
	pp AS (SELECT day, count(*) n, count(*) - count(DISTINCT id) dup,
	              count(*) FILTER (WHERE CAST(ts AS DATE) <> day) outside FROM temp.v_p GROUP BY day),
	mp AS (SELECT day, count(*) n FROM (SELECT DISTINCT id, day FROM temp.v_d) x
	       WHERE NOT EXISTS (SELECT 1 FROM temp.v_p p WHERE p.id = x.id AND p.day = x.day) GROUP BY day),
	md AS (SELECT day, count(*) n FROM (SELECT DISTINCT id, day FROM temp.v_p) x
	       WHERE NOT EXISTS (SELECT 1 FROM temp.v_d d WHERE d.id = x.id AND d.day = x.day) GROUP BY day),
	im AS (SELECT day, count(*) n FROM (
	         (SELECT id, day FROM temp.v_i EXCEPT SELECT id, day FROM temp.v_d)
	         UNION ALL (SELECT id, day FROM temp.v_d EXCEPT SELECT id, day FROM temp.v_i)) GROUP BY day),
	rm AS (SELECT day, count(*) n FROM (
	         SELECT x.day FROM temp.v_d x JOIN temp.v_i i ON i.id = x.id WHERE x.rawsum <> i.rawsum
	         UNION ALL SELECT x.day FROM temp.v_p x JOIN temp.v_i i ON i.id = x.id WHERE x.rawsum <> i.rawsum) GROUP BY day)
	SELECT strftime(days.day, '%Y-%m-%d'), coalesce(dd.n, 0), coalesce(pp.n, 0), coalesce(mp.n, 0), coalesce(md.n, 0),
	       coalesce(dd.dup, 0), coalesce(pp.dup, 0), coalesce(pp.outside, 0), coalesce(im.n, 0), coalesce(rm.n, 0)
	FROM days LEFT JOIN dd USING (day) LEFT JOIN pp USING (day) LEFT JOIN mp USING (day)
	     LEFT JOIN md USING (day) LEFT JOIN im USING (day) LEFT JOIN rm USING (day)
	ORDER BY days.day`
	err = scanRows(ctx, s.conn, q, func(r *sql.Rows) error {
		var d DayCheck
		if err := r.Scan(&d.Day, &d.DuckDB, &d.Parquet, &d.MissingInParquet, &d.MissingInDuckDB,
			&d.DuplicatesDuckDB, &d.DuplicatesParquet, &d.OutsideDay, &d.IndexMismatch, &d.RawMismatch); err != nil {
			return err
		}
		if !compareParquet {
			d.MissingInParquet = 0
		}
		rep.Days = append(rep.Days, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("compare sinks: %w", err)
	}
	for _, t := range []string{"v_d", "v_p", "v_i"} {
		_ = s.exec(ctx, `DROP TABLE temp.`+t)
	}
	return rep, nil
}

// Repair rebuilds one sink from the other. from is the sink that is right: SinkDuckDB rewrites
// every Parquet day from the activities table (one file per day); SinkParquet replaces the
// activities table (each id once) with the Parquet rows. First, damaged Parquet files and files
// the warehouse did not write are moved to the quarantine folder (QuarantineDir). Either way the dedupe index is rebuilt
// to match, so a later load brings back whatever the repair could not.
func (w *Writer) Repair(ctx context.Context, from Sinks) error {
	if from != SinkDuckDB && from != SinkParquet {
		return fmt.Errorf("repair: rebuild from duckdb or parquet, not %q", from)
	}
	if from == SinkDuckDB && w.opts.Sinks != SinkBoth {
		return fmt.Errorf("repair: the warehouse keeps --sink %s; rebuilding from duckdb needs both sinks", w.opts.Sinks)
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
	if from == SinkDuckDB {
		err = w.repairParquet(ctx, s)
	} else {
		err = w.repairDuckDB(ctx, s)
	}
	if err != nil {
		return fmt.Errorf("repair from %s: %w", from, err)
	}
	w.log.Info("repaired warehouse", "from", from)
	return nil
}

func (w *Writer) repairParquet(ctx context.Context, s *session) error {
	// Files the warehouse did not write and damaged files would keep the sinks apart; they are
	// moved aside, never deleted, and their days rewritten below like every other.
	if err := w.quarantineParquet(); err != nil {
		return err
	}
	if err := rebuildIndex(ctx, s, `SELECT id, day, raw FROM wh.activities`); err != nil {
		return err
	}
	var maxSeq int64
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM wh.commits`).Scan(&maxSeq); err != nil {
		return err
	}
	days, err := queryStrings(ctx, s.conn, `SELECT DISTINCT strftime(day, '%Y-%m-%d') AS d FROM wh.activities ORDER BY d`)
	if err != nil {
		return err
	}
	for _, day := range days {
		// part-0-<last> covers every commit so far: reconciliation deletes the older parts
		// even if this process dies before it does.
		q := fmt.Sprintf(`SELECT %s FROM wh.activities WHERE day = DATE '%s' ORDER BY ts, id`, columnList("", true), day)
		if err := w.writeParquet(ctx, s, w.dayDir(day), partName(0, maxSeq), q, "repair"); err != nil {
			return err
		}
	}
	parts, _, _, err := listParts(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return err
	}
	for _, p := range parts {
		keep := p.from == 0 && p.to == maxSeq && containsString(days, p.day)
		if !keep {
			if err := os.Remove(p.path); err != nil {
				return fmt.Errorf("remove %s: %w", p.path, err)
			}
		}
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (w *Writer) repairDuckDB(ctx context.Context, s *session) error {
	if err := w.quarantineParquet(); err != nil {
		return err
	}
	if !hasParquet(w.dir) {
		return fmt.Errorf("read parquet: no parquet files in %s", filepath.Join(w.dir, ParquetDir))
	}
	scan := parquetScan(filepath.Join(w.dir, ParquetDir))
	if err := s.exec(ctx, `CREATE OR REPLACE TEMP TABLE repair_rows AS SELECT * FROM (`+scan+`) QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts, raw) = 1`); err != nil {
		return fmt.Errorf("read parquet: %w", err)
	}
	// One transaction replaces the rows and the index, so a crash leaves the old pair or the new.
	if err := s.exec(ctx, `CREATE OR REPLACE TEMP TABLE repair_src AS SELECT id, day, raw FROM temp.repair_rows`); err != nil {
		return fmt.Errorf("read parquet: %w", err)
	}
	err := inTx(ctx, s, func() error {
		if w.opts.Sinks.duckdb() {
			if err := s.exec(ctx, `DELETE FROM wh.activities`); err != nil {
				return err
			}
			if err := s.exec(ctx, `INSERT INTO wh.activities SELECT `+columnList("", false)+` FROM temp.repair_rows ORDER BY ts, id`); err != nil {
				return err
			}
		}
		return syncIndex(ctx, s)
	})
	if err != nil {
		return fmt.Errorf("replace activities: %w", err)
	}
	return nil
}

// rebuildIndex makes the dedupe index hold exactly the ids of src (columns id, day, raw): ids
// not in src are dropped, so they load again; ids missing from the index get commit 0.
func rebuildIndex(ctx context.Context, s *session, src string) error {
	if err := s.exec(ctx, `CREATE OR REPLACE TEMP TABLE repair_src AS `+src); err != nil {
		return fmt.Errorf("rebuild index: %w", err)
	}
	if err := inTx(ctx, s, func() error { return syncIndex(ctx, s) }); err != nil {
		return fmt.Errorf("rebuild index: %w", err)
	}
	return nil
}

// syncIndex makes wh.activity_ids match temp.repair_src, inside the caller's transaction.
func syncIndex(ctx context.Context, s *session) error {
	if err := s.exec(ctx, `DELETE FROM wh.activity_ids i WHERE NOT EXISTS
		(SELECT 1 FROM temp.repair_src r WHERE r.id = i.id AND r.day = i.day)`); err != nil {
		return err
	}
	return s.exec(ctx, `INSERT INTO wh.activity_ids SELECT md5_number_lower(id), id, day, md5_number_lower(raw), 0
		FROM temp.repair_src r WHERE NOT EXISTS (SELECT 1 FROM wh.activity_ids i WHERE i.id = r.id)`)
}
