package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/tenant"
)

// Where a Reader's rows come from.
const (
	FromDuckDB  = "duckdb"  // the DuckDB file, attached read-only
	FromParquet = "parquet" // the committed Parquet dataset
)

// ReaderOptions configure OpenReader.
type ReaderOptions struct {
	Dir         string
	MemoryLimit string        // DuckDB memory_limit (default "1GB")
	Threads     int           // DuckDB threads (default: DuckDB's)
	LockWait    time.Duration // how long to retry while a writer commits (default 5s)
	Clock       clock.Clock
	Logger      *slog.Logger
	// PreferParquet reads the Parquet dataset even when the DuckDB file is free.
	PreferParquet bool
	// Tenants selects the tenants the views show (nil: every tenant); a label the warehouse
	// does not hold is an error wrapping ErrUnknownTenant.
	Tenants []string
}

// Reader is a read-only view of a warehouse: an in-memory DuckDB where the views activities and
// rejected_activities (the schema's columns) read either the DuckDB file attached READ_ONLY
// as "wh" or the committed Parquet dataset, holding the rows of the selected tenants only. It is
// not safe for concurrent use; it holds one connection, so settings a caller makes
// (enable_external_access=false, …) stay in force.
type Reader struct {
	db   *sql.DB
	conn *sql.Conn
	// From is FromDuckDB or FromParquet.
	From string
	// Fallback says why the reader reads Parquet instead of DuckDB ("" when it does not).
	Fallback string
	// Dir is the warehouse (or Parquet) folder.
	Dir string
	// Tenants are the tenants the views show (the selection, or every tenant), sorted;
	// AllTenants every tenant the warehouse or dataset holds.
	Tenants, AllTenants []string
	// selection is ReaderOptions.Tenants.
	selection []string
}

// ActivitiesView is the qualified name of the reader's activities view, for a session that
// narrows it further (a per-tenant run of an investigation reads a view over it).
const ActivitiesView = "memory.main.activities"

// OpenReader opens the warehouse in dir for reading. The DuckDB file is attached read-only,
// retrying for LockWait while a writer commits; if it stays held, or the warehouse keeps only
// Parquet, the reader reads the committed Parquet files instead and says so in Fallback (and
// the log). Rows committed to DuckDB but not yet published are then not visible.
func OpenReader(ctx context.Context, opts ReaderOptions) (*Reader, error) {
	if opts.Dir == "" {
		return nil, ErrNoFolder
	}
	if opts.MemoryLimit == "" {
		opts.MemoryLimit = "1GB"
	}
	if !memoryLimitRE.MatchString(opts.MemoryLimit) {
		return nil, fmt.Errorf("parse memory limit %q: use a size such as 300MB or 2GB", opts.MemoryLimit)
	}
	if opts.LockWait == 0 {
		opts.LockWait = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("open warehouse %s: %w", opts.Dir, err)
	}
	file := filepath.Join(dir, DatabaseFile)
	if _, err := os.Stat(file); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if hasParquet(dir) {
				return OpenParquet(ctx, opts)
			}
			return nil, fmt.Errorf("open warehouse %s: %w", dir, ErrNoWarehouse)
		}
		return nil, fmt.Errorf("open warehouse %s: %w", dir, err)
	}
	cfg := sessionConfig{memoryLimit: opts.MemoryLimit, threads: opts.Threads, lockWait: opts.LockWait, clock: opts.Clock}
	fallback := ""
	if opts.PreferParquet {
		fallback = "parquet requested"
	}
	if fallback == "" {
		s, err := openSession(ctx, cfg, file, true)
		switch {
		case err == nil:
			r := &Reader{db: s.db, conn: s.conn, From: FromDuckDB, Dir: dir, selection: opts.Tenants}
			if err := r.createViews(ctx, dir); err != nil {
				s.close()
				return nil, err
			}
			return r, nil
		case errors.Is(err, ErrBusy):
			fallback = fmt.Sprintf("the DuckDB file is held by a writer for more than %s", opts.LockWait)
		default:
			return nil, err
		}
	}
	opts.Logger.Warn("reading the committed parquet dataset instead of the DuckDB file", "reason", fallback, "dir", dir)
	r, err := openParquet(ctx, cfg, dir, opts.Tenants)
	if err != nil {
		return nil, err
	}
	r.Fallback = fallback
	return r, nil
}

// OpenParquetReader reads a bare Parquet dataset (every tenant): see OpenParquet.
func OpenParquetReader(ctx context.Context, dir string) (*Reader, error) {
	return OpenParquet(ctx, ReaderOptions{Dir: dir})
}

