package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/file"
)

// localFiles lists the dataset under dir (datasetPaths) with each file's digest and row count.
// cache supplies digests of files whose size and modification time are unchanged and receives
// the new ones; entries of files that are gone are dropped.
func localFiles(ctx context.Context, dir string, cache map[string]Hash) ([]File, error) {
	rels, err := datasetPaths(ctx, dir)
	if err != nil {
		return nil, err
	}
	files := make([]File, 0, len(rels))
	seen := map[string]bool{}
	for _, rel := range rels {
		f, err := ParsePath(rel)
		if err != nil {
			return nil, fmt.Errorf("list local dataset %s: %w", dir, err)
		}
		if err := describe(filepath.Join(dir, filepath.FromSlash(rel)), &f, cache); err != nil {
			return nil, fmt.Errorf("list local dataset %s: %w", dir, err)
		}
		seen[rel] = true
		files = append(files, f)
	}
	for p := range cache {
		if !seen[p] {
			delete(cache, p)
		}
	}
	return files, nil
}

// datasetPaths lists the Parquet files under dir, as sorted slash-separated paths relative to
// it: every regular *.parquet file in any folder. Hidden names (".part-….parquet.tmp" of a write
// in progress, ".sync-next") and "_" names are skipped, as engines skip them. A missing dir is
// an empty dataset.
func datasetPaths(ctx context.Context, dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if p != dir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(name, ".parquet") || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list local dataset %s: %w", dir, err)
	}
	slices.Sort(out)
	return out, nil
}

// describe fills f's size, digest and rows, from cache when the file is unchanged.
func describe(path string, f *File, cache map[string]Hash) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if h, ok := cache[f.Path]; ok && h.Size == info.Size() && h.ModTime == info.ModTime().UnixNano() {
		f.Size, f.SHA256, f.Rows = h.Size, h.SHA256, h.Rows
		return nil
	}
	f.Size = info.Size()
	if f.SHA256, err = hashFile(path); err != nil {
		return err
	}
	if f.Rows, err = parquetRows(path); err != nil {
		return err
	}
	if cache != nil {
		cache[f.Path] = Hash{Size: f.Size, ModTime: info.ModTime().UnixNano(), SHA256: f.SHA256, Rows: f.Rows}
	}
	return nil
}

// hashFile is the sha256 of a file's bytes, in lowercase hex.
func hashFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// parquetRows reads the row count from a Parquet file's footer. A file without a readable
// footer is refused: publishing it would hand every reader a damaged file.
func parquetRows(path string) (int64, error) {
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		return 0, fmt.Errorf("read parquet footer of %s: %w (mcasload verify finds and repair quarantines damaged files)", path, err)
	}
	defer r.Close()
	return r.NumRows(), nil
}
