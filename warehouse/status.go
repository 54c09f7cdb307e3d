package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// DayStatus is one UTC day of the warehouse.
type DayStatus struct {
	Day          string // YYYY-MM-DD
	DuckDBRows   int64  // ids stored for the day (the dedupe index)
	ParquetRows  int64
	ParquetFiles int
	ParquetBytes int64
	Pending      bool // rows committed but not yet published to Parquet
}

// RunStatus is one run of a writer, from the runs table.
type RunStatus struct {
	ID, Command, Source string
	Started, Finished   time.Time // Finished is zero for a run that did not call FinishRun
	Commits             int64
	Inserted            int64
	Duplicates          int64
	Conflicts           int64
	Rejected            int64
	Summary             string // the JSON summary given to FinishRun
}

// Status describes a warehouse for mcasload status.
type Status struct {
	Dir         string
	Source      string
	Sinks       Sinks
	DuckDBBytes int64
	Rows        int64
	Days        []DayStatus
	Runs        []RunStatus // the last 10, newest first
	PendingDays []string
	Rejects     map[string]int64 // by reason code (the part of the reason before ":")
}

// Status reports the warehouse as this writer sees it.
func (w *Writer) Status(ctx context.Context) (*Status, error) {
	s, err := w.session(ctx)
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	return readStatus(ctx, s.conn, w.dir)
}

// ReadStatus reports the warehouse in opts.Dir without taking the writer lock; it attaches the
// DuckDB file read-only, retrying for opts.LockWait while a writer commits.
func ReadStatus(ctx context.Context, opts ReaderOptions) (*Status, error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	if opts.LockWait == 0 {
		opts.LockWait = 5 * time.Second
	}
	file := filepath.Join(dir, DatabaseFile)
	if _, err := os.Stat(file); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read status %s: %w: %w", dir, ErrNoWarehouse, err)
		}
		return nil, fmt.Errorf("read status: %w", err)
	}
	s, err := openSession(ctx, sessionConfig{memoryLimit: "1GB", lockWait: opts.LockWait, clock: opts.Clock}, file, true)
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	defer s.close()
	return readStatus(ctx, s.conn, dir)
}

// readStatus answers each question of the status on conn (the warehouse attached as wh).
func readStatus(ctx context.Context, conn *sql.Conn, dir string) (*Status, error) {
	b := &statusReader{conn: conn, dir: dir, days: map[string]*DayStatus{},
		st: &Status{Dir: dir, Rejects: map[string]int64{}, Sinks: SinkBoth}}
	if fi, err := os.Stat(filepath.Join(dir, DatabaseFile)); err == nil {
		b.st.DuckDBBytes = fi.Size()
	}
	questions := []func(context.Context) error{
		b.readMeta, b.readStoredRows, b.readPending, b.readParquetFiles, b.readParquetRows, b.readRuns, b.readRejects,
	}
	for _, q := range questions {
		if err := q(ctx); err != nil {
			return nil, fmt.Errorf("read status: %w", err)
		}
	}
	for _, d := range b.days {
		b.st.Days = append(b.st.Days, *d)
	}
	slices.SortFunc(b.st.Days, func(x, y DayStatus) int { return compareStrings(x.Day, y.Day) })
	return b.st, nil
}

// statusReader fills a Status one question at a time.
type statusReader struct {
	conn  *sql.Conn
	dir   string
	st    *Status
	days  map[string]*DayStatus
	parts []partFile // the published Parquet files, read by readParquetFiles
}

func (b *statusReader) day(d string) *DayStatus {
	if b.days[d] == nil {
		b.days[d] = &DayStatus{Day: d}
	}
	return b.days[d]
}

// readMeta: which source and which sinks the warehouse was made for.
func (b *statusReader) readMeta(ctx context.Context) error {
	meta := map[string]string{}
	if err := scanRows(ctx, b.conn, `SELECT key, value FROM wh.meta`, func(r *sql.Rows) error {
		var k, v string
		err := r.Scan(&k, &v)
		meta[k] = v
		return err
	}); err != nil {
		return err
	}
	b.st.Source = meta["source"]
	if v, ok := meta["sinks"]; ok {
		b.st.Sinks = Sinks(v)
	}
	return nil
}

