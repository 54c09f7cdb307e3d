package remote_test

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/objstore"
	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/remote"
)

// listingView downloads every object under st that is not a manifest: what an engine that
// lists the prefix (Spark, Trino's Hive connector, ADX external tables) reads.
func listingView(t *testing.T, st objstore.Store) string {
	t.Helper()
	dir := t.TempDir()
	err := st.List(t.Context(), "", func(o objstore.Object) error {
		if strings.HasPrefix(o.Key, remote.ManifestDir+"/") {
			return nil
		}
		rd, err := st.Get(t.Context(), o.Key)
		if err != nil {
			return err
		}
		defer rd.Close()
		p := filepath.Join(dir, filepath.FromSlash(o.Key))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, rd)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// doubled counts the days in which a listing engine reads some row twice, and the rows it reads.
func doubled(days map[string][2]int) (days2, rows int) {
	for _, c := range days {
		rows += c[0]
		if c[0] != c[1] {
			days2++
		}
	}
	return days2, rows
}

// TestKeepCompactionLocal: with the setting, a compaction's merged files are not published
// while the remote side holds their rows as the small files they replaced, so an engine that
// lists the prefix never reads a row twice, where the default publish of a compaction makes it
// read the compacted days twice for the grace period. Verify compares the two sides by the
// commits they cover. A merged file whose commits were not all published as small files is
// published, superseding the small ones.
func TestKeepCompactionLocal(t *testing.T) {
	h := sharedHistory(t)
	srv, _ := objstoretest.VersityGW(t)
	ctx := t.Context()
	db := duck(t)
	publish := func(st objstore.Store, ledger remote.Ledger, keep bool, s string) remote.Result {
		t.Helper()
		r, err := remote.Publish(ctx, st, h.get(s).dir, ledger, remote.Options{Logger: quiet, Grace: time.Hour, KeepCompactionLocal: keep})
		if err != nil {
			t.Fatalf("publish %s: %v", s, err)
		}
		return r
	}
	// The default: the compaction is published, the small files wait out the grace period.
	st := srv.Open(t, "default")
	ledger := remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
	publish(st, ledger, false, "load2")
	publish(st, ledger, false, "compact2")
	if days, rows := doubled(dayCounts(t, db, listingView(t, st))); days == 0 || rows <= h.get("compact2").rows {
		t.Errorf("default publish of a compaction: a listing engine reads %d rows with %d days doubled; want the compacted days twice (docs/publish.md)", rows, days)
	}

	st = srv.Open(t, "keep")
	ledger = remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
	r := publish(st, ledger, true, "load2")
	small := testkit.Files(t, h.get("load2").dir)
	for _, s := range []string{"compact2", "load3", "compact3"} {
		r2 := publish(st, ledger, true, s)
		if s == "compact2" || s == "compact3" {
			if r2.Wrote || r2.Version != r.Version || r2.Uploaded != 0 {
				t.Errorf("after %s: %+v; want version %d unchanged, nothing uploaded", s, r2, r.Version)
			}
		}
		r = r2
		listed := listingView(t, st)
		if days, rows := doubled(dayCounts(t, db, listed)); days != 0 || rows != h.get(s).rows {
			t.Errorf("after %s: a listing engine reads %d rows (%d days doubled), the warehouse holds %d", s, rows, days, h.get(s).rows)
		}
		for _, f := range small {
			if _, err := os.Stat(filepath.Join(listed, f)); err != nil {
				t.Errorf("after %s: the small file %s is no longer published", s, f)
			}
		}
		rep, err := remote.Verify(ctx, st, h.get(s).dir, remote.VerifyOptions{Deep: true})
		if err != nil || !rep.OK() {
			t.Fatalf("verify %s: %+v, %v", s, rep, err)
		}
		if merged := strings.HasPrefix(s, "compact") || s == "load3"; merged != slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "compaction kept local") }) {
			t.Errorf("verify %s: notes %v", s, rep.Notes)
		}
	}

	// Commits never published as small files: the merged files go up, the small ones go.
	st = srv.Open(t, "catch-up")
	ledger = remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
	publish(st, ledger, true, "load1")
	r, err := remote.Publish(ctx, st, h.get("compact3").dir, ledger, remote.Options{Logger: quiet, Grace: -1, KeepCompactionLocal: true})
	if err != nil || !r.Wrote || r.Version != 2 {
		t.Fatalf("publish compact3 over load1: %+v, %v", r, err)
	}
	remoteEquals(t, st, h.get("compact3").dir, remote.ManifestKey(2), remote.PointerKey)
}
