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

	"github.com/mcasload/mcasload/tenant"
)

// DayStatus is one tenant's UTC day of the warehouse.
type DayStatus struct {
	Tenant       string
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
	Tenant              string    // "" for a run that committed nothing
	Started, Finished   time.Time // Finished is zero for a run that did not call FinishRun
	Commits             int64
	Inserted            int64
	Duplicates          int64
	Conflicts           int64
	Rejected            int64
	Summary             string // the JSON summary given to FinishRun
}

// TenantStatus is one tenant of the warehouse.
type TenantStatus struct {
	Tenant   string
	Source   string // the source it was first written from ("" when unknown: a rebuilt file)
	Rows     int64
	Days     int
	Rejected int64
	// OldestDay is the tenant's earliest day with rows in either sink (YYYY-MM-DD, "" when
	// none), and Horizon its retention horizon (mcasload prune; "" when never pruned).
	OldestDay, Horizon string

	// CloudAppEvents counts the tenant's rows of the stream (mcasload stream); Rows, Days,
	// Rejected and OldestDay above are its activities'.
	CloudAppEvents DatasetStatus
}

// Status describes a warehouse (the selected tenants of it) for mcasload status.
type Status struct {
	Dir         string
	Sinks       Sinks
	DuckDBBytes int64
	Rows        int64
	Tenants     []TenantStatus   // sorted by label
	Days        []DayStatus      // sorted by tenant, then day
	Runs        []RunStatus      // the last 10, newest first
	PendingDays []string         // "<tenant>/<day>"
	Rejects     map[string]int64 // by reason code (the part of the reason before ":")
}

// Status reports the warehouse as this writer sees it.
func (w *Writer) Status(ctx context.Context) (*Status, error) {
	s, err := w.session(ctx)
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	return readStatus(ctx, s.conn, w.dir, nil)
}

// ReadStatus reports the warehouse in opts.Dir (the tenants opts.Tenants selects) without taking
// the writer lock; it attaches the DuckDB file read-only, retrying for opts.LockWait while a
// writer commits.
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
	return readStatus(ctx, s.conn, dir, opts.Tenants)
}

// readStatus answers each question of the status on conn (the warehouse attached as wh), for the
// tenants of selection (all when nil).
func readStatus(ctx context.Context, conn *sql.Conn, dir string, selection []string) (*Status, error) {
	b := &statusReader{conn: conn, dir: dir, days: map[partition]*DayStatus{}, tenants: map[string]*TenantStatus{},
		selection: selection, st: &Status{Dir: dir, Rejects: map[string]int64{}, Sinks: SinkBoth}}
	if fi, err := os.Stat(filepath.Join(dir, DatabaseFile)); err == nil {
		b.st.DuckDBBytes = fi.Size()
	}
	questions := []func(context.Context) error{
		b.readMeta, b.readTenants, b.readStoredRows, b.readPending, b.readParquetFiles, b.readParquetRows, b.readRuns, b.readRejects,
		b.readHorizons,
	}
	for _, q := range questions {
		if err := q(ctx); err != nil {
			return nil, fmt.Errorf("read status: %w", err)
		}
	}
	for _, d := range b.days {
		b.st.Days = append(b.st.Days, *d)
		t := b.tenant(d.Tenant)
		t.Days++
		if t.OldestDay == "" || d.Day < t.OldestDay {
			t.OldestDay = d.Day
		}
	}
	slices.SortFunc(b.st.Days, func(x, y DayStatus) int {
		return compareStrings(x.Tenant+"/"+x.Day, y.Tenant+"/"+y.Day)
	})
	if err := b.readCloudAppEvents(ctx); err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	for _, t := range b.tenants {
		b.st.Tenants = append(b.st.Tenants, *t)
	}
	slices.SortFunc(b.st.Tenants, func(x, y TenantStatus) int { return compareStrings(x.Tenant, y.Tenant) })
	return b.st, nil
}