// readStoredRows: how many ids each day holds (the dedupe index).
func (b *statusReader) readStoredRows(ctx context.Context) error {
	return scanRows(ctx, b.conn, `SELECT strftime(day, '%Y-%m-%d'), count(*) FROM wh.activity_ids GROUP BY day`, func(r *sql.Rows) error {
		var d string
		var n int64
		err := r.Scan(&d, &n)
		b.day(d).DuckDBRows = n
		b.st.Rows += n
		return err
	})
}

// readPending: which days hold rows committed but not yet published to Parquet.
func (b *statusReader) readPending(ctx context.Context) error {
	pending, err := queryStrings(ctx, b.conn, `SELECT DISTINCT strftime(day, '%Y-%m-%d') AS d FROM wh.pending ORDER BY d`)
	if err != nil {
		return err
	}
	b.st.PendingDays = pending
	for _, d := range pending {
		b.day(d).Pending = true
	}
	return nil
}

// readParquetFiles: how many Parquet files and bytes each day has.
func (b *statusReader) readParquetFiles(context.Context) error {
	parts, _, _, err := listParts(filepath.Join(b.dir, ParquetDir))
	if err != nil {
		return err
	}
	b.parts = parts
	for _, p := range parts {
		ds := b.day(p.day)
		ds.ParquetFiles++
		ds.ParquetBytes += p.size
	}
	return nil
}

// readParquetRows: how many rows each day's Parquet files hold, from their footers (no data
// page is read). A damaged file is left out of the counts (verify reports it) so status still
// answers.
func (b *statusReader) readParquetRows(ctx context.Context) error {
	var readable []string
	for _, p := range b.parts {
		if bad, err := damagedParquet(p.path); err == nil && !bad {
			readable = append(readable, p.path)
		}
	}
	if len(readable) == 0 {
		return nil
	}
	q := `SELECT regexp_extract(file_name, 'day=([0-9-]+)', 1), sum(num_rows)::BIGINT FROM (SELECT DISTINCT file_name, num_rows FROM parquet_file_metadata(` +
		fileList(readable) + `)) GROUP BY 1`
	return scanRows(ctx, b.conn, q, func(r *sql.Rows) error {
		var d string
		var n int64
		err := r.Scan(&d, &n)
		b.day(d).ParquetRows = n
		return err
	})
}

// readRuns: the last 10 runs, newest first.
func (b *statusReader) readRuns(ctx context.Context) error {
	return scanRows(ctx, b.conn, `SELECT run_id, coalesce(command, ''), coalesce(source, ''), started, finished,
		commits, inserted, duplicates, conflicts, rejected, coalesce(summary::VARCHAR, '')
		FROM wh.runs ORDER BY started DESC, run_id DESC LIMIT 10`, func(r *sql.Rows) error {
		var rs RunStatus
		var started, finished sql.NullTime
		err := r.Scan(&rs.ID, &rs.Command, &rs.Source, &started, &finished, &rs.Commits, &rs.Inserted, &rs.Duplicates, &rs.Conflicts, &rs.Rejected, &rs.Summary)
		rs.Started, rs.Finished = started.Time.UTC(), finished.Time.UTC()
		if !finished.Valid {
			rs.Finished = time.Time{}
		}
		b.st.Runs = append(b.st.Runs, rs)
		return err
	})
}

// readRejects: how many records were rejected, by reason code.
func (b *statusReader) readRejects(ctx context.Context) error {
	return scanRows(ctx, b.conn, `SELECT split_part(reason, ':', 1), count(*) FROM wh.rejected_activities GROUP BY 1`, func(r *sql.Rows) error {
		var reason string
		var n int64
		err := r.Scan(&reason, &n)
		b.st.Rejects[reason] = n
		return err
	})
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func scanRows(ctx context.Context, conn *sql.Conn, q string, each func(*sql.Rows) error) error {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
