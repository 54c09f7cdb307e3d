package remote_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/objstore"
	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/remote"
)

var testStart = time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)

// sameTree fails unless the two folders hold the same files with the same bytes.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	wf, gf := testkit.Files(t, want), testkit.Files(t, got)
	if !slices.Equal(wf, gf) {
		t.Fatalf("files differ:\nwant %v\n got %v", wf, gf)
	}
	for _, f := range wf {
		a, err1 := os.ReadFile(filepath.Join(want, f))
		b, err2 := os.ReadFile(filepath.Join(got, f))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs (%v %v)", f, err1, err2)
		}
	}
}

// remoteEquals fails unless the objects under st are exactly the files of dir (same bytes),
// plus the manifests and the pointer named in extra.
func remoteEquals(t *testing.T, st objstore.Store, dir string, extra ...string) {
	t.Helper()
	keys := objstoretest.Keys(t, st, "")
	files := testkit.Files(t, dir)
	want := append(slices.Clone(files), extra...)
	var got []string
	for k := range keys {
		got = append(got, k)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Fatalf("remote objects:\n got %v\nwant %v", got, want)
	}
	for _, f := range files {
		local, _ := os.ReadFile(filepath.Join(dir, f))
		r, err := st.Get(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(r)
		r.Close()
		if err != nil || !bytes.Equal(b.Bytes(), local) {
			t.Errorf("remote %s: %d bytes (%v), local %d", f, b.Len(), err, len(local))
		}
	}
}

func TestPublishCompactSyncVerify(t *testing.T) {
	h := sharedHistory(t)
	objstoretest.Each(t, func(t *testing.T, srv *objstoretest.Server) {
		ctx := t.Context()
		st := srv.Open(t, "team/mcas")
		clk := clock.NewVirtual(testStart, false)
		ledger := remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
		opts := remote.Options{Clock: clk, Logger: quiet, Grace: time.Hour}
		syncOpts := remote.SyncOptions{Clock: clk, Logger: quiet}
		copyDir := filepath.Join(t.TempDir(), "copy")

		s1 := h.get("load1")
		files1 := testkit.Files(t, s1.dir)
		r, err := remote.Publish(ctx, st, s1.dir, ledger, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Wrote || r.Version != 1 || r.Uploaded != len(files1) || r.Files != len(files1) || r.Rows != int64(s1.rows) {
			t.Fatalf("first publish: %+v; want v1 of %d files, %d rows, all uploaded", r, len(files1), s1.rows)
		}
		remoteEquals(t, st, s1.dir, remote.ManifestKey(1), remote.PointerKey)
		if r, err = remote.Publish(ctx, st, s1.dir, ledger, opts); err != nil || r.Wrote || r.Uploaded != 0 || r.Version != 1 {
			t.Fatalf("publish with nothing new: %+v, %v; want v1 unchanged", r, err)
		}
		sr, err := remote.Sync(ctx, st, copyDir, syncOpts)
		if err != nil || sr.Version != 1 || sr.Downloaded != len(files1) {
			t.Fatalf("first sync: %+v, %v", sr, err)
		}
		sameTree(t, s1.dir, filepath.Join(copyDir, remote.DatasetDir))

		// The second load and its compaction: the day files are replaced by merged ones.
		s3 := h.get("compact2")
		r, err = remote.Publish(ctx, st, s3.dir, ledger, opts)
		if err != nil {
			t.Fatal(err)
		}
		gone := 0
		for _, f := range files1 {
			if _, err := os.Stat(filepath.Join(s3.dir, f)); err != nil {
				gone++
			}
		}
		if !r.Wrote || r.Version != 2 || r.Rows != int64(s3.rows) || r.Superseded != gone+1 || r.Waiting != gone+1 || r.Deleted != 0 {
			t.Fatalf("publish after compaction: %+v; want v2 with %d rows, %d files and v1 superseded, none deleted yet", r, s3.rows, gone)
		}
		sr, err = remote.Sync(ctx, st, copyDir, syncOpts)
		if err != nil || sr.Version != 2 || sr.Removed != gone || sr.Kept+sr.Downloaded != sr.Files {
			t.Fatalf("second sync: %+v, %v", sr, err)
		}
		sameTree(t, s3.dir, filepath.Join(copyDir, remote.DatasetDir))
		if sr, err = remote.Sync(ctx, st, copyDir, syncOpts); err != nil || !sr.UpToDate || sr.Downloaded != 0 {
			t.Fatalf("sync with nothing new: %+v, %v", sr, err)
		}
		for _, dir := range []string{s3.dir, filepath.Join(copyDir, remote.DatasetDir)} {
			rep, err := remote.Verify(ctx, st, dir, remote.VerifyOptions{Clock: clk, Deep: true})
			if err != nil || !rep.OK() || rep.Version != 2 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "grace period") {
				t.Fatalf("verify %s: %+v, %v", dir, rep, err)
			}
		}
		// Within the grace period, nothing is deleted; after it, the next publish deletes the
		// superseded files and manifest.
		clk.Advance(59 * time.Minute)
		if r, err = remote.Publish(ctx, st, s3.dir, ledger, opts); err != nil || r.Deleted != 0 || r.Waiting != gone+1 {
			t.Fatalf("publish within the grace period: %+v, %v", r, err)
		}
		clk.Advance(2 * time.Minute)
		if r, err = remote.Publish(ctx, st, s3.dir, ledger, opts); err != nil || r.Wrote || r.Deleted != gone+1 || r.Waiting != 0 {
			t.Fatalf("publish after the grace period: %+v, %v; want %d deleted", r, err, gone+1)
		}
		remoteEquals(t, st, s3.dir, remote.ManifestKey(2), remote.PointerKey)
		rep, err := remote.Verify(ctx, st, s3.dir, remote.VerifyOptions{Clock: clk})
		if err != nil || !rep.OK() || len(rep.Notes) != 0 {
			t.Fatalf("verify after deletion: %+v, %v", rep, err)
		}
	})
}

// TestVerifyFindsDifferences damages each side and reads what verify says.
func TestVerifyFindsDifferences(t *testing.T) {
	h := sharedHistory(t)
	srv, _ := objstoretest.VersityGW(t)
	ctx := t.Context()
	st := srv.Open(t, "verify")
	s := h.get("load1")
	local := filepath.Join(t.TempDir(), "parquet")
	if err := os.CopyFS(local, os.DirFS(s.dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Publish(ctx, st, local, remote.FileLedger{Path: filepath.Join(t.TempDir(), "s.json")}, remote.Options{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	files := testkit.Files(t, local)
	// A local file missing, a remote one missing, a foreign object under the prefix, a local
	// file that is not published.
	if err := os.Remove(filepath.Join(local, files[0])); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, files[1]); err != nil {
		t.Fatal(err)
	}
	other := []byte("not ours")
	if err := st.Create(ctx, "activities/_SUCCESS", bytes.NewReader(other), int64(len(other)), digest(other)); err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(local, "activities", "day=2026-03-11", "part-9-9.parquet")
	if err := os.MkdirAll(filepath.Dir(extra), 0o700); err != nil {
		t.Fatal(err)
	}
	testkit.CopyFile(t, filepath.Join(local, files[2]), extra)
	rep, err := remote.Verify(ctx, st, local, remote.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"local: " + files[0] + " of manifest v1 is missing",
		"remote: " + files[1] + " is in manifest v1 but not stored",
		"local: activities/day=2026-03-11/part-9-9.parquet is not in manifest v1",
	}
	for _, w := range want {
		if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, w) }) {
			t.Errorf("verify problems %q lack %q", rep.Problems, w)
		}
	}
	if len(rep.Problems) != len(want) {
		t.Errorf("verify problems: %q, want %d", rep.Problems, len(want))
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "activities/_SUCCESS") {
		t.Errorf("verify notes: %q, want the foreign object", rep.Notes)
	}
	// A push restores the remote file and never deletes the foreign object.
	if err := os.Remove(extra); err != nil {
		t.Fatal(err)
	}
	testkit.CopyFile(t, filepath.Join(s.dir, files[0]), filepath.Join(local, files[0]))
	r, err := remote.Publish(ctx, st, local, remote.FileLedger{Path: filepath.Join(t.TempDir(), "s2.json")}, remote.Options{Logger: quiet, Adopt: true, Grace: -1})
	if err != nil || r.Uploaded != 1 || r.Wrote {
		t.Fatalf("push restoring a lost remote file: %+v, %v", r, err)
	}
	if _, err := st.Stat(ctx, "activities/_SUCCESS"); err != nil {
		t.Errorf("push deleted an object it did not write: %v", err)
	}
	if rep, err := remote.Verify(ctx, st, local, remote.VerifyOptions{Deep: true}); err != nil || !rep.OK() {
		t.Errorf("verify after the push: %+v, %v", rep, err)
	}
}

// TestConflictNamesBoth: a remote file with other bytes under a path the warehouse publishes is
// never overwritten; the error names both files and both digests.
func TestConflictNamesBoth(t *testing.T) {
	h := sharedHistory(t)
	srv, _ := objstoretest.VersityGW(t)
	ctx := t.Context()
	st := srv.Open(t, "conflict")
	s := h.get("load1")
	f := testkit.Files(t, s.dir)[0]
	other := []byte("PAR1 other bytes PAR1")
	if err := st.Create(ctx, f, bytes.NewReader(other), int64(len(other)), digest(other)); err != nil {
		t.Fatal(err)
	}
	_, err := remote.Publish(ctx, st, s.dir, remote.FileLedger{Path: filepath.Join(t.TempDir(), "s.json")}, remote.Options{Logger: quiet})
	var ce *remote.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, remote.ErrConflict) {
		t.Fatalf("publish over a different remote file: %v, want a ConflictError", err)
	}
	for _, part := range []string{filepath.Join(s.dir, f), srv.URL("conflict") + "/" + f, digest(other)} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %q", err, part)
		}
	}
	if _, err := remote.Latest(ctx, st); !errors.Is(err, remote.ErrNoManifest) {
		t.Errorf("a manifest was written despite the conflict: %v", err)
	}
}

