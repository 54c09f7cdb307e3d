package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcasload/mcasload/tenant"
)

// CompactOptions choose what Compact merges.
type CompactOptions struct {
	Days        []string // YYYY-MM-DD; empty means every day with at least MinFiles files
	Tenants     []string // only these tenants' days; empty means every tenant
	TargetBytes int64    // merge files until the output would pass this size (default 512 MB)
	MinFiles    int      // compact a day only if it has at least this many files (default 2)
	// KeepBytes leaves files of at least this size as they are (0: merge every file): only
	// the runs of smaller ones between them are merged.
	KeepBytes int64
}

// compactTargetBytes is the size a merged file grows to by default (CompactOptions.TargetBytes).
const compactTargetBytes = 512 << 20

// CompactResult counts what Compact did.
type CompactResult struct {
	Days        int // partitions (a tenant's days) compacted
	FilesBefore int
	FilesAfter  int
}

// Compact merges each day's Parquet files into few files of about TargetBytes, atomically: the
// merged file is renamed in before its inputs are deleted, and its name records the commits it
// covers, so an interruption leaves either the inputs or a file reconciliation can finish.
func (w *Writer) Compact(ctx context.Context, opts CompactOptions) (_ CompactResult, err error) {
	defer markStorage(&err)
	var res CompactResult
	if !w.opts.Sinks.parquet() {
		return res, nil
	}
	if opts.MinFiles < 2 {
		opts.MinFiles = 2
	}
	s, err := w.session(ctx)
	if err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	if err := w.publishPending(ctx, s); err != nil {
		return res, fmt.Errorf("compact: %w", err)
	}
	for _, d := range opts.Days {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return res, fmt.Errorf("compact day %q: use YYYY-MM-DD", d)
		}
	}
	least := opts.MinFiles
	if len(opts.Days) > 0 {
		least = 1
	}
	for _, t := range datasets {
		parts, err := w.partitionsWithFiles(t, func(p partition, n int) bool {
			return n >= least && tenant.Selected(opts.Tenants, p.tenant) && (len(opts.Days) == 0 || slices.Contains(opts.Days, p.day))
		})
		if err != nil {
			return res, fmt.Errorf("compact: %w", err)
		}
		for _, d := range parts {
			r, err := w.compactDay(ctx, s, t, d, opts)
			if err != nil {
				return res, fmt.Errorf("compact: %w", err)
			}
			if r.FilesBefore != r.FilesAfter {
				res.Days++
			}
			res.FilesBefore += r.FilesBefore
			res.FilesAfter += r.FilesAfter
		}
	}
	return res, nil
}

// partitionsWithFiles lists the partitions (a tenant's days) of dataset t whose file count keep
// accepts.
func (w *Writer) partitionsWithFiles(t *whTable, keep func(p partition, n int) bool) ([]partition, error) {
	parts, _, _, err := listParts(filepath.Join(w.dir, t.parquetDir), w.legacyTenant)
	if err != nil {
		return nil, err
	}
	count := map[partition]int{}
	for _, p := range parts {
		count[p.partition]++
	}
	var out []partition
	for p, n := range count {
		if keep(p, n) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b partition) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// compactGroupFiles is the most parts one merged file is made of: reading the parts takes
// DuckDB memory for each (the schema union across files), and 83 parts of one day ran the
// default budget's 107 MiB out of memory.
var compactGroupFiles = 16

// compactDay merges the files of one partition of dataset t (in either layout; the merged file
// goes to the tenant layout).
func (w *Writer) compactDay(ctx context.Context, s *session, t *whTable, day partition, opts CompactOptions) (CompactResult, error) {
	start := time.Now()
	if opts.TargetBytes <= 0 {
		opts.TargetBytes = compactTargetBytes
	}
	all, _, _, err := listParts(filepath.Join(w.dir, t.parquetDir), w.legacyTenant)
	if err != nil {
		return CompactResult{}, err
	}
	var parts []partFile
	for _, p := range all {
		if p.partition == day {
			parts = append(parts, p)
		}
	}
	res := CompactResult{FilesBefore: len(parts)}
	var groups [][]partFile
	var cur []partFile
	var size int64
	for _, p := range parts {
		kept := opts.KeepBytes > 0 && p.size >= opts.KeepBytes
		if len(cur) > 0 && (kept || size+p.size > opts.TargetBytes || len(cur) == compactGroupFiles) {
			groups = append(groups, cur)
			cur, size = nil, 0
		}
		if kept { // a group of its own, which is not rewritten
			groups = append(groups, []partFile{p})
			continue
		}
		cur = append(cur, p)
		size += p.size
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	for _, g := range groups {
		res.FilesAfter++
		if len(g) < 2 {
			continue
		}
		paths := make([]string, len(g))
		for i, p := range g {
			paths[i] = quoteString(p.path)
		}
		// Parts may predate schema version 4 (copies of raw missing): see fileScan.
		// No ORDER BY: sorting a day (160k rows, 550 MB of raw at 5M) took most of a 1 GB
		// memory limit; streaming the parts keeps a compaction to a row group at a time.
		q, err := t.fileScan(ctx, s.conn, "["+strings.Join(paths, ", ")+"]")
		if err != nil {
			return res, fmt.Errorf("compact %s: %w", day.day, err)
		}
		name := partName(g[0].from, g[len(g)-1].to)
		dir := w.partDir(t, day)
		if err := w.writeParquet(ctx, s, t, dir, name, q, "compact"); err != nil {
			return res, err
		}
		for _, p := range g {
			if p.path == filepath.Join(dir, name) {
				continue // replaced by the merged file (only if reconciliation was skipped)
			}
			if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return res, fmt.Errorf("remove compacted %s: %w", p.path, err)
			}
			if err := syncDir(filepath.Dir(p.path)); err != nil {
				return res, err
			}
		}
	}
	w.log.Info("compacted parquet day", "table", t.name, "tenant", day.tenant, "day", day.day, "files_before", res.FilesBefore, "files_after", res.FilesAfter, "took", time.Since(start))
	return res, nil
}
