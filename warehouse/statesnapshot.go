package warehouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The state snapshot. The state table (scan watermarks, stream cursors, the stream's hour) lives
// in the DuckDB file, so a file rebuilt from Parquet used to start without it: the next scan went
// 30 days back and the next stream read every blob again (the key dropped what it already held,
// at the price of the whole re-read). Every Close of a warehouse that keeps both sinks therefore
// writes the state table, once everything committed is published, to state/state.json (through a
// synced temporary file and a rename), with the last commit it covers; RebuildDatabase restores
// it when that commit is one the Parquet dataset holds. The snapshot is as old as the last Close:
// a rebuilt warehouse resumes from there and reads again only what came after, which the key
// keeps from being stored twice. State written later wins over it (a key already in the new file
// stays as it is).

// StateDir is the folder of the state snapshot, beside the datasets.
const StateDir = "state"

// stateSnapshotFile is the snapshot's name in StateDir.
const stateSnapshotFile = "state.json"

// stateSnapshotVersion is the snapshot's format.
const stateSnapshotVersion = 1

type stateSnapshot struct {
	Version int `json:"version"`
	// Commit is the last commit of the DuckDB file when the snapshot was written; every commit
	// up to it was published to Parquet.
	Commit  int64      `json:"commit"`
	Written time.Time  `json:"written"`
	Rows    []stateRow `json:"rows"`
}

type stateRow struct {
	Tenant  string    `json:"tenant"`
	Key     string    `json:"key"`
	Value   string    `json:"value"`
	Updated time.Time `json:"updated"`
}

// writeStateSnapshot writes the state table to the snapshot; Close calls it once every commit is
// published.
func (w *Writer) writeStateSnapshot(ctx context.Context, s *session) error {
	snap := stateSnapshot{Version: stateSnapshotVersion, Written: w.opts.Clock.Now().UTC(), Rows: []stateRow{}}
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM wh.commits`).Scan(&snap.Commit); err != nil {
		return fmt.Errorf("write state snapshot: %w", err)
	}
	err := scanRows(ctx, s.conn, `SELECT tenant, key, value, updated FROM wh.state ORDER BY tenant, key`, func(r *sql.Rows) error {
		var row stateRow
		if err := r.Scan(&row.Tenant, &row.Key, &row.Value, &row.Updated); err != nil {
			return err
		}
		row.Updated = row.Updated.UTC()
		snap.Rows = append(snap.Rows, row)
		return nil
	})
	if err != nil {
		return fmt.Errorf("write state snapshot: %w", err)
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("write state snapshot: %w", err)
	}
	dir := filepath.Join(w.dir, StateDir)
	if err := mkdirAll(dir); err != nil {
		return fmt.Errorf("write state snapshot: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, stateSnapshotFile), b); err != nil {
		return fmt.Errorf("write state snapshot: %w", err)
	}
	return nil
}

// readStateSnapshot reads the warehouse's state snapshot; ok is false when there is none.
func readStateSnapshot(dir string) (snap stateSnapshot, ok bool, err error) {
	path := filepath.Join(dir, StateDir, stateSnapshotFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return snap, false, nil
	}
	if err != nil {
		return snap, false, fmt.Errorf("read state snapshot: %w", err)
	}
	if err := json.Unmarshal(b, &snap); err != nil {
		return snap, false, fmt.Errorf("read state snapshot %s: %w", path, err)
	}
	if snap.Version != stateSnapshotVersion {
		return snap, false, fmt.Errorf("read state snapshot %s: version %d, this mcasload reads %d", path, snap.Version, stateSnapshotVersion)
	}
	return snap, true, nil
}

// restoreStateSnapshot puts the snapshot's state into a rebuilt DuckDB file whose Parquet
// dataset holds every commit up to published. A snapshot of a later commit is not used (its
// watermarks could pass rows the dataset lacks), nor a damaged one: both with a warning, the
// rebuilt warehouse then starting over as it did before snapshots.
func (w *Writer) restoreStateSnapshot(ctx context.Context, published int64) error {
	snap, ok, err := readStateSnapshot(w.dir)
	if err != nil {
		w.log.Warn("rebuilt the duckdb file without its scan watermarks and stream cursors: the state snapshot cannot be read; the next scan starts over and the next stream reads every blob again (nothing is stored twice)", "error", err)
		return nil
	}
	if !ok {
		return nil
	}
	if snap.Commit > published {
		w.log.Warn("rebuilt the duckdb file without its scan watermarks and stream cursors: the state snapshot is newer than the parquet dataset; the next scan starts over and the next stream reads every blob again (nothing is stored twice)",
			"snapshot_commit", snap.Commit, "parquet_commit", published)
		return nil
	}
	s, err := w.session(ctx)
	if err != nil {
		return fmt.Errorf("restore state snapshot: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	for _, r := range snap.Rows {
		if err := s.exec(ctx, `INSERT INTO wh.state (tenant, key, value, updated) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, r.Tenant, r.Key, r.Value, r.Updated); err != nil {
			return fmt.Errorf("restore state snapshot: %w", err)
		}
	}
	w.log.Info("restored the scan watermarks and stream cursors from the state snapshot",
		"rows", len(snap.Rows), "snapshot_commit", snap.Commit, "written", snap.Written)
	return nil
}
