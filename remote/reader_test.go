package remote_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/objstore"
	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/remote"
)

// observation is what the reader saw in its copy after one sync.
type observation struct {
	version  int64
	restarts int
	days     map[string][2]int // rows and distinct ids per day, read by DuckDB
}

// TestReaderFollowingManifestsNeverSeesAMix publishes the warehouse's history three times over
// (loads, compactions that replace every day's files, and back to the first load) while a reader syncs a copy in a loop and reads
// it with DuckDB. Superseded files are deleted by the publish that supersedes them (no grace
// period), so the reader is overtaken mid-download whenever it is one version behind. Every
// state the reader sees must be a published version whole: per day, exactly the rows of that
// version, each id once.
func TestReaderFollowingManifestsNeverSeesAMix(t *testing.T) {
	h := sharedHistory(t)
	db := duck(t)
	want := map[string]map[string][2]int{}
	for _, s := range h.states {
		want[s.name] = dayCounts(t, db, s.dir)
	}
	objstoretest.Each(t, func(t *testing.T, srv *objstoretest.Server) {
		ctx := t.Context()
		st := srv.Open(t, "follow")
		clk := clock.NewVirtual(testStart, false)
		ledger := remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
		published := map[int64]string{} // version → state name
		var mu sync.Mutex
		var finished atomic.Bool
		var seen []observation
		readerDone := make(chan error, 1)
		copyDir := filepath.Join(t.TempDir(), "copy")
		go func() {
			readerDone <- followManifests(ctx, st, copyDir, db, &finished, func(o observation) {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, o)
			})
		}()
		var final int64
		// Three rounds: after the first, each version also drops files (back to one load),
		// and files come back under names that were superseded, or already deleted.
		var sequence []state
		for range 3 {
			sequence = append(sequence, h.states...)
		}
		for i, s := range sequence {
			clk.Advance(time.Minute)
			r, err := remote.Publish(ctx, st, s.dir, ledger, remote.Options{Clock: clk, Logger: quiet, Grace: -1})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			published[r.Version] = s.name
			mu.Unlock()
			final = r.Version
			time.Sleep(time.Duration(i%3) * 15 * time.Millisecond) // vary where the reader is overtaken
		}
		finished.Store(true)
		if err := <-readerDone; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		last, restarts := int64(0), 0
		for _, o := range seen {
			restarts += o.restarts
			name, ok := published[o.version]
			if !ok {
				t.Fatalf("the reader saw version %d, never published", o.version)
			}
			if o.version < last {
				t.Errorf("the reader went back from version %d to %d", last, o.version)
			}
			last = o.version
			if !sameDays(o.days, want[name]) {
				t.Errorf("version %d (%s): the reader counted %v, the warehouse held %v", o.version, name, o.days, want[name])
			}
		}
		if last != final {
			t.Errorf("the reader ended at version %d, the last published is %d", last, final)
		}
		t.Logf("%d versions published; the reader saw %d states and was overtaken %d times", final, len(seen), restarts)
	})
}

// followManifests syncs and reads the copy until finished is set and the copy holds the newest
// version.
func followManifests(ctx context.Context, st objstore.Store, copyDir string, db *sql.DB, finished *atomic.Bool, see func(observation)) error {
	for {
		wasFinished := finished.Load()
		r, err := remote.Sync(ctx, slowStore{st}, copyDir, remote.SyncOptions{Logger: quiet, Parallel: 2, Attempts: 50})
		if errors.Is(err, remote.ErrNoManifest) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			return err
		}
		days, err := readDays(ctx, db, filepath.Join(copyDir, remote.DatasetDir))
		if err != nil {
			return err
		}
		see(observation{version: r.Version, restarts: r.Restarts, days: days})
		if wasFinished {
			return nil
		}
	}
}

func sameDays(a, b map[string][2]int) bool {
	if len(a) != len(b) {
		return false
	}
	for d, c := range a {
		if b[d] != c {
			return false
		}
	}
	return true
}

// slowStore is a reader on a slow network: each download starts 15 ms late.
type slowStore struct{ objstore.Store }

func (s slowStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if !strings.HasPrefix(key, remote.ManifestDir+"/") {
		time.Sleep(15 * time.Millisecond)
	}
	return s.Store.Get(ctx, key)
}

// vanishingStore runs hook once, at the first download of a data file: the moment a slow
// reader is overtaken by a publish that deletes what it is reading.
type vanishingStore struct {
	objstore.Store
	once sync.Once
	hook func()
}