// OpenParquet reads a bare Parquet dataset, for the tenants opts.Tenants selects: a warehouse
// folder, its parquet/activities folder, one tenant's folder (tenant=<label>, handed over on its
// own), or a folder of day=YYYY-MM-DD/*.parquet written before tenants (a copy a colleague sent;
// its rows are tenant.Default's, or, when the folder also holds exactly one tenant folder, that
// tenant's: an upgrade that is moving the files).
func OpenParquet(ctx context.Context, opts ReaderOptions) (*Reader, error) {
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("open parquet %s: %w", opts.Dir, err)
	}
	if opts.MemoryLimit == "" {
		opts.MemoryLimit = "1GB"
	}
	return openParquet(ctx, sessionConfig{memoryLimit: opts.MemoryLimit, threads: opts.Threads}, abs, opts.Tenants)
}

func hasParquet(dir string) bool {
	for _, g := range []string{filepath.Join(dir, ParquetDir, tenantPrefix+"*", dayPrefix+"*", "*.parquet"), filepath.Join(dir, ParquetDir, dayPrefix+"*", "*.parquet"),
		filepath.Join(dir, CloudAppEventsParquetDir, tenantPrefix+"*", dayPrefix+"*", "*.parquet")} {
		if m, _ := filepath.Glob(g); len(m) > 0 {
			return true
		}
	}
	return false
}

func openParquet(ctx context.Context, cfg sessionConfig, dir string, selection []string) (*Reader, error) {
	s, err := openSession(ctx, cfg, "", true)
	if err != nil {
		return nil, err
	}
	r := &Reader{db: s.db, conn: s.conn, From: FromParquet, Dir: dir, selection: selection}
	if err := r.createViews(ctx, dir); err != nil {
		s.close()
		return nil, err
	}
	return r, nil
}

// parquetRoot finds the dataset folder under dir: the one holding tenant=… or day=… folders.
func parquetRoot(dir string) string {
	for _, c := range []string{filepath.Join(dir, ParquetDir), filepath.Join(dir, "activities"), dir} {
		for _, g := range []string{tenantPrefix + "*", dayPrefix + "*"} {
			if m, _ := filepath.Glob(filepath.Join(c, g)); len(m) > 0 {
				return c
			}
		}
	}
	return filepath.Join(dir, ParquetDir)
}

const rejectedColumns = `id VARCHAR, raw VARCHAR, reason VARCHAR, run_id VARCHAR, "at" TIMESTAMPTZ, tenant VARCHAR`

func (r *Reader) createViews(ctx context.Context, dir string) error {
	var stmts []string
	var err error
	if r.From == FromDuckDB {
		stmts, err = r.duckdbViews(ctx, dir)
	} else {
		stmts, err = r.parquetViews(ctx, dir)
	}
	if err != nil {
		return err
	}
	stmts = append(stmts, findingsView(ctx, r.conn, r.From, dir))
	for _, q := range stmts {
		if _, err := r.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create reader views: %w", err)
		}
	}
	return nil
}

