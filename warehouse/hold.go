package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"
)

// holdState is the commits' hold on the DuckDB file. Attaching the file, and detaching it
// (which checkpoints it), cost more the bigger the warehouse: about 0.8 s per commit at 5M
// rows, against a commit's own work of about the same. A load commits back to back, so the
// writer keeps the file attached between commits and lets go of it after Options.HoldIdle
// without one, before any other use of the file, and at Close. The cache stays warm too: the
// dedupe probe reads the index from memory instead of from the file at every commit.
// DefaultHoldCache is how much DuckDB may keep cached while the commits hold the file, unless
// Options.HoldCache says otherwise (a memory budget does).
const DefaultHoldCache = 64 << 20

type holdState struct {
	mu       sync.Mutex // taken by Commit for its whole run and by the idle timer
	attached bool
	timer    *time.Timer
	gen      uint64 // bumped by every commit, so a late timer does not release a newer hold
}

// commitSession is the session of a Commit: one in-memory DuckDB kept for the writer's life,
// with the file attached while commits follow each other. Reusing the instance saves starting
// DuckDB per commit. It runs DuckDB on half the threads: the loader's conversion workers use
// the other half at the same time, and a DuckDB thread with nothing to do spins rather than
// sleeps, which on a shared 2-core machine costs more than it gives (measured: a third less
// CPU and a faster load with --threads 2). Attaching is logged (debug "opened the duckdb
// file", a phase of the bench's log reading), whichever caller (Commit, PrepareIDs) attaches.
// The caller holds w.hold.mu.
func (w *Writer) commitSession(ctx context.Context) (*session, error) {
	w.hold.gen++
	if w.hold.timer != nil {
		w.hold.timer.Stop()
	}
	if w.hold.attached {
		return w.base, nil
	}
	tOpen := time.Now()
	cfg := w.sessionConfig()
	cfg.threads = w.commitThreads()
	if w.base == nil {
		s, err := openSession(ctx, cfg, "", false)
		if err != nil {
			return nil, err
		}
		w.base = s
	}
	if err := w.base.attach(ctx, cfg, filepath.Join(w.dir, DatabaseFile), false); err != nil {
		w.closeBase()
		return nil, err
	}
	w.hold.attached = true
	w.log.Debug("opened the duckdb file", "took", time.Since(tOpen))
	return w.base, nil
}

// commitThreads is how many DuckDB threads the commits' session runs on.
func (w *Writer) commitThreads() int { return max(1, w.sessionConfig().threads/2) }

// endCommit keeps the file attached for the next commit, or lets go of it at once when the
// commit failed (the instance goes too, so the next commit starts clean) or holding is off.
// The caller holds w.hold.mu.
func (w *Writer) endCommit(ctx context.Context, failed bool) error {
	if failed {
		w.forgetIDs() // checked again against what DuckDB holds
	}
	if failed || w.opts.HoldIdle < 0 {
		return w.detachBase(ctx, failed)
	}
	// DuckDB caches the blocks each commit wrote (about 230 bytes a row) until its memory
	// limit: let go of them, and start afresh, once they pass Options.HoldCache. The rows
	// of the commits held in the WAL (walgroups.go; tagged IN_MEMORY_TABLE, and
	// OVERFLOW_STRINGS for long strings) are not cache: they are the row group the next
	// checkpoint writes.
	var cached int64
	if err := w.base.conn.QueryRowContext(ctx, `SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory() WHERE tag NOT IN ('IN_MEMORY_TABLE', 'OVERFLOW_STRINGS') OR ?`, w.wal.bytes == 0).Scan(&cached); err != nil || cached > w.opts.HoldCache {
		t, inWAL := time.Now(), w.wal.bytes
		err = errors.Join(err, w.detachBase(ctx, false))
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.log.Debug("closed the duckdb file", "took", time.Since(t), "cached", cached, "in_wal", inWAL,
			"go_heap", ms.HeapInuse, "go_sys", ms.Sys-ms.HeapReleased, "rss", residentBytes())
		return err
	}
	gen := w.hold.gen
	w.hold.timer = time.AfterFunc(w.opts.HoldIdle, func() {
		w.hold.mu.Lock()
		defer w.hold.mu.Unlock()
		if w.hold.gen != gen || !w.hold.attached {
			return // a newer commit holds the file, or it is released already
		}
		t := time.Now()
		if err := w.detachBase(context.Background(), false); err != nil {
			w.log.Warn("close the duckdb file after commits", "err", err)
		}
		w.log.Debug("closed the duckdb file", "took", time.Since(t), "idle", w.opts.HoldIdle)
	})
	return nil
}

// releaseHold detaches the file if the commits still hold it, so another session can attach it.
func (w *Writer) releaseHold(ctx context.Context) error {
	w.hold.mu.Lock()
	defer w.hold.mu.Unlock()
	w.hold.gen++
	if w.hold.timer != nil {
		w.hold.timer.Stop()
	}
	if !w.hold.attached {
		return nil
	}
	t := time.Now()
	err := w.detachBase(ctx, false)
	w.log.Debug("closed the duckdb file", "took", time.Since(t))
	return err
}

// stopHold releases the file and closes the commits' DuckDB instance (at Close).
func (w *Writer) stopHold() error {
	err := w.releaseHold(context.Background())
	w.hold.mu.Lock()
	defer w.hold.mu.Unlock()
	if w.base != nil {
		err = errors.Join(err, w.closeBase())
	}
	return err
}

// detachBase detaches the file from the commits' instance (checkpointing it) and keeps the
// instance, unless closeToo: then the instance goes too.
func (w *Writer) detachBase(ctx context.Context, closeToo bool) error {
	if w.base == nil {
		w.hold.attached = false
		return nil
	}
	err := w.base.exec(ctx, "DETACH wh")
	if err != nil && isNotAttached(err) {
		err = nil
	}
	w.hold.attached = false
	w.resetWALGroup()
	if err != nil || closeToo {
		return errors.Join(err, w.closeBase())
	}
	return nil
}

// publishSession is a second connection to the commits' DuckDB instance, on which a commit
// writes its Parquet files while its transaction runs on the first (see startParquet).
func (w *Writer) publishSession(ctx context.Context) (*session, error) {
	if w.pub != nil {
		return w.pub, nil
	}
	w.base.db.SetMaxOpenConns(2)
	conn, err := w.base.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open duckdb connection: %w", err)
	}
	// Connection-level settings are not shared; ROW_GROUP_SIZE_BYTES needs this one.
	for _, q := range []string{"SET TimeZone='UTC'", "SET preserve_insertion_order = false"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			return nil, fmt.Errorf("configure duckdb (%s): %w", q, err)
		}
	}
	w.pub = &session{db: w.base.db, conn: conn}
	return w.pub, nil
}

func (w *Writer) closeBase() error {
	var err error
	if w.pub != nil {
		err = w.pub.conn.Close()
		w.pub = nil
	}
	err = errors.Join(err, w.base.close())
	w.base = nil
	w.hold.attached = false
	return err
}

// residentBytes is the process's resident set size, for debug logs (0 where /proc is absent).
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, rss int64
	if _, err := fmt.Sscan(string(b), &size, &rss); err != nil {
		return 0
	}
	return rss * int64(os.Getpagesize())
}
