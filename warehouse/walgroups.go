package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Commits grouped in the WAL. A checkpoint writes the rows committed since the previous one as
// row groups of their own, and DuckDB appends a commit's rows to the last row group while it is
// still in memory (not yet checkpointed). While the commits hold the file (hold.go), a commit
// therefore stays in the WAL, and its rows in memory, until the rows since the last checkpoint
// make about one row group of the size a merge would build (rowgroups.go); the commit that
// completes it checkpoints at once, straight from memory and without writing its rows to the
// WAL (checkpoint_threshold 1MB with auto_checkpoint_skip_wal_threshold). The rows land in
// large row groups as they are committed, and Close's merge finds nothing left to do for them:
// the merge rewrote every row a second time (a quarter to a third of a load). The WAL keeps
// DuckDB's durability: a commit is on disk when COMMIT returns, and a crash replays it.

// walGroup is what the commits held in the WAL hold: the rows and their Arrow size (about
// DuckDB's uncompressed size) committed since the last checkpoint.
type walGroup struct {
	rows, bytes int64
	threshold   string // the checkpoint_threshold set on the held session ("" unknown)
}

// checkpointEvery is the checkpoint_threshold of a commit that completes a row group: any WAL
// at all makes DuckDB checkpoint after it.
const checkpointEvery = "0B"

// walGroupBytes is the Arrow size of the rows one row group is built from: what a merge would
// put in one (rowGroupRows: two thirds of a merge's DuckDB memory). 0 turns grouping off.
func (w *Writer) walGroupBytes() int64 {
	if w.groupBytes != 0 {
		return w.groupBytes
	}
	return mergeMemory(w.opts.MemoryLimit) * 2 / 3
}

// walBackstop is the checkpoint_threshold of a commit that stays in the WAL: DuckDB checkpoints
// by itself past it, should the writer's own accounting be wrong.
func (w *Writer) walBackstop() string {
	return fmt.Sprintf("%dB", max(2*w.walGroupBytes(), 1<<20))
}

// closesWALGroup says whether a commit of rows rows of bytes Arrow bytes completes the row
// group the WAL holds: when, with it, the rows since the last checkpoint come within half a
// commit of a row group (so that groups are a row group give or take half a commit). Without a
// hold every commit lets go of the file, which checkpoints it.
func (w *Writer) closesWALGroup(rows, bytes int64) bool {
	target := w.walGroupBytes()
	if target <= 0 || w.opts.HoldIdle < 0 {
		return true
	}
	return w.wal.bytes+bytes+bytes/2 >= target || w.wal.rows+rows+rows/2 >= maxRowGroupRows
}

// planWALGroup sets the held session's checkpoint threshold for a commit of rows rows of bytes
// Arrow bytes: the commit checkpoints if it completes the WAL's row group, and stays in the WAL
// otherwise.
func (w *Writer) planWALGroup(ctx context.Context, s *session, rows, bytes int64) error {
	want := checkpointEvery
	if !w.closesWALGroup(rows, bytes) {
		want = w.walBackstop()
	}
	if w.wal.threshold == want {
		return nil
	}
	if err := s.exec(ctx, "SET checkpoint_threshold = "+quoteString(want)); err != nil {
		w.wal.threshold = ""
		return fmt.Errorf("set checkpoint threshold: %w", err)
	}
	w.wal.threshold = want
	return nil
}

// noteWALGroup records a commit of rows rows of bytes Arrow bytes that DuckDB committed: if it
// checkpointed (the WAL is empty), the next row group starts with the next commit.
func (w *Writer) noteWALGroup(rows, bytes int64) {
	st, err := os.Stat(filepath.Join(w.dir, DatabaseFile) + ".wal")
	if errors.Is(err, os.ErrNotExist) || err == nil && st.Size() == 0 {
		w.wal.rows, w.wal.bytes = 0, 0
		w.tailsCheckpointed()
		return
	}
	w.wal.rows += rows
	w.wal.bytes += bytes
}

// resetWALGroup forgets the group: detaching the file checkpointed it, and a new attach starts
// with DuckDB's settings.
func (w *Writer) resetWALGroup() {
	w.wal = walGroup{}
	w.tailsCheckpointed()
}