// duckdbViews are the statements that create the views over the attached DuckDB file (and the
// Parquet dataset, for a warehouse that keeps its rows only there), for the selected tenants.
func (r *Reader) duckdbViews(ctx context.Context, dir string) ([]string, error) {
	meta, err := readMeta(ctx, r.conn, "wh")
	if err != nil {
		return nil, fmt.Errorf("read warehouse meta: %w", err)
	}
	// A warehouse no writer has opened since schema version 3 has no tenant column: all its
	// rows are the tenant the upgrade will label them with.
	upgraded, err := hasColumn(ctx, r.conn, "wh", "activity_ids", "tenant")
	if err != nil {
		return nil, fmt.Errorf("read warehouse columns: %w", err)
	}
	legacy := meta[upgradeTenantKey]
	if legacy == "" {
		legacy = legacyLabel(meta["source"])
	}
	tenantExpr := "tenant"
	if upgraded {
		if r.AllTenants, err = listTenants(ctx, r.conn); err != nil {
			return nil, err
		}
	} else {
		tenantExpr, r.AllTenants = quoteString(legacy), []string{legacy}
	}
	if r.Tenants, err = selectTenants(r.selection, r.AllTenants); err != nil {
		return nil, err
	}
	where := " WHERE " + tenantFilter(r.selection)
	var stmts []string
	if sinks := Sinks(meta["sinks"]); sinks == "" || sinks.duckdb() {
		// A warehouse no writer has opened since schema version 2 (or 4) lacks the copies of raw
		// added since: they are computed from raw.
		expr, err := missingCopies(ctx, r.conn, "wh", "activities")
		if err != nil {
			return nil, fmt.Errorf("read warehouse columns: %w", err)
		}
		expr["tenant"] = tenantExpr
		stmts = append(stmts, `CREATE VIEW memory.main.activities AS SELECT * FROM (SELECT `+selectColumns(false, expr)+` FROM wh.activities)`+where)
		// The first times (firsts.go), in a warehouse a writer has opened since they were added.
		has, err := hasColumn(ctx, r.conn, "wh", "activity_firsts_days", "rule")
		if err != nil {
			return nil, fmt.Errorf("read warehouse columns: %w", err)
		}
		if has {
			stmts = append(stmts, `CREATE VIEW memory.main.activity_firsts AS SELECT * FROM wh.activity_firsts`+where,
				`CREATE VIEW memory.main.activity_firsts_days AS SELECT * FROM wh.activity_firsts_days`+where)
		}
	} else {
		// The warehouse keeps rows only in Parquet; DuckDB holds state and rejects.
		r.From = FromParquet
		q, err := r.parquetDataset(ctx, &activitiesTable, parquetRoot(dir), legacy)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, q)
	}
	stmts = append(stmts, `CREATE VIEW memory.main.rejected_activities AS SELECT * FROM (SELECT id, raw, reason, run_id, "at", `+tenantExpr+` AS tenant FROM wh.rejected_activities)`+where)
	cae, err := r.duckdbCloudAppEvents(ctx, dir, meta, where)
	if err != nil {
		return nil, err
	}
	return append(stmts, cae...), nil
}

// duckdbCloudAppEvents are the statements that create the views cloud_app_events and
// rejected_cloud_app_events over the attached file (over Parquet for a warehouse that keeps
// rows only there); empty tables in a warehouse no writer has given them yet.
func (r *Reader) duckdbCloudAppEvents(ctx context.Context, dir string, meta map[string]string, where string) ([]string, error) {
	t := &cloudAppEventsTable
	has, err := hasColumn(ctx, r.conn, "wh", t.name, "tenant")
	if err != nil {
		return nil, fmt.Errorf("read warehouse columns: %w", err)
	}
	if !has {
		return []string{`CREATE TABLE memory.main.` + t.name + ` (` + t.columnDDL(false) + `)`,
			`CREATE TABLE memory.main.` + t.rejects + ` (` + rejectedColumns + `)`,
			`CREATE TABLE memory.main.` + CloudAppEventLoadsView + ` (` + loadsColumns + `)`}, nil
	}
	var stmts []string
	if sinks := Sinks(meta["sinks"]); sinks == "" || sinks.duckdb() {
		stmts = append(stmts, `CREATE VIEW memory.main.`+t.name+` AS SELECT * FROM wh.`+t.name+where)
	} else {
		q, err := r.parquetDataset(ctx, t, filepath.Join(dir, t.parquetDir), tenant.Default)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, q)
	}
	return append(stmts, `CREATE VIEW memory.main.`+t.rejects+` AS SELECT id, raw, reason, run_id, "at", tenant FROM wh.`+t.rejects+where,
		`CREATE VIEW memory.main.`+CloudAppEventLoadsView+` AS SELECT * FROM (SELECT tenant, regexp_extract(id, '^(.*)\|', 1) AS report_id,
			to_timestamp(us // 1000000) + to_microseconds(us % 1000000) AS ts, day, seq AS commit_seq
			FROM (SELECT *, CAST(regexp_extract(id, '\|(-?[0-9]+)$', 1) AS BIGINT) AS us FROM wh.`+t.index+`))`+where), nil
}

// CloudAppEventLoadsView is the reader's view of which commit loaded each stream row (its dedupe
// index: tenant, report_id, ts, day, commit_seq), for detect, which takes a stream row of a
// commit past its watermark for new (the stream has no created time). Only a reader of the
// DuckDB file has it: a reader of Parquet alone cannot tell.
const CloudAppEventLoadsView = "cloud_app_event_loads"

const loadsColumns = `tenant VARCHAR, report_id VARCHAR, ts TIMESTAMPTZ, day DATE, commit_seq BIGINT`

