package warehouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// QuarantineDir is the folder, under the warehouse, where repair moves files it will not use:
// damaged Parquet files, files mcasload did not write, and a damaged DuckDB file. Each repair
// uses its own subfolder named by the time it ran; nothing is deleted.
const QuarantineDir = "quarantine"

var parquetMagic = []byte("PAR1")

// damagedParquet reports whether the file at path cannot be Parquet: too short, or without the
// magic bytes at its start and end (a truncated or overwritten file). It does not read the
// footer; DuckDB reports a damaged footer when it reads the file.
func damagedParquet(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("check parquet %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("check parquet %s: %w", path, err)
	}
	if fi.Size() < 12 {
		return true, nil
	}
	head, tail := make([]byte, 4), make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		return false, fmt.Errorf("check parquet %s: %w", path, err)
	}
	if _, err := f.ReadAt(tail, fi.Size()-4); err != nil {
		return false, fmt.Errorf("check parquet %s: %w", path, err)
	}
	return !bytes.Equal(head, parquetMagic) || !bytes.Equal(tail, parquetMagic), nil
}

// splitParquetFiles lists the *.parquet files of the dataset, split into the readable and the damaged.
func splitParquetFiles(root string) (good, damaged []string, err error) {
	files, err := filepath.Glob(filepath.Join(root, "day=*", "*.parquet"))
	if err != nil {
		return nil, nil, fmt.Errorf("list parquet files: %w", err)
	}
	for _, f := range files {
		bad, err := damagedParquet(f)
		if err != nil {
			return nil, nil, err
		}
		if bad {
			damaged = append(damaged, f)
		} else {
			good = append(good, f)
		}
	}
	return good, damaged, nil
}

// fileList is a DuckDB list literal of paths, for read_parquet and parquet_file_metadata.
func fileList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = quoteString(p)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// quarantine moves paths (inside the warehouse dir) to dir/quarantine/<time>/, keeping their
// path relative to the warehouse, and returns where they went.
func quarantine(dir string, now time.Time, paths []string) (string, error) {
	if len(paths) == 0 {
		return "", nil
	}
	q := filepath.Join(dir, QuarantineDir, now.UTC().Format("20060102T150405.000Z"))
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("quarantine %s: not inside the warehouse %s", p, dir)
		}
		to := filepath.Join(q, rel)
		if err := mkdirAll(filepath.Dir(to)); err != nil {
			return "", fmt.Errorf("quarantine %s: %w", p, err)
		}
		if err := os.Rename(p, to); err != nil {
			return "", fmt.Errorf("quarantine %s: %w", p, err)
		}
	}
	return q, nil
}

// quarantineParquet moves the damaged Parquet files, and the ones mcasload did not write, aside.
func (w *Writer) quarantineParquet() error {
	root := filepath.Join(w.dir, ParquetDir)
	_, damaged, err := splitParquetFiles(root)
	if err != nil {
		return err
	}
	_, _, unknown, err := listParts(root)
	if err != nil {
		return err
	}
	move := append(damaged, unknown...)
	q, err := quarantine(w.dir, w.opts.Clock.Now(), move)
	if err != nil {
		return err
	}
	for _, p := range move {
		w.log.Warn("moved parquet file to quarantine", "path", p, "to", q)
	}
	return nil
}

// HasParquet reports whether the warehouse in dir holds any Parquet file.
func HasParquet(dir string) bool { return hasParquet(dir) }

// RebuildDatabase builds a new DuckDB file for the warehouse in opts.Dir from its Parquet
// dataset, for a DuckDB file that is missing or damaged: the old file (and its WAL) is moved to
// the quarantine folder first. The new file records the last commit the Parquet part names
// cover, so opening it keeps every part; then the rows and the dedupe index are rebuilt as
// Repair(SinkParquet) does.
func RebuildDatabase(ctx context.Context, opts Options) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return fmt.Errorf("rebuild duckdb: %w", err)
	}
	root := filepath.Join(dir, ParquetDir)
	hold := filepath.Join(dir, ParquetDir+".rebuild")
	if _, err := os.Stat(hold); err == nil {
		// A rebuild died while holding the dataset aside: put it back before anything else. The
		// parquet folder then holds at most the empty folders a writer created meanwhile.
		if err := removeEmptyTree(root); err != nil {
			return fmt.Errorf("rebuild duckdb: %s and %s both hold files; keep the right one as %s: %w", hold, root, root, err)
		}
		if err := os.Rename(hold, root); err != nil {
			return fmt.Errorf("rebuild duckdb: move %s back: %w", hold, err)
		}
	}
	parts, _, _, err := listParts(root)
	if err != nil {
		return fmt.Errorf("rebuild duckdb: %w", err)
	}
	if len(parts) == 0 {
		return fmt.Errorf("rebuild duckdb: no parquet files in %s to rebuild from", root)
	}
	var maxSeq int64
	for _, p := range parts {
		maxSeq = max(maxSeq, p.to)
	}
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
	// Opening a writer on a new file reconciles Parquet against it, and with no commit recorded
	// it would remove every part. The dataset is held aside while the file is created and told
	// the last commit; a crash in between leaves it in parquet.rebuild, which the next rebuild
	// moves back first.
	if err := os.Rename(root, hold); err != nil {
		return fmt.Errorf("rebuild duckdb: hold the parquet dataset aside: %w", err)
	}
	restore := func() error {
		if _, err := os.Stat(hold); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err := removeEmptyTree(root); err != nil {
			return fmt.Errorf("rebuild duckdb: %w", err)
		}
		if err := os.Rename(hold, root); err != nil {
			return fmt.Errorf("rebuild duckdb: move %s back to %s: %w", hold, root, err)
		}
		return nil
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
		err = w.Repair(ctx, SinkParquet)
	}
	if cerr := w.Close(context.WithoutCancel(ctx)); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rebuild duckdb: %w", err)
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
	if err := s.exec(ctx, `INSERT INTO wh.commits VALUES (?, ?, ?, 0, 0, 0, 0, []::VARCHAR[])`, seq, "rebuild-from-parquet", w.opts.Clock.Now().UTC()); err != nil {
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