// TestForeignDataset: a second warehouse may not publish into a prefix another one publishes
// to, unless told to adopt it; the adopting warehouse supersedes the files it lacks.
func TestForeignDataset(t *testing.T) {
	h := sharedHistory(t)
	srv, _ := objstoretest.VersityGW(t)
	ctx := t.Context()
	st := srv.Open(t, "shared")
	opts := remote.Options{Logger: quiet, Grace: -1}
	if _, err := remote.Publish(ctx, st, h.get("load1").dir, remote.FileLedger{Path: filepath.Join(t.TempDir(), "a.json")}, opts); err != nil {
		t.Fatal(err)
	}
	other := remote.FileLedger{Path: filepath.Join(t.TempDir(), "b.json")}
	_, err := remote.Publish(ctx, st, h.get("compact2").dir, other, opts)
	if !errors.Is(err, remote.ErrForeignDataset) || !strings.Contains(err.Error(), "adopt it") {
		t.Fatalf("second warehouse: %v, want ErrForeignDataset suggesting to adopt it", err)
	}
	opts.Adopt = true
	r, err := remote.Publish(ctx, st, h.get("compact2").dir, other, opts)
	if err != nil || r.Version != 2 {
		t.Fatalf("adopting: %+v, %v", r, err)
	}
	remoteEquals(t, st, h.get("compact2").dir, remote.ManifestKey(2), remote.PointerKey)
	// A third warehouse with no record is still refused.
	if _, err := remote.Publish(ctx, st, h.get("load1").dir, remote.FileLedger{Path: filepath.Join(t.TempDir(), "c.json")}, remote.Options{Logger: quiet}); !errors.Is(err, remote.ErrForeignDataset) {
		t.Errorf("fresh ledger: %v, want ErrForeignDataset", err)
	}
}