// parquetViews are the statements that create the views over the Parquet dataset and the
// rejected/ files, for the selected tenants.
func (r *Reader) parquetViews(ctx context.Context, dir string) ([]string, error) {
	layout, err := readLayout(parquetRoot(dir))
	if err != nil {
		return nil, err
	}
	legacy := layout.legacyLabelOf()
	r.AllTenants = layout.labels(legacy)
	if r.Tenants, err = selectTenants(r.selection, r.AllTenants); err != nil {
		return nil, err
	}
	stmts := []string{}
	for _, t := range datasets {
		root := layout.root
		if t != &activitiesTable {
			// Only a warehouse folder holds the other datasets; a bare activities dataset has none.
			root = filepath.Join(dir, t.parquetDir)
		}
		q, err := r.parquetDataset(ctx, t, root, legacy)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, q, r.rejectedFromFiles(t, dir, legacy))
	}
	return stmts, nil
}

// rejectedFromFiles is the statement that creates dataset t's rejects view over its
// rejected/ NDJSON files, or an empty table when there are none.
func (r *Reader) rejectedFromFiles(t *whTable, dir, legacy string) string {
	glob := filepath.Join(dir, t.rejectsDir, "*.ndjson")
	if files, _ := filepath.Glob(glob); len(files) == 0 {
		return `CREATE TABLE memory.main.` + t.rejects + ` (` + rejectedColumns + `)`
	}
	return fmt.Sprintf(`CREATE VIEW memory.main.%s AS SELECT * FROM (SELECT id, coalesce(raw, 'base64:' || raw_base64) AS raw, reason, run_id, "at", coalesce(tenant, %s) AS tenant
		FROM read_json(%s, format = 'newline_delimited', columns = {id: 'VARCHAR', raw: 'VARCHAR', raw_base64: 'VARCHAR', reason: 'VARCHAR', run_id: 'VARCHAR', "at": 'TIMESTAMPTZ', tenant: 'VARCHAR'})) WHERE %s`,
		t.rejects, quoteString(legacy), quoteString(glob), tenantFilter(r.selection))
}

// parquetDataset creates dataset t's view over its Parquet files under root for the selected
// tenants (only their folders are read), or an empty table of the same columns when nothing is
// published yet (read_parquet fails on an empty glob). Activities files from before schema
// version 4 get the copies of raw they lack computed from raw; day folders from before tenants
// are legacy's.
func (r *Reader) parquetDataset(ctx context.Context, t *whTable, root, legacy string) (string, error) {
	layout, err := readLayout(root)
	if err != nil {
		return "", err
	}
	q, ok, err := readDataset(ctx, r.conn, t, layout, legacy, r.selection)
	if err != nil {
		return "", err
	}
	if !ok {
		return `CREATE TABLE memory.main.` + t.name + ` (` + t.columnDDL(false) + `)`, nil
	}
	return `CREATE VIEW memory.main.` + t.name + ` AS ` + q, nil
}

// Conn is the reader's one connection; queries see the views activities and
// rejected_activities. Do not close it; Close the Reader.
func (r *Reader) Conn() *sql.Conn { return r.conn }

// QueryArrow runs query and returns its result as an Arrow record reader, which the caller
// must Release before the next query.
func (r *Reader) QueryArrow(ctx context.Context, query string, args ...any) (array.RecordReader, error) {
	var rdr array.RecordReader
	err := r.conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		rdr, err = ar.QueryContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("run query: %w", err)
	}
	return rdr, nil
}

// Close closes the reader and frees the DuckDB file for the writer.
func (r *Reader) Close() error {
	if r == nil || r.db == nil {
		return nil
	}
	s := &session{db: r.db, conn: r.conn}
	r.db, r.conn = nil, nil
	return s.close()
}

// LockDown forbids the reader's connection any file or network access beyond the warehouse's
// own data (the attached file, the Parquet dataset and the rejected files), and freezes the
// configuration, so that user-supplied SQL can only read the warehouse.
func (r *Reader) LockDown(ctx context.Context) error {
	dirs := []string{quoteString(parquetRoot(r.Dir) + string(filepath.Separator)), quoteString(filepath.Join(r.Dir, RejectedDir) + string(filepath.Separator)),
		quoteString(filepath.Join(r.Dir, CloudAppEventsParquetDir) + string(filepath.Separator))}
	stmts := []string{
		"SET allowed_directories = [" + strings.Join(dirs, ", ") + "]",
		"SET enable_external_access = false",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET lock_configuration = true",
	}
	for _, q := range stmts {
		if _, err := r.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("lock down reader (%s): %w", q, err)
		}
	}
	return nil
}

// HasParquet reports whether the warehouse in dir holds any Parquet file.
func HasParquet(dir string) bool { return hasParquet(dir) }
