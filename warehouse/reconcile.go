package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/mcasload/mcasload/internal/failpoint"
)

// reconcile makes the Parquet dataset hold exactly the committed rows: it removes temporary
// files and files beyond the last commit, removes parts a compacted file covers (a compaction
// that died before deleting them), publishes pending days and rewrites the last run's rejects.
func (w *Writer) reconcile(ctx context.Context, s *session) error {
	if w.opts.Sinks.parquet() {
		for _, t := range datasets {
			if err := w.removeOrphans(ctx, s, t); err != nil {
				return fmt.Errorf("reconcile parquet: %w", err)
			}
		}
		failpoint.Hit("reconcile")
		if err := w.pruneBehindHorizons(ctx, s); err != nil {
			return fmt.Errorf("reconcile parquet: %w", err)
		}
		if err := w.publishPending(ctx, s); err != nil {
			return fmt.Errorf("reconcile parquet: %w", err)
		}
	}
	for _, t := range datasets {
		runs, err := queryStrings(ctx, s.conn, `SELECT run_id FROM wh.`+t.rejects+` GROUP BY run_id ORDER BY max("at") DESC LIMIT 1`)
		if err != nil {
			return fmt.Errorf("reconcile rejects: %w", err)
		}
		for _, r := range runs {
			if err := w.writeRejectedFile(ctx, s, t, r); err != nil {
				return fmt.Errorf("reconcile rejects: %w", err)
			}
		}
	}
	return nil
}

// removeOrphans removes the files of dataset t no commit backs (see reconcile).
func (w *Writer) removeOrphans(ctx context.Context, s *session, t *whTable) error {
	var maxSeq int64
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM wh.commits`).Scan(&maxSeq); err != nil {
		return fmt.Errorf("read last commit: %w", err)
	}
	parts, temps, unknown, err := listParts(filepath.Join(w.dir, t.parquetDir), w.legacyTenant)
	if err != nil {
		return err
	}
	dirty := map[string]bool{}
	remove := func(path, why string) error {
		w.log.Warn("removing parquet file: "+why, "path", path)
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		dirty[filepath.Dir(path)] = true
		return nil
	}
	for _, t := range temps {
		if err := remove(t, "temporary file of an interrupted write"); err != nil {
			return err
		}
	}
	for _, u := range unknown {
		w.log.Warn("unknown file in the parquet dataset; mcasload verify counts it, remove it by hand", "path", u)
	}
	var kept []partFile
	for _, p := range parts {
		if p.to > maxSeq {
			if err := remove(p.path, "no committed state backs it"); err != nil {
				return err
			}
			continue
		}
		kept = append(kept, p)
	}
	for i, p := range kept {
		covered := slices.ContainsFunc(kept, func(o partFile) bool {
			return o.partition == p.partition && o.path != p.path && o.from <= p.from && p.to <= o.to &&
				(o.from != p.from || o.to != p.to || o.path < p.path)
		})
		if covered {
			if err := remove(kept[i].path, "a compacted file already holds its rows"); err != nil {
				return err
			}
		}
	}
	for d := range dirty {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}
