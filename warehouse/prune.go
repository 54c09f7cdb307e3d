package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/idindex"
)

// migrationAddHorizons records each tenant's retention horizon: the first day Prune kept.
// Commits store nothing older, and reconciliation removes Parquet days older than it.
const migrationAddHorizons = `CREATE TABLE wh.horizons (tenant VARCHAR PRIMARY KEY, day DATE NOT NULL, set_at TIMESTAMPTZ NOT NULL);`

// PruneResult is what Prune removed from one tenant.
type PruneResult struct {
	Tenant       string
	Horizon      string   // YYYY-MM-DD: the first day kept
	Days         []string // days removed from either sink, sorted
	Rows         int64    // ids removed from DuckDB (activity_ids; the rows of activities or staging with them)
	ParquetFiles int
	ParquetBytes int64
	IDs          int64 // pairs removed from the dedupe's id set
}

// Prune removes every day before horizon (a UTC day) of each tenant in tenants (every tenant
// when empty) from both sinks, the dedupe index and the days still to publish, and records the
// horizon, which never moves back: commits then store nothing older (CommitResult.Old).
//
// It is crash-safe in three steps, each finished by the next run (or by reconciliation at the
// next Open) when a crash stops it: one DuckDB transaction deletes the rows and records the
// horizon; then the Parquet files of the days behind it are removed (reconcile removes any left,
// as it knows the horizon); then the id set drops the pairs behind it (a superset meanwhile,
// which is harmless; openIDs drops them too).
func (w *Writer) Prune(ctx context.Context, horizon time.Time, tenants []string) (_ []PruneResult, err error) {
	defer markStorage(&err)
	s, err := w.session(ctx)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	held, err := listTenants(ctx, s.conn)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	selected, err := selectTenants(tenants, held)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	day := horizon.UTC().Format(time.DateOnly)
	var out []PruneResult
	for _, label := range selected {
		res, err := w.pruneDuckDB(ctx, s, label, day)
		if err != nil {
			return out, fmt.Errorf("prune tenant %s: %w", label, err)
		}
		failpoint.Hit("prune-after-commit")
		if err := w.pruneParquet(label, res.Horizon, &res); err != nil {
			return out, fmt.Errorf("prune tenant %s: %w", label, err)
		}
		if res.IDs, err = w.pruneIDs(label, res.Horizon); err != nil {
			return out, fmt.Errorf("prune tenant %s: %w", label, err)
		}
		slices.Sort(res.Days)
		res.Days = slices.Compact(res.Days)
		w.log.Info("pruned", "tenant", label, "horizon", res.Horizon, "days", len(res.Days), "rows", res.Rows,
			"parquet_files", res.ParquetFiles, "ids", res.IDs)
		out = append(out, res)
	}
	// A publisher (Options.DatasetChanged) writes a manifest without the removed files; they
	// are deleted remotely after its grace period.
	if err := w.DatasetChanged(ctx); err != nil {
		return out, fmt.Errorf("prune: publish the dataset: %w", err)
	}
	return out, nil
}

