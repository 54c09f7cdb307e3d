package warehouse

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testFinding(id string, at time.Time) FindingRow {
	return FindingRow{Tenant: "default", ID: id, Investigation: "impossible-travel", User: "ann@example.com", IP: "203.0.113.9",
		Bucket: at.Format(time.DateOnly), Title: "Impossible travel", Severity: "high", Techniques: []string{"T1078.004"},
		FirstSeen: at, LastSeen: at.Add(time.Hour), EvidenceIDs: []string{"a-000001", "a-000002"},
		PortalURLs: []string{"https://x.example/#/audits?activity.id=eq(a-000001,)"}, Row: `{"user_name":"ann@example.com"}`,
		Status: "notified", StatusReason: "it's 'quoted'", DetectedAt: at, UpdatedAt: at, NotifiedAt: at.Add(time.Minute),
		Notification: 1, Reason: "new", Delivered: 1, DeliveredSeverity: "high", AcceptedSinks: []string{}}
}

// TestFindingsSurviveRebuild stores findings and a detect watermark, checks verify covers them,
// then throws the DuckDB file away: RebuildDatabase brings back every row, acknowledgement,
// delivery state and the watermarks from the Parquet snapshot.
func TestFindingsSurviveRebuild(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "wh")
	w := openTest(t, dir, SinkBoth)
	mem := newMem(t)
	at := day0.Add(3 * time.Hour)
	commitRows(t, w, mem, rows("a", 10, day0, time.Hour))
	a, b := testFinding("f1", at), testFinding("f2", at.Add(24*time.Hour))
	b.Status, b.AcknowledgedAt, b.StatusBy, b.Notification, b.Delivered, b.AcceptedSinks = "acknowledged", at.Add(2*time.Hour), "ann", 2, 1, []string{"sink-a"}
	// The stream's part names a commit past the last one: the rebuilt file reuses those numbers,
	// so the mark comes back no further than its last commit.
	mark := DetectMark{Created: at.Add(48 * time.Hour), Stream: 7}
	if err := w.SaveFindings(ctx, "default", []FindingRow{a, b}, &mark); err != nil {
		t.Fatal(err)
	}
	// A second save replaces a row by its id and raises the generation.
	a.Status, a.ResolvedAt = "resolved", at.Add(5*time.Hour)
	if err := w.SaveFindings(ctx, "default", []FindingRow{a}, nil); err != nil {
		t.Fatal(err)
	}
	if gens, _ := findingSnapshots(dir); !reflect.DeepEqual(gens, []int64{2}) {
		t.Fatalf("snapshots %v, want only generation 2", gens)
	}
	mustVerify(t, w)
	want, err := w.Findings(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 2 || want[0].Status != "resolved" || want[1].AcknowledgedAt.IsZero() || want[1].AcceptedSinks[0] != "sink-a" {
		t.Fatalf("stored findings: %+v", want)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{DatabaseFile, DatabaseFile + ".wal"} {
		os.Remove(filepath.Join(dir, f))
	}
	if err := RebuildDatabase(ctx, Options{Dir: dir, Logger: testLogger(nil), MemoryLimit: "300MB"}); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, dir, SinkBoth)
	defer w.Close(ctx)
	got, err := w.Findings(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after rebuild:\n%+v\nwant\n%+v", got, want)
	}
	wm, err := w.DetectWatermark(ctx, "default")
	last, lerr := w.LastCommit(ctx)
	if err != nil || lerr != nil || !wm.Created.Equal(mark.Created) || last >= mark.Stream || wm.Stream != last {
		t.Errorf("detect watermark after rebuild %+v (%v), want %v and the last commit %d (%v)", wm, err, mark.Created, last, lerr)
	}
	mustVerify(t, w)
}

// TestFindingsSnapshotRepublished: a snapshot lost after the commit (a crash between the two,
// or a deleted file) is what verify reports and the next Open writes again.
func TestFindingsSnapshotRepublished(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "wh")
	w := openTest(t, dir, SinkBoth)
	if err := w.SaveFindings(ctx, "default", []FindingRow{testFinding("f1", day0)}, nil); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, FindingsDir, snapshotName(1))
	if err := os.Remove(snap); err != nil {
		t.Fatal(err)
	}
	rep, err := w.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(strings.Join(rep.Problems(), "\n"), "findings-1.parquet of generation 1 is missing") {
		t.Errorf("verify does not report the missing snapshot: %v", rep.Problems())
	}
	w.Close(ctx)
	w = openTest(t, dir, SinkBoth)
	defer w.Close(ctx)
	if _, err := os.Stat(snap); err != nil {
		t.Errorf("open did not write the snapshot again: %v", err)
	}
	mustVerify(t, w)
	// The reader sees the table through its findings view.
	w.Close(ctx)
	r, err := OpenReader(ctx, ReaderOptions{Dir: dir, PreferParquet: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var n int
	if err := r.Conn().QueryRowContext(ctx, `SELECT count(*) FROM findings WHERE status_reason = 'it''s ''quoted'''`).Scan(&n); err != nil || n != 1 {
		t.Errorf("parquet reader's findings view: %d rows, %v", n, err)
	}
}
