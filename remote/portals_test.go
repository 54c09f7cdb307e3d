package remote_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/remote"
)

// TestPublishPortals: the tenants' portal hosts travel with the dataset. Each manifest names
// one immutable portals object; a change of hosts alone makes a new version and supersedes
// the old object (deleted after the grace period like any file); sync stores the version's
// portals in the copy, and verify --remote of a copy checks them.
func TestPublishPortals(t *testing.T) {
	h := sharedHistory(t)
	srv, _ := objstoretest.VersityGW(t)
	ctx := t.Context()
	st := srv.Open(t, "portals")
	clk := clock.NewVirtual(testStart, false)
	s := h.get("load1")
	ledger := remote.FileLedger{Path: filepath.Join(t.TempDir(), remote.StateFile)}
	copyDir := filepath.Join(t.TempDir(), "copy")
	syncOpts := remote.SyncOptions{Clock: clk, Logger: quiet}
	publish := func(portals map[string][]string) remote.Result {
		t.Helper()
		r, err := remote.Publish(ctx, st, s.dir, ledger, remote.Options{Clock: clk, Logger: quiet, Grace: time.Hour, Portals: portals})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	latestPortals := func() *remote.PortalsRef {
		t.Helper()
		m, err := remote.Latest(ctx, st)
		if err != nil || m.Portals == nil {
			t.Fatalf("newest manifest: portals %v, %v", m, err)
		}
		return m.Portals
	}
	copyHolds := func(want map[string][]string) {
		t.Helper()
		p, ok, err := remote.LoadCopyPortals(copyDir)
		if err != nil || !ok || !maps.EqualFunc(p.Tenants, want, slices.Equal) {
			t.Fatalf("copy's portals: %+v, %v, %v; want %v", p, ok, err, want)
		}
		rep, err := remote.Verify(ctx, st, filepath.Join(copyDir, remote.DatasetDir), remote.VerifyOptions{Clock: clk, Copy: true})
		if err != nil || !rep.OK() {
			t.Fatalf("verify the copy: %+v, %v", rep, err)
		}
	}

	one := map[string][]string{"contoso": {"https://contoso.us3.portal.cloudappsecurity.com"}, "files-only": nil}
	if r := publish(one); !r.Wrote || r.Version != 1 {
		t.Fatalf("first publish: %+v", r)
	}
	first := latestPortals()
	stored := objstoretest.Keys(t, st, remote.ManifestDir+"/")
	if _, ok := stored[first.Path]; !ok || !strings.HasPrefix(first.Path, "_manifests/portals-") {
		t.Fatalf("portals object %s not stored: %v", first.Path, stored)
	}
	if r := publish(one); r.Wrote {
		t.Fatalf("publish of the same hosts wrote version %d", r.Version)
	}
	if r := publish(nil); r.Wrote || *latestPortals() != *first {
		t.Fatalf("a publisher that knows no hosts: %+v; want the published ones kept", r)
	}
	if sr, err := remote.Sync(ctx, st, copyDir, syncOpts); err != nil || sr.Version != 1 {
		t.Fatalf("sync: %+v, %v", sr, err)
	}
	copyHolds(map[string][]string{"contoso": {"https://contoso.us3.portal.cloudappsecurity.com"}})

	// A new tenant scanned, not one file changed: a new version with the new hosts.
	two := map[string][]string{"contoso": {"https://contoso.us3.portal.cloudappsecurity.com"}, "fabrikam": {"https://fabrikam.eu2.portal.cloudappsecurity.com"}}
	r := publish(two)
	if !r.Wrote || r.Version != 2 || r.Uploaded != 0 || r.Superseded != 2 || r.Waiting != 2 {
		t.Fatalf("publish of new hosts: %+v; want v2 superseding v1 and its portals, no file uploaded", r)
	}
	second := latestPortals()
	if second.Path == first.Path {
		t.Fatal("new hosts under the old object's name")
	}
	sr, err := remote.Sync(ctx, st, copyDir, syncOpts)
	if err != nil || sr.UpToDate || sr.Version != 2 || sr.Downloaded != 0 {
		t.Fatalf("sync of new hosts: %+v, %v; want v2 with every file kept", sr, err)
	}
	copyHolds(two)

	// A copy that lost its portals fails verify, and the next sync brings them back.
	if err := os.Remove(filepath.Join(copyDir, remote.DatasetDir, remote.CopyPortalsFile)); err != nil {
		t.Fatal(err)
	}
	rep, err := remote.Verify(ctx, st, filepath.Join(copyDir, remote.DatasetDir), remote.VerifyOptions{Clock: clk, Copy: true})
	if err != nil || rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "portals of manifest v2 are missing") {
		t.Fatalf("verify of a copy without its portals: %+v, %v", rep, err)
	}
	if sr, err := remote.Sync(ctx, st, copyDir, syncOpts); err != nil || sr.UpToDate {
		t.Fatalf("sync of a copy without its portals: %+v, %v; want it repaired", sr, err)
	}
	copyHolds(two)

	// After the grace period the old portals go with the old manifest.
	clk.Advance(61 * time.Minute)
	if r := publish(two); r.Wrote || r.Deleted != 2 {
		t.Fatalf("publish after the grace period: %+v; want v1 and its portals deleted", r)
	}
	remoteEquals(t, st, s.dir, remote.ManifestKey(2), remote.PointerKey, second.Path)
	rep, err = remote.Verify(ctx, st, s.dir, remote.VerifyOptions{Clock: clk})
	if err != nil || !rep.OK() || len(rep.Notes) != 0 {
		t.Fatalf("verify after deletion: %+v, %v", rep, err)
	}
}
