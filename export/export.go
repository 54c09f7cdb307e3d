// Package export writes a query result (an Arrow record reader) to one file or to a
// Hive-partitioned folder (day=YYYY-MM-DD/) of zstd Parquet, CSV or NDJSON, atomically and with
// the types a notebook expects: UTC timestamps, lists as lists, raw records as JSON text.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/mcasload/mcasload/output"
)

// Format is an export file format.
type Format string

// The formats Write accepts.
const (
	Parquet Format = "parquet"
	CSV     Format = "csv"
	NDJSON  Format = "ndjson"
)

// Formats lists every format, the default first.
var Formats = []Format{Parquet, CSV, NDJSON}

// ErrUnknownFormat is returned (wrapped) by ParseFormat.
var ErrUnknownFormat = errors.New("unknown export format")

// ErrExists is returned (wrapped) by Write when the output already exists and Force is off.
var ErrExists = errors.New("output already exists")

// ErrNoOutput is returned by CheckOut when no output path is given.
var ErrNoOutput = errors.New("no output given")

// ErrIsFolder is returned (wrapped) by Write when a single-file export names a folder.
var ErrIsFolder = errors.New("the output is a folder")

// ErrPartitionStream is returned by WriteTo for a partitioned export: it needs a folder.
var ErrPartitionStream = errors.New("a partitioned export is a folder of files; it cannot go to standard output")

// ErrNoDay is returned (wrapped) by Write when a partitioned export has no column to take the
// day from.
var ErrNoDay = errors.New("no day to partition by")

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Formats, f) {
		return "", fmt.Errorf("%w %q; accepted: parquet, csv, ndjson", ErrUnknownFormat, s)
	}
	return f, nil
}

// Ext is the file name extension of the format, with the dot.
func (f Format) Ext() string { return "." + string(f) }

// Options configure Write.
type Options struct {
	Format Format
	// PartitionByDay writes a folder of day=YYYY-MM-DD/part-00000.<ext> files instead of one
	// file. The day comes from a "day" date column (then left out of the files, as in any
	// Hive-partitioned dataset: readers take it from the folder name) or else from a "ts"
	// timestamp column (UTC day).
	PartitionByDay bool
	// Force replaces an existing output; without it Write refuses with ErrExists.
	Force bool
	// RowGroupRows is the Parquet row group length (default output.ParquetRowGroupRows).
	RowGroupRows int
	// Rows, when set, counts the rows written so far, for a progress line.
	Rows *atomic.Int64
}

// Result says what Write wrote.
type Result struct {
	Rows  int64
	Files []string // relative to the output folder when partitioned; the file itself otherwise
	Days  []string // the day folders of a partitioned export, sorted
}

// Write writes every row of rdr to out and returns what it wrote. The output appears whole or
// not at all: a file is written under a temporary name beside out, synced and renamed; a
// partitioned export is written into a temporary folder that is renamed into place. Write
// does not release rdr.
func Write(ctx context.Context, out string, rdr array.RecordReader, opts Options) (Result, error) {
	if _, err := ParseFormat(string(opts.Format)); err != nil {
		return Result{}, err
	}
	if opts.Rows == nil {
		opts.Rows = new(atomic.Int64)
	}
	if err := CheckOut(out, opts.Force); err != nil {
		return Result{}, err
	}
	var (
		res Result
		err error
	)
	if opts.PartitionByDay {
		res, err = writePartitioned(ctx, out, rdr, opts)
	} else {
		res, err = writeSingle(ctx, out, rdr, opts)
	}
	if err != nil {
		return res, fmt.Errorf("export %s: %w", out, err)
	}
	return res, nil
}

// CheckOut refuses an existing out unless force is set, and a missing parent folder, so a
// command can fail before it runs a long query.
func CheckOut(out string, force bool) error {
	if out == "" {
		return fmt.Errorf("export: %w", ErrNoOutput)
	}
	if _, err := os.Lstat(out); err == nil && !force {
		return fmt.Errorf("export: %w: %s", ErrExists, out)
	}
	parent := filepath.Dir(out)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return fmt.Errorf("export: folder %s does not exist; create it first", parent)
	}
	return nil
}

func writeSingle(ctx context.Context, out string, rdr array.RecordReader, opts Options) (Result, error) {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return Result{}, err
	}
	tmp := f.Name()
	fail := func(err error) (Result, error) {
		f.Close()
		os.Remove(tmp)
		return Result{}, err
	}
	if err := stream(ctx, f, rdr, opts); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		os.Remove(tmp)
		return Result{}, ErrIsFolder
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return Result{}, err
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return Result{}, err
	}
	return Result{Rows: opts.Rows.Load(), Files: []string{out}}, nil
}

// WriteTo writes every row of rdr to w as one file of opts.Format (standard output, for
// --out -). Unlike Write it cannot take back what it wrote when it fails; partitioning needs
// a folder and is refused. WriteTo does not release rdr.
func WriteTo(ctx context.Context, w io.Writer, rdr array.RecordReader, opts Options) (Result, error) {
	if _, err := ParseFormat(string(opts.Format)); err != nil {
		return Result{}, err
	}
	if opts.PartitionByDay {
		return Result{}, ErrPartitionStream
	}
	if opts.Rows == nil {
		opts.Rows = new(atomic.Int64)
	}
	if err := stream(ctx, w, rdr, opts); err != nil {
		return Result{}, fmt.Errorf("export to stdout: %w", err)
	}
	return Result{Rows: opts.Rows.Load()}, nil
}

// stream writes every row of rdr to w through the format's sink.
func stream(ctx context.Context, w io.Writer, rdr array.RecordReader, opts Options) error {
	s, err := newSink(w, output.NormalizeSchema(rdr.Schema()), opts)
	if err != nil {
		return err
	}
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			s.abort()
			return err
		}
		rec := output.Normalize(rdr.RecordBatch())
		err := s.write(rec)
		rec.Release()
		if err != nil {
			s.abort()
			return err
		}
		opts.Rows.Add(rec.NumRows())
	}
	if err := rdr.Err(); err != nil {
		s.abort()
		return err
	}
	return s.close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
