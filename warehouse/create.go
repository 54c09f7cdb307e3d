package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcasload/mcasload/internal/failpoint"
)

// Creating the DuckDB file. DuckDB creates a new database file and then writes its three
// headers: a process killed between the two (measured: 1 kill in 94 within a first load's first
// 100 ms) leaves an empty file that DuckDB refuses ever after ("not a valid DuckDB database
// file"), so every later run fails on a warehouse that never held a row. The writer therefore
// makes the file under a temporary name, lets DuckDB write its headers (a detach), syncs it and
// renames it into place: the file is either absent or a database.

// headerBytes is the size of DuckDB's headers (a main header and two database headers of 4 KiB):
// a file shorter than that never held a block.
const headerBytes = 3 * 4096

// creatingSuffix names the DuckDB file while it is made; a run killed meanwhile leaves it, and
// the next writer removes it.
const creatingSuffix = ".creating"

// createDatabase makes the warehouse's DuckDB file if it is not there. A file shorter than
// DuckDB's headers with nothing else in the warehouse (no WAL, no Parquet part) is what a
// creation killed by an earlier version left: it goes to the quarantine folder, with a warning,
// and a new file is made. The caller holds the writer's lock.
func (w *Writer) createDatabase(ctx context.Context) error {
	file := filepath.Join(w.dir, DatabaseFile)
	if err := w.setAsideUnfinished(file); err != nil {
		return err
	}
	if _, err := os.Stat(file); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err // there (or not readable: the attach says why)
	}
	tmp := file + creatingSuffix
	for _, p := range []string{tmp, tmp + ".wal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("create %s: remove the unfinished %s: %w", file, p, err)
		}
	}
	cfg := w.sessionConfig()
	cfg.threads = 1
	s, err := openSession(ctx, cfg, "", false)
	if err != nil {
		return fmt.Errorf("create %s: %w", file, err)
	}
	err = s.exec(ctx, "ATTACH "+quoteString(tmp)+" AS wh (STORAGE_VERSION "+quoteString(storageVersion)+")")
	if err == nil {
		err = s.exec(ctx, "DETACH wh")
	}
	if err = errors.Join(err, s.close()); err != nil {
		markStorage(&err)
		return fmt.Errorf("create %s: %w", file, err)
	}
	if _, err := os.Stat(tmp + ".wal"); err == nil {
		return fmt.Errorf("create %s: duckdb left a write-ahead log beside the new file %s", file, tmp)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("create %s: %w", file, err)
	}
	failpoint.Hit("create-database")
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("create %s: %w", file, err)
	}
	if err := syncDir(w.dir); err != nil {
		return fmt.Errorf("create %s: %w", file, err)
	}
	return nil
}

// setAsideUnfinished moves file to the quarantine folder if it is the remains of a creation
// that was killed before DuckDB wrote its headers (see createDatabase).
func (w *Writer) setAsideUnfinished(file string) error {
	fi, err := os.Stat(file)
	if err != nil || fi.Size() >= headerBytes || hasParquet(w.dir) {
		return nil
	}
	if _, err := os.Stat(file + ".wal"); !errors.Is(err, os.ErrNotExist) {
		return nil // a WAL to replay: not for us to judge (the attach says what DuckDB thinks)
	}
	q, err := quarantine(w.dir, w.opts.Clock.Now(), []string{file})
	if err != nil {
		return fmt.Errorf("set aside the unfinished %s: %w", file, err)
	}
	w.log.Warn("moved an unfinished duckdb file (shorter than its headers: a first run killed while creating it) to quarantine and made a new one",
		"bytes", fi.Size(), "to", q)
	return nil
}
