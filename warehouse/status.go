package warehouse

import (
	"context"
	"database/sql"
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
		return nil, fmt.Errorf("read status: no warehouse in %s: %w", dir, err)
	}
	s, err := openSession(ctx, sessionConfig{memoryLimit: "1GB", lockWait: opts.LockWait, clock: opts.Clock}, file, true)
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	defer s.close()
	return readStatus(ctx, s.conn, dir)
}

func readStatus(ctx context.Context, conn *sql.Conn, dir string) (*Status, error) {
	st := &Status{Dir: dir, Rejects: map[string]int64{}, Sinks: SinkBoth}
	if fi, err := os.Stat(filepath.Join(dir, DatabaseFile)); err == nil {
		st.DuckDBBytes = fi.Size()
	}
	meta := map[string]string{}
	if err := scanRows(ctx, conn, `SELECT key, value FROM wh.meta`, func(r *sql.Rows) error {
		var k, v string
		err := r.Scan(&k, &v)
		meta[k] = v
		return err
	}); err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	st.Source = meta["source"]
	if v, ok := meta["sinks"]; ok {
		st.Sinks = Sinks(v)
	}
	days := map[string]*DayStatus{}
	day := func(d string) *DayStatus {
		if days[d] == nil {
			days[d] = &DayStatus{Day: d}
		}
		return days[d]
	}
	if err := scanRows(ctx, conn, `SELECT strftime(day, '%Y-%m-%d'), count(*) FROM wh.activity_ids GROUP BY day`, func(r *sql.Rows) error {
		var d string
		var n int64
		err := r.Scan(&d, &n)
		day(d).DuckDBRows = n
		st.Rows += n
		return err
	}); err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	pending, err := queryStrings(ctx, conn, `SELECT DISTINCT strftime(day, '%Y-%m-%d') AS d FROM wh.pending ORDER BY d`)
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	st.PendingDays = pending
	for _, d := range pending {
		day(d).Pending = true
	}
	parts, _, _, err := listParts(filepath.Join(dir, ParquetDir))
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	for _, p := range parts {
		ds := day(p.day)
		ds.ParquetFiles++
		ds.ParquetBytes += p.size
	}
	var readable []string
	for _, p := range parts {
		// A damaged file is left out of the counts (verify reports it) so status still answers.
		if bad, err := damagedParquet(p.path); err == nil && !bad {
			readable = append(readable, p.path)
		}
	}
	if len(readable) > 0 {
		// Row counts come from the Parquet footers; no data page is read.
		q := `SELECT regexp_extract(file_name, 'day=([0-9-]+)', 1), sum(num_rows)::BIGINT FROM (SELECT DISTINCT file_name, num_rows FROM parquet_file_metadata(` +
			fileList(readable) + `)) GROUP BY 1`
		if err := scanRows(ctx, conn, q, func(r *sql.Rows) error {
			var d string
			var n int64
			err := r.Scan(&d, &n)
			day(d).ParquetRows = n
			return err
		}); err != nil {
			return nil, fmt.Errorf("read status: %w", err)
		}
	}
	for _, d := range days {
		st.Days = append(st.Days, *d)
	}
	slices.SortFunc(st.Days, func(a, b DayStatus) int { return compareStrings(a.Day, b.Day) })
	if err := scanRows(ctx, conn, `SELECT run_id, coalesce(command, ''), coalesce(source, ''), started, finished,
		commits, inserted, duplicates, conflicts, rejected, coalesce(summary::VARCHAR, '')
		FROM wh.runs ORDER BY started DESC, run_id DESC LIMIT 10`, func(r *sql.Rows) error {
		var rs RunStatus
		var started, finished sql.NullTime
		err := r.Scan(&rs.ID, &rs.Command, &rs.Source, &started, &finished, &rs.Commits, &rs.Inserted, &rs.Duplicates, &rs.Conflicts, &rs.Rejected, &rs.Summary)
		rs.Started, rs.Finished = started.Time.UTC(), finished.Time.UTC()
		if !finished.Valid {
			rs.Finished = time.Time{}
		}
		st.Runs = append(st.Runs, rs)
		return err
	}); err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	if err := scanRows(ctx, conn, `SELECT split_part(reason, ':', 1), count(*) FROM wh.rejected_activities GROUP BY 1`, func(r *sql.Rows) error {
		var reason string
		var n int64
		err := r.Scan(&reason, &n)
		st.Rejects[reason] = n
		return err
	}); err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	return st, nil
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