// statusReader fills a Status one question at a time.
type statusReader struct {
	conn      *sql.Conn
	dir       string
	selection []string
	// tc is the SQL of the tenant of a row of a table with per-tenant data: its tenant column,
	// or in a warehouse not yet upgraded to tenants the label the upgrade will give.
	tc      string
	filter  string // " WHERE <the selection>" on tc
	legacy  string // the label of rows and Parquet files from before tenants
	source  string // the source recorded before tenants (meta)
	st      *Status
	days    map[partition]*DayStatus
	tenants map[string]*TenantStatus
	parts   []partFile // the published Parquet files, read by readParquetFiles
}

func (b *statusReader) day(p partition) *DayStatus {
	if b.days[p] == nil {
		b.days[p] = &DayStatus{Tenant: p.tenant, Day: p.day}
	}
	return b.days[p]
}

func (b *statusReader) tenant(label string) *TenantStatus {
	if b.tenants[label] == nil {
		b.tenants[label] = &TenantStatus{Tenant: label}
	}
	return b.tenants[label]
}

// readMeta: which sinks the warehouse was made for, and that it holds tenants.
func (b *statusReader) readMeta(ctx context.Context) error {
	meta, err := readMeta(ctx, b.conn, "wh")
	if err != nil {
		return err
	}
	if v, ok := meta["sinks"]; ok {
		b.st.Sinks = Sinks(v)
	}
	upgraded, err := hasColumn(ctx, b.conn, "wh", "activity_ids", "tenant")
	if err != nil {
		return err
	}
	b.tc, b.legacy, b.source = "tenant", meta[upgradeTenantKey], meta["source"]
	if !upgraded {
		// Made before tenants, and no writer has opened it since: all its rows are the
		// tenant the upgrade will label them with.
		b.legacy = legacyLabel(b.source)
		b.tc = quoteString(b.legacy)
	}
	if b.legacy == "" {
		b.legacy = tenant.Default
	}
	b.filter = " WHERE " + tenantFilterOn(b.tc, b.selection)
	return nil
}

// readTenants: which tenants the warehouse holds and where each was first written from.
func (b *statusReader) readTenants(ctx context.Context) error {
	if b.tc != "tenant" {
		if _, err := selectTenants(b.selection, []string{b.legacy}); err != nil {
			return err
		}
		b.tenant(b.legacy).Source = b.source
		return nil
	}
	held, err := listTenants(ctx, b.conn)
	if err != nil {
		return err
	}
	selected, err := selectTenants(b.selection, held)
	if err != nil {
		return err
	}
	for _, t := range selected {
		b.tenant(t)
	}
	return scanRows(ctx, b.conn, `SELECT tenant, coalesce(source, '') FROM wh.tenants`+b.filter, func(r *sql.Rows) error {
		var t, src string
		err := r.Scan(&t, &src)
		b.tenant(t).Source = src
		return err
	})
}

// readStoredRows: how many ids each tenant's day holds (the dedupe index).
func (b *statusReader) readStoredRows(ctx context.Context) error {
	return scanRows(ctx, b.conn, `SELECT `+b.tc+`, strftime(day, '%Y-%m-%d'), count(*) FROM wh.activity_ids`+b.filter+` GROUP BY ALL`, func(r *sql.Rows) error {
		var p partition
		var n int64
		err := r.Scan(&p.tenant, &p.day, &n)
		b.day(p).DuckDBRows = n
		b.tenant(p.tenant).Rows += n
		b.st.Rows += n
		return err
	})
}

// readHorizons: each tenant's retention horizon (a warehouse from before prune has none).
func (b *statusReader) readHorizons(ctx context.Context) error {
	if ok, err := hasColumn(ctx, b.conn, "wh", "horizons", "day"); err != nil || !ok {
		return err
	}
	return scanRows(ctx, b.conn, `SELECT tenant, strftime(day, '%Y-%m-%d') FROM wh.horizons`+b.filter, func(r *sql.Rows) error {
		var t, d string
		err := r.Scan(&t, &d)
		b.tenant(t).Horizon = d
		return err
	})
}