func (s *vanishingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if !strings.HasPrefix(key, remote.ManifestDir+"/") {
		s.once.Do(s.hook)
	}
	return s.Store.Get(ctx, key)
}

// TestSyncStartsOverWhenOvertaken: files of the manifest a sync follows are deleted under it
// (grace period over); the sync starts again from the newest manifest and ends with it whole.
func TestSyncStartsOverWhenOvertaken(t *testing.T) {
	h := sharedHistory(t)
	srv, _ := objstoretest.VersityGW(t)
	ctx := t.Context()
	st := srv.Open(t, "overtaken")
	ledger := remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
	opts := remote.Options{Logger: quiet, Grace: -1}
	if _, err := remote.Publish(ctx, st, h.get("load2").dir, ledger, opts); err != nil {
		t.Fatal(err)
	}
	vs := &vanishingStore{Store: st, hook: func() {
		if _, err := remote.Publish(ctx, st, h.get("compact2").dir, ledger, opts); err != nil {
			t.Error(err)
		}
	}}
	copyDir := filepath.Join(t.TempDir(), "copy")
	r, err := remote.Sync(ctx, vs, copyDir, remote.SyncOptions{Logger: quiet, Parallel: 1})
	if err != nil || r.Version != 2 || r.Restarts != 1 {
		t.Fatalf("sync overtaken by a publish: %+v, %v; want version 2 after one restart", r, err)
	}
	sameTree(t, h.get("compact2").dir, filepath.Join(copyDir, remote.DatasetDir))
}

// TestSyncInterruptedKeepsTheOldCopy: a sync that dies while downloading leaves the copy at its
// old version, whole; the rerun keeps what was downloaded and finishes.
func TestSyncInterruptedKeepsTheOldCopy(t *testing.T) {
	h := sharedHistory(t)
	objstoretest.Each(t, func(t *testing.T, srv *objstoretest.Server) {
		ctx := t.Context()
		st := srv.Open(t, "interrupted")
		ledger := remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
		opts := remote.Options{Logger: quiet}
		copyDir := filepath.Join(t.TempDir(), "copy")
		if _, err := remote.Publish(ctx, st, h.get("load1").dir, ledger, opts); err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Sync(ctx, st, copyDir, remote.SyncOptions{Logger: quiet}); err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Publish(ctx, st, h.get("load3").dir, ledger, opts); err != nil {
			t.Fatal(err)
		}
		// list manifests, get the manifest, then 3 downloads.
		_, err := remote.Sync(ctx, dyingStore{st, newBudget(5)}, copyDir, remote.SyncOptions{Logger: quiet, Parallel: 1})
		if !errors.Is(err, errInjected) {
			t.Fatalf("dying sync: %v", err)
		}
		sameTree(t, h.get("load1").dir, filepath.Join(copyDir, remote.DatasetDir))
		r, err := remote.Sync(ctx, st, copyDir, remote.SyncOptions{Logger: quiet})
		if err != nil || r.Version != 2 || r.Kept < 3 {
			t.Fatalf("rerun: %+v, %v; want version 2 keeping the interrupted sync's downloads", r, err)
		}
		sameTree(t, h.get("load3").dir, filepath.Join(copyDir, remote.DatasetDir))
	})
}

// TestSyncRefusesAWarehouse: a writer's warehouse is never replaced by a copy, and a copy
// follows one location.
func TestSyncRefusesAWarehouse(t *testing.T) {
	h := sharedHistory(t)
	srv, _ := objstoretest.VersityGW(t)
	st := srv.Open(t, "refuse")
	if _, err := remote.Publish(t.Context(), st, h.get("load1").dir, remote.FileLedger{Path: filepath.Join(t.TempDir(), "s.json")}, remote.Options{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Sync(t.Context(), st, h.warehouse, remote.SyncOptions{Logger: quiet}); !errors.Is(err, remote.ErrNotACopy) {
		t.Errorf("sync into a warehouse: %v, want ErrNotACopy", err)
	}
	copyDir := filepath.Join(t.TempDir(), "copy")
	if _, err := remote.Sync(t.Context(), st, copyDir, remote.SyncOptions{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if url, ok := remote.IsCopy(copyDir); !ok || url != st.Location().String() {
		t.Errorf("IsCopy: %q %v", url, ok)
	}
	other := srv.Open(t, "refuse-other")
	if _, err := remote.Sync(t.Context(), other, copyDir, remote.SyncOptions{Logger: quiet}); !errors.Is(err, remote.ErrOtherSource) {
		t.Errorf("sync of another location into a copy: %v, want ErrOtherSource", err)
	}
}