// pruneDuckDB deletes tenant label's rows before day (or before its recorded horizon, if that
// is later) from every table with days (each dataset, its index, staging and pending), and
// records the horizon, in one transaction.
func (w *Writer) pruneDuckDB(ctx context.Context, s *session, label, day string) (PruneResult, error) {
	res := PruneResult{Tenant: label, Horizon: day}
	old, err := readHorizon(ctx, s.conn, label)
	if err != nil {
		return res, err
	}
	if old != "" && old > day {
		res.Horizon = old // a horizon never moves back: older rows may be gone already
	}
	err = inTx(ctx, s, func() error {
		for _, t := range datasets {
			days, err := queryStrings(ctx, s.conn, `SELECT DISTINCT strftime(day, '%Y-%m-%d') FROM wh.`+t.index+` WHERE tenant = ? AND day < ?::DATE`, label, res.Horizon)
			if err != nil {
				return err
			}
			res.Days = append(res.Days, days...)
			var n int64
			if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM wh.`+t.index+` WHERE tenant = ? AND day < ?::DATE`, label, res.Horizon).Scan(&n); err != nil {
				return err
			}
			res.Rows += n
			for _, tb := range []string{t.name, t.index, t.staging, t.pending} {
				if err := s.exec(ctx, `DELETE FROM wh.`+tb+` WHERE tenant = ? AND day < ?::DATE`, label, res.Horizon); err != nil {
					return fmt.Errorf("delete from %s: %w", tb, err)
				}
			}
		}
		for _, tb := range summaryTables() {
			if err := s.exec(ctx, `DELETE FROM wh.`+tb+` WHERE tenant = ? AND day < ?::DATE`, label, res.Horizon); err != nil {
				return fmt.Errorf("delete from %s: %w", tb, err)
			}
		}
		if err := s.exec(ctx, `INSERT OR REPLACE INTO wh.horizons VALUES (?, ?::DATE, ?)`, label, res.Horizon, w.opts.Clock.Now().UTC()); err != nil {
			return err
		}
		failpoint.Hit("prune-before-commit")
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("delete days: %w", err)
	}
	// Checkpointed at once, like a commit: the deletes leave no WAL behind.
	if err := s.exec(ctx, "CHECKPOINT wh"); err != nil {
		return res, fmt.Errorf("checkpoint: %w", err)
	}
	if err := privateFiles(filepath.Join(w.dir, DatabaseFile)); err != nil {
		w.log.Warn("make the warehouse files private", "err", err)
	}
	return res, nil
}

// pruneParquet removes tenant label's Parquet day folders before horizon in every dataset.
// res, when not nil, counts them.
func (w *Writer) pruneParquet(label, horizon string, res *PruneResult) error {
	for _, t := range datasets {
		if err := w.pruneDataset(filepath.Join(w.dir, t.parquetDir, tenantPrefix+label), horizon, res); err != nil {
			return err
		}
	}
	return nil
}

// pruneDataset removes the day folders before horizon of one tenant's folder root of a
// dataset, files first.
func (w *Writer) pruneDataset(root, horizon string, res *PruneResult) error {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list parquet folder %s: %w", root, err)
	}
	for _, e := range entries {
		day, ok := strings.CutPrefix(e.Name(), dayPrefix)
		if !ok || !e.IsDir() || day >= horizon {
			continue
		}
		dir := filepath.Join(root, e.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("list parquet folder %s: %w", dir, err)
		}
		// A day folder holds only parts and, after a crash, temporary files: all go.
		for _, f := range files {
			path := filepath.Join(dir, f.Name())
			info, err := f.Info()
			if err != nil {
				return fmt.Errorf("stat %s: %w", path, err)
			}
			if err := os.RemoveAll(path); err != nil {
				return fmt.Errorf("remove %s: %w", path, err)
			}
			failpoint.Hit("prune-parquet")
			if res != nil && partRE.MatchString(f.Name()) {
				res.ParquetFiles++
				res.ParquetBytes += info.Size()
			}
		}
		if err := os.Remove(dir); err != nil {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
		if res != nil {
			res.Days = append(res.Days, day)
		}
	}
	return syncDir(root)
}

// pruneIDs drops tenant label's id pairs before horizon from its id set of every dataset.
func (w *Writer) pruneIDs(label, horizon string) (int64, error) {
	d, err := dayNumber(horizon)
	if err != nil {
		return 0, err
	}
	var removed int64
	for _, t := range datasets {
		x := w.ids[knownKey{t, label}]
		if x == nil {
			if _, err := os.Stat(w.idsDir(t, label)); errors.Is(err, os.ErrNotExist) {
				continue // never written: nothing to drop
			}
			if x, err = idindex.Open(w.idsDir(t, label)); err != nil {
				// Damaged: the next commit rebuilds it from DuckDB, which no longer holds the days.
				w.log.Warn("the dedupe's id index is damaged; the next load rebuilds it", "err", err)
				if err := idindex.Remove(w.idsDir(t, label)); err != nil {
					return removed, err
				}
				continue
			}
		}
		n, err := x.Drop(d)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// pruneBehindHorizons removes the Parquet files of every tenant's days before its horizon: what
// a prune that died after its DuckDB transaction left (reconcile calls it).
func (w *Writer) pruneBehindHorizons(ctx context.Context, s *session) error {
	return scanRows(ctx, s.conn, `SELECT tenant, strftime(day, '%Y-%m-%d') FROM wh.horizons`, func(r *sql.Rows) error {
		var label, day string
		if err := r.Scan(&label, &day); err != nil {
			return err
		}
		return w.pruneParquet(label, day, nil)
	})
}

// readHorizon is tenant label's horizon (YYYY-MM-DD), "" when it has none.
func readHorizon(ctx context.Context, conn *sql.Conn, label string) (string, error) {
	days, err := queryStrings(ctx, conn, `SELECT strftime(day, '%Y-%m-%d') FROM wh.horizons WHERE tenant = ?`, label)
	if err != nil || len(days) == 0 {
		return "", err
	}
	return days[0], nil
}

// horizonDay is tenant label's horizon as a Date32 (0 when it has none: 1970 is older than any
// activity).
func horizonDay(ctx context.Context, conn *sql.Conn, label string) (arrow.Date32, error) {
	day, err := readHorizon(ctx, conn, label)
	if err != nil || day == "" {
		return 0, err
	}
	d, err := dayNumber(day)
	return arrow.Date32(d), err
}

// dayNumber is a YYYY-MM-DD day as days since 1970-01-01.
func dayNumber(day string) (int32, error) {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return 0, fmt.Errorf("read day %q: %w", day, err)
	}
	return int32(arrow.Date32FromTime(t)), nil
}

// Horizon is tenant label's retention horizon, the first day Prune kept (zero time when none):
// commits store nothing older.
func (w *Writer) Horizon(ctx context.Context, label string) (_ time.Time, err error) {
	defer markStorage(&err)
	s, err := w.session(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("read horizon: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	day, err := readHorizon(ctx, s.conn, label)
	if err != nil || day == "" {
		return time.Time{}, err
	}
	return time.Parse(time.DateOnly, day)
}
