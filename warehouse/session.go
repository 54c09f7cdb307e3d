package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/internal/clock"
)

// ErrBusy is wrapped when the DuckDB file stays held by another process (a reader, a DuckDB
// shell) for longer than the configured wait.
var ErrBusy = errors.New("warehouse: database file busy")

// memoryLimitRE accepts DuckDB memory sizes only, so the value can be spliced into SET safely.
var memoryLimitRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

// writerSettings tune a read-write session for large commits; see openSession.
var writerSettings = []string{
	"SET max_vacuum_tasks = 0",
	"SET auto_checkpoint_skip_wal_threshold = 1000",
	"SET checkpoint_threshold = '1MB'",
	"SET preserve_insertion_order = false",
	// JSON raw does not shrink with FSST; analysing it at every checkpoint cost ~10 %.
	"SET disabled_compression_methods = 'fsst'",
	// The writer keeps its DuckDB instance between commits; hand freed memory back to the
	// system after each task instead of caching up to 128 MB / 512 MB of it. A larger memory
	// budget raises both (Options.AllocatorFlush): memory handed back is faulted in again by
	// the next commit, which cost about a sixth of a load's CPU.
	"SET allocator_flush_threshold = '8MB'",
	"SET allocator_bulk_deallocation_flush_threshold = '8MB'",
	// Compaction reads every part of a day once: caching the files' bytes only filled the
	// memory limit (a 5M load's compaction at Close grew to ~600 MB).
	"SET enable_external_file_cache = false",
}

// WriterSettings returns the settings a commit's DuckDB session runs with, for the benchmarks
// that measure DuckDB's part of a commit alone.
func WriterSettings() []string { return slices.Clone(writerSettings) }

// sessionConfig is what every DuckDB session of this package sets explicitly.
type sessionConfig struct {
	memoryLimit    string
	allocatorFlush int64 // bytes; 0 keeps writerSettings' thresholds
	threads        int
	tempDir        string
	lockWait       time.Duration
	clock          clock.Clock
	// rowGroupRows, when set, is the row group size a read-write attach writes new row
	// groups in (see rowgroups.go); DuckDB's default otherwise.
	rowGroupRows int
}

// session is one short-lived in-memory DuckDB database with the warehouse file attached as
// "wh". Registered Arrow views land in the in-memory catalog, never in the file (the
// RegisterView persistence hazard, research/golibs.md §1.4).
type session struct {
	db   *sql.DB
	conn *sql.Conn
	// firstsRule is the first times' rule whose setup ran on conn (firsts.go).
	firstsRule string
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// openSession opens an in-memory DuckDB with UTC, memory and thread settings, and attaches
// file (when not empty) read-write or read-only, retrying while another process holds it.
func openSession(ctx context.Context, cfg sessionConfig, file string, readOnly bool) (*session, error) {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open duckdb connection: %w", err)
	}
	s := &session{db: db, conn: conn}
	settings := []string{"SET TimeZone='UTC'"}
	if cfg.memoryLimit != "" {
		settings = append(settings, "SET memory_limit="+quoteString(cfg.memoryLimit))
	}
	if cfg.threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads=%d", cfg.threads))
	}
	if cfg.tempDir != "" {
		settings = append(settings, "SET temp_directory="+quoteString(cfg.tempDir))
	}
	for _, q := range settings {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			s.close()
			return nil, fmt.Errorf("configure duckdb (%s): %w", q, err)
		}
	}
	if file == "" {
		return s, nil
	}
	if err := s.attach(ctx, cfg, file, readOnly); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// storageVersion is the DuckDB storage format a writer creates the warehouse file in. The
// default format (v0.10) cannot compress strings with zstd; v1.5.0 can, and the file then needs
// DuckDB 1.5 or later to open, which mcasload bundles.
const storageVersion = "v1.5.0"

// attach attaches file as wh, read-write or read-only, retrying while another process holds
// it; a read-write attach also applies writerSettings and makes the files private.
func (s *session) attach(ctx context.Context, cfg sessionConfig, file string, readOnly bool) error {
	conn := s.conn
	var err error
	attach := "ATTACH " + quoteString(file) + " AS wh"
	if readOnly {
		attach += " (READ_ONLY)"
	} else {
		attach += " (STORAGE_VERSION " + quoteString(storageVersion)
		if cfg.rowGroupRows > 0 {
			attach += fmt.Sprintf(", ROW_GROUP_SIZE %d", cfg.rowGroupRows)
		}
		attach += ")"
	}
	c := cfg.clock
	if c == nil {
		c = clock.Real{}
	}
	deadline := c.Now().Add(cfg.lockWait)
	wait := 20 * time.Millisecond
	for {
		_, err = conn.ExecContext(ctx, attach)
		if err == nil {
			break
		}
		if !isLockConflict(err) || !c.Now().Before(deadline) {
			if isLockConflict(err) {
				return fmt.Errorf("open %s: another process holds the file (%v); close the other reader or DuckDB shell and retry: %w", file, err, ErrBusy)
			}
			err = fmt.Errorf("open %s: %w", file, err)
			markStorage(&err)
			return err
		}
		if err := c.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("open %s: %w", file, err)
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
	if !readOnly {
		// A commit's rows go to the file once: straight into a checkpoint, not first into
		// the WAL (a commit already ends in a checkpoint, as the file is closed after it),
		// and without vacuum rewriting the earlier commits' row groups to merge them.
		settings := writerSettings
		if f := cfg.allocatorFlush; f > 0 {
			settings = append(slices.Clone(settings),
				fmt.Sprintf("SET allocator_flush_threshold = '%dB'", f),
				fmt.Sprintf("SET allocator_bulk_deallocation_flush_threshold = '%dB'", f))
		}
		for _, q := range settings {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("configure duckdb (%s): %w", q, err)
			}
		}
		if err := privateFiles(file); err != nil {
			return err
		}
	}
	return nil
}

// privateFiles makes the DuckDB file and its WAL 0600: DuckDB creates them with the process
// umask, and the WAL can appear at any commit (and outlive a crash).
func privateFiles(file string) error {
	for _, p := range []string{file, file + ".wal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	return nil
}

func (s *session) exec(ctx context.Context, q string, args ...any) error {
	_, err := s.conn.ExecContext(ctx, q, args...)
	return err
}

func (s *session) close() error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.conn != nil {
		errs = append(errs, s.conn.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

// detachClose detaches the warehouse (flushing it) and closes the session, so the file is free
// for readers as soon as the writer is done with it.
func (s *session) detachClose(ctx context.Context) error {
	if s == nil {
		return nil
	}
	err := s.exec(ctx, "DETACH wh")
	if err != nil && isNotAttached(err) {
		err = nil
	}
	return errors.Join(err, s.close())
}
