package warehouse

import (
	"bytes"
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

// splitParquetFiles lists the *.parquet files of the dataset (in both layouts), split into the
// readable and the damaged.
func splitParquetFiles(root string) (good, damaged []string, err error) {
	var files []string
	for _, g := range []string{filepath.Join(root, tenantPrefix+"*", dayPrefix+"*", "*.parquet"), filepath.Join(root, dayPrefix+"*", "*.parquet")} {
		m, err := filepath.Glob(g)
		if err != nil {
			return nil, nil, fmt.Errorf("list parquet files: %w", err)
		}
		files = append(files, m...)
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

// quarantineParquet moves the damaged Parquet files of dataset t, and the ones mcasload did not
// write, aside.
func (w *Writer) quarantineParquet(t *whTable) error {
	root := filepath.Join(w.dir, t.parquetDir)
	_, damaged, err := splitParquetFiles(root)
	if err != nil {
		return err
	}
	_, _, unknown, err := listParts(root, w.legacyTenant)
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