// readPending: which days hold rows committed but not yet published to Parquet.
func (b *statusReader) readPending(ctx context.Context) error {
	return scanRows(ctx, b.conn, `SELECT DISTINCT `+b.tc+`, strftime(day, '%Y-%m-%d') AS d FROM wh.pending`+b.filter+` ORDER BY ALL`, func(r *sql.Rows) error {
		var p partition
		err := r.Scan(&p.tenant, &p.day)
		b.day(p).Pending = true
		b.st.PendingDays = append(b.st.PendingDays, p.String())
		return err
	})
}

// readParquetFiles: how many Parquet files and bytes each tenant's day has.
func (b *statusReader) readParquetFiles(context.Context) error {
	parts, _, _, err := listParts(filepath.Join(b.dir, ParquetDir), b.legacy)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if !tenant.Selected(b.selection, p.tenant) {
			continue
		}
		b.parts = append(b.parts, p)
		ds := b.day(p.partition)
		ds.ParquetFiles++
		ds.ParquetBytes += p.size
	}
	return nil
}

// readParquetRows: how many rows each tenant's day's Parquet files hold, from their footers (no
// data page is read). A damaged file is left out of the counts (verify reports it) so status
// still answers.
func (b *statusReader) readParquetRows(ctx context.Context) error {
	var readable []string
	partOf := map[string]partition{}
	for _, p := range b.parts {
		if bad, err := damagedParquet(p.path); err == nil && !bad {
			readable = append(readable, p.path)
			partOf[p.path] = p.partition
		}
	}
	if len(readable) == 0 {
		return nil
	}
	q := `SELECT DISTINCT file_name, num_rows FROM parquet_file_metadata(` + fileList(readable) + `)`
	return scanRows(ctx, b.conn, q, func(r *sql.Rows) error {
		var f string
		var n int64
		err := r.Scan(&f, &n)
		b.day(partOf[f]).ParquetRows += n
		return err
	})
}

// readRuns: the last 10 runs of the selected tenants, newest first.
func (b *statusReader) readRuns(ctx context.Context) error {
	return scanRows(ctx, b.conn, `SELECT run_id, coalesce(command, ''), coalesce(source, ''), coalesce(`+b.tc+`, ''), started, finished,
		commits, inserted, duplicates, conflicts, rejected, coalesce(summary::VARCHAR, '')
		FROM wh.runs WHERE `+b.tc+` IS NULL OR `+tenantFilterOn(b.tc, b.selection)+` ORDER BY started DESC, run_id DESC LIMIT 10`, func(r *sql.Rows) error {
		var rs RunStatus
		var started, finished sql.NullTime
		err := r.Scan(&rs.ID, &rs.Command, &rs.Source, &rs.Tenant, &started, &finished, &rs.Commits, &rs.Inserted, &rs.Duplicates, &rs.Conflicts, &rs.Rejected, &rs.Summary)
		rs.Started, rs.Finished = started.Time.UTC(), finished.Time.UTC()
		if !finished.Valid {
			rs.Finished = time.Time{}
		}
		b.st.Runs = append(b.st.Runs, rs)
		return err
	})
}

// readRejects: how many records were rejected, by reason code and by tenant.
func (b *statusReader) readRejects(ctx context.Context) error {
	return scanRows(ctx, b.conn, `SELECT `+b.tc+`, split_part(reason, ':', 1), count(*) FROM wh.rejected_activities`+b.filter+` GROUP BY ALL`, func(r *sql.Rows) error {
		var t, reason string
		var n int64
		err := r.Scan(&t, &reason, &n)
		b.st.Rejects[reason] += n
		b.tenant(t).Rejected += n
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
