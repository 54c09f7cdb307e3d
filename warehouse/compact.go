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
)

// CompactOptions choose what Compact merges.
type CompactOptions struct {
	Days        []string // YYYY-MM-DD; empty means every day with at least MinFiles files
	TargetBytes int64    // merge files until the output would pass this size (default 512 MB)
	MinFiles    int      // compact a day only if it has at least this many files (default 2)
}

// CompactResult counts what Compact did.
type CompactResult struct {
	Days        int // days compacted
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
	days := opts.Days
	if len(days) == 0 {
		days, err = w.daysWithFiles(func(n int) bool { return n >= opts.MinFiles })
		if err != nil {
			return res, fmt.Errorf("compact: %w", err)
		}
	}
	for _, d := range days {
		r, err := w.compactDay(ctx, s, d, opts)
		if err != nil {
			return res, fmt.Errorf("compact: %w", err)
		}
		if r.FilesBefore != r.FilesAfter {
			res.Days++
		}
		res.FilesBefore += r.FilesBefore
		res.FilesAfter += r.FilesAfter
	}
	return res, nil
}

func (w *Writer) daysWithFiles(keep func(n int) bool) ([]string, error) {
	parts, _, _, err := listParts(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	for _, p := range parts {
		count[p.day]++
	}
	var days []string
	for d, n := range count {
		if keep(n) {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	return days, nil
}

func (w *Writer) compactDay(ctx context.Context, s *session, day string, opts CompactOptions) (CompactResult, error) {
	start := time.Now()
	if opts.TargetBytes <= 0 {
		opts.TargetBytes = 512 << 20
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return CompactResult{}, fmt.Errorf("compact day %q: use YYYY-MM-DD", day)
	}
	all, _, _, err := listParts(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return CompactResult{}, err
	}
	var parts []partFile
	for _, p := range all {
		if p.day == day {
			parts = append(parts, p)
		}
	}
	res := CompactResult{FilesBefore: len(parts)}
	var groups [][]partFile
	var cur []partFile
	var size int64
	for _, p := range parts {
		if len(cur) > 0 && size+p.size > opts.TargetBytes {
			groups = append(groups, cur)
			cur, size = nil, 0
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
		// Parts may predate schema version 2 (no parameters): see anyVersionScan.
		// No ORDER BY: sorting a day (160k rows, 550 MB of raw at 5M) took most of a 1 GB
		// memory limit; streaming the parts keeps a compaction to a row group at a time.
		q := anyVersionScan("["+strings.Join(paths, ", ")+"]", false)
		name := partName(g[0].from, g[len(g)-1].to)
		if err := w.writeParquet(ctx, s, w.dayDir(day), name, q, "compact"); err != nil {
			return res, err
		}
		for _, p := range g {
			if filepath.Base(p.path) == name {
				continue // replaced by the merged file (only if reconciliation was skipped)
			}
			if err := os.Remove(p.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return res, fmt.Errorf("remove compacted %s: %w", p.path, err)
			}
		}
		if err := syncDir(w.dayDir(day)); err != nil {
			return res, err
		}
	}
	w.log.Info("compacted parquet day", "day", day, "files_before", res.FilesBefore, "files_after", res.FilesAfter, "took", time.Since(start))
	return res, nil
}
