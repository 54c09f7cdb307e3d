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
}

// Reader is a read-only view of a warehouse: an in-memory DuckDB where the views activities and
// rejected_activities (the schema's columns) read either the DuckDB file attached READ_ONLY
// as "wh" or the committed Parquet dataset. It is not safe for concurrent use; it holds one
// connection, so settings a caller makes (enable_external_access=false, …) stay in force.
type Reader struct {
	db   *sql.DB
	conn *sql.Conn
	// From is FromDuckDB or FromParquet.
	From string
	// Fallback says why the reader reads Parquet instead of DuckDB ("" when it does not).
	Fallback string
	// Dir is the warehouse (or Parquet) folder.
	Dir string
}

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
				return OpenParquetReader(ctx, dir)
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
			r := &Reader{db: s.db, conn: s.conn, From: FromDuckDB, Dir: dir}
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
	r, err := openParquet(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	r.Fallback = fallback
	return r, nil
}

// OpenParquetReader reads a bare Parquet dataset: a warehouse folder, its parquet/activities
// folder, or any folder of day=YYYY-MM-DD/*.parquet (a copy a colleague sent).
func OpenParquetReader(ctx context.Context, dir string) (*Reader, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open parquet %s: %w", dir, err)
	}
	return openParquet(ctx, sessionConfig{memoryLimit: "1GB"}, abs)
}

func hasParquet(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, ParquetDir, "day=*", "*.parquet"))
	return len(m) > 0
}

func openParquet(ctx context.Context, cfg sessionConfig, dir string) (*Reader, error) {
	s, err := openSession(ctx, cfg, "", true)
	if err != nil {
		return nil, err
	}
	r := &Reader{db: s.db, conn: s.conn, From: FromParquet, Dir: dir}
	if err := r.createViews(ctx, dir); err != nil {
		s.close()
		return nil, err
	}
	return r, nil
}

// parquetRoot finds the folder holding day=… folders under dir.
func parquetRoot(dir string) string {
	for _, c := range []string{filepath.Join(dir, ParquetDir), filepath.Join(dir, "activities"), dir} {
		if m, _ := filepath.Glob(filepath.Join(c, "day=*")); len(m) > 0 {
			return c
		}
	}
	return filepath.Join(dir, ParquetDir)
}

// parquetScan is the SELECT of the schema's columns over the Parquet files under root; day
// comes from the folder name, as in any Hive-partitioned dataset.
func parquetScan(root string) string {
	glob := filepath.Join(root, "day=*", "*.parquet")
	return fmt.Sprintf(`SELECT %s FROM read_parquet(%s, hive_partitioning = true, hive_types = {'day': DATE})`,
		columnList("", false), quoteString(glob))
}

const rejectedColumns = `id VARCHAR, raw VARCHAR, reason VARCHAR, run_id VARCHAR, "at" TIMESTAMPTZ`

func (r *Reader) createViews(ctx context.Context, dir string) error {
	var stmts []string
	if r.From == FromDuckDB {
		var sinks string
		if err := r.conn.QueryRowContext(ctx, `SELECT coalesce((SELECT value FROM wh.meta WHERE key = 'sinks'), 'both')`).Scan(&sinks); err != nil {
			return fmt.Errorf("read warehouse meta: %w", err)
		}
		if Sinks(sinks).duckdb() {
			// A warehouse no writer has opened since schema version 2 lacks parameters.
			has, err := hasColumn(ctx, r.conn, "wh", "activities", "parameters")
			if err != nil {
				return fmt.Errorf("read warehouse columns: %w", err)
			}
			cols := columnList("", false)
			if !has {
				cols = selectWithParameters(false, parametersFromRaw)
			}
			stmts = append(stmts, `CREATE VIEW memory.main.activities AS SELECT `+cols+` FROM wh.activities`)
		} else {
			// The warehouse keeps rows only in Parquet; DuckDB holds state and rejects.
			r.From = FromParquet
			q, err := r.parquetActivities(ctx, parquetRoot(dir))
			if err != nil {
				return err
			}
			stmts = append(stmts, q)
		}
		stmts = append(stmts, `CREATE VIEW memory.main.rejected_activities AS SELECT id, raw, reason, run_id, "at" FROM wh.rejected_activities`)
	} else {
		q, err := r.parquetActivities(ctx, parquetRoot(dir))
		if err != nil {
			return err
		}
		stmts = append(stmts, q)
		files, _ := filepath.Glob(filepath.Join(dir, RejectedDir, "*.ndjson"))
		if len(files) > 0 {
			stmts = append(stmts, fmt.Sprintf(`CREATE VIEW memory.main.rejected_activities AS SELECT id, coalesce(raw, 'base64:' || raw_base64) AS raw, reason, run_id, "at"
				FROM read_json(%s, format = 'newline_delimited', columns = {id: 'VARCHAR', raw: 'VARCHAR', raw_base64: 'VARCHAR', reason: 'VARCHAR', run_id: 'VARCHAR', "at": 'TIMESTAMPTZ'})`,
				quoteString(filepath.Join(dir, RejectedDir, "*.ndjson"))))
		} else {
			stmts = append(stmts, `CREATE TABLE memory.main.rejected_activities (`+rejectedColumns+`)`)
		}
	}
	stmts = append(stmts, findingsView(ctx, r.conn, r.From, dir))
	for _, q := range stmts {
		if _, err := r.conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create reader views: %w", err)
		}
	}
	return nil
}

// parquetActivities creates the activities view over the dataset, or an empty table of the
// same columns when nothing is published yet (read_parquet fails on an empty glob). When some
// files predate schema version 2 (a copied folder nobody upgraded, or a writer upgrading it
// now), the view computes their parameters from raw, which makes it read raw.
func (r *Reader) parquetActivities(ctx context.Context, root string) (string, error) {
	glob := filepath.Join(root, "day=*", "*.parquet")
	if m, _ := filepath.Glob(glob); len(m) == 0 {
		return `CREATE TABLE memory.main.activities (` + columnDefs() + `)`, nil
	}
	var old int
	err := r.conn.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT file_name FROM parquet_schema(?)
		GROUP BY file_name HAVING count(*) FILTER (WHERE name = 'parameters') = 0)`, glob).Scan(&old)
	if err != nil {
		return "", fmt.Errorf("read parquet schemas: %w", err)
	}
	if old > 0 {
		return `CREATE VIEW memory.main.activities AS ` + anyVersionScan(quoteString(glob), true), nil
	}
	return `CREATE VIEW memory.main.activities AS ` + parquetScan(root), nil
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
	dirs := []string{quoteString(parquetRoot(r.Dir) + string(filepath.Separator)), quoteString(filepath.Join(r.Dir, RejectedDir) + string(filepath.Separator))}
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
