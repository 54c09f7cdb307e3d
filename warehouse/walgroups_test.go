package warehouse

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// walBytes is the size of the warehouse's WAL (0 when there is none).
func walBytes(t *testing.T, dir string) int64 {
	t.Helper()
	st, err := os.Stat(filepath.Join(dir, DatabaseFile) + ".wal")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestCommitsGroupedInWAL: held commits stay in the WAL until their rows make about a row
// group, and the commit that completes it checkpoints; six commits make three row groups, as
// large as Close's merge would build, so it leaves them.
func TestCommitsGroupedInWAL(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	var log bytes.Buffer
	w := openHolding(t, dir, time.Hour, &log)
	w.mergeRows = 2 * 1024
	var all []row
	var inWAL []bool
	for i := range 6 {
		rs := rows(fmt.Sprintf("g%d-", i), 1024, day0.Add(time.Duration(i)*time.Hour), time.Second)
		all = append(all, rs...)
		commitRows(t, w, mem, rs)
		if i == 0 {
			if w.wal.bytes == 0 {
				t.Fatal("the first commit checkpointed: nothing held in the WAL")
			}
			// A row group of 2.4 commits: the second commit (1 + 1.5 commits) completes it.
			w.groupBytes = w.wal.bytes * 24 / 10
		}
		inWAL = append(inWAL, walBytes(t, dir) > 0)
	}
	want := []bool{true, false, true, false, true, false}
	if fmt.Sprint(inWAL) != fmt.Sprint(want) {
		t.Errorf("WAL after each commit: %v, want %v (every second commit checkpoints)", inWAL, want)
	}
	if err := w.releaseHold(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := rowGroups(t, dir, "activities"); n != 3 {
		t.Errorf("before Close: %d row groups, want 3 (two commits each)", n)
	}
	if n := w.tails["activities"].groups(); n != 3 {
		t.Errorf("the checkpoints counted %d row groups, the table holds 3", n)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `"row groups already merged" table=activities`) {
		t.Errorf("Close merged the grouped commits again, or did not look:\n%s", log.String())
	}
	if n := rowGroups(t, dir, "activities"); n != 3 {
		t.Errorf("after Close: %d row groups, want 3", n)
	}
	holdsExactly(t, dir, all)
}

// TestWALGroupCut: a commit that lets go of the file (an error, another use of the file, a
// full cache) checkpoints what the WAL held; the next commits start a new group.
func TestWALGroupCut(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openHolding(t, dir, time.Hour, nil)
	var all []row
	for i := range 2 {
		rs := rows(fmt.Sprintf("c%d-", i), 100, day0.Add(time.Duration(i)*time.Hour), time.Second)
		all = append(all, rs...)
		commitRows(t, w, mem, rs)
	}
	if w.wal.bytes == 0 || walBytes(t, dir) == 0 {
		t.Fatal("two small commits were not held in the WAL")
	}
	if _, err := w.Status(t.Context()); err != nil { // another use of the file
		t.Fatal(err)
	}
	if w.wal.bytes != 0 || walBytes(t, dir) != 0 {
		t.Fatalf("after the hold was let go: %d bytes accounted in the WAL, WAL file %d bytes", w.wal.bytes, walBytes(t, dir))
	}
	rs := rows("c2-", 100, day0.Add(3*time.Hour), time.Second)
	all = append(all, rs...)
	commitRows(t, w, mem, rs)
	if got := w.wal.bytes; got == 0 {
		t.Error("the commit after the cut is not held in the WAL")
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := rowGroups(t, dir, "activities"); n > 2 {
		t.Errorf("%d row groups, want at most 2 (the cut one, and the next)", n)
	}
	holdsExactly(t, dir, all)
}

func TestPlanWALGroupThreshold(t *testing.T) {
	w := &Writer{opts: Options{MemoryLimit: "107MiB", HoldIdle: time.Second}}
	target := w.walGroupBytes()
	if target <= 0 {
		t.Fatalf("walGroupBytes = %d at 107MiB", target)
	}
	for _, tc := range []struct {
		held, rows, bytes int64
		checkpoint        bool
	}{
		{0, 3600, target / 4, false},           // a quarter: stays in the WAL
		{target / 2, 3600, target/3 + 1, true}, // 1/2 + 1/3 + 1/6: completes the group
		{target / 4, 3600, target / 4, false},  // 1/2 + 1/8
		{0, maxRowGroupRows, 1000, true},       // a row group's rows already
		{0, 100, target, true},                 // one commit makes a group
	} {
		w.wal = walGroup{bytes: tc.held, rows: tc.held / 1000}
		if got := w.closesWALGroup(tc.rows, tc.bytes); got != tc.checkpoint {
			t.Errorf("held %d, commit of %d rows %d bytes: checkpoint %v, want %v", tc.held, tc.rows, tc.bytes, got, tc.checkpoint)
		}
	}
	w.opts.HoldIdle = -1 // every commit lets go of the file: nothing to group
	w.wal = walGroup{}
	if !w.closesWALGroup(1, 1) {
		t.Error("without a hold, a commit does not checkpoint")
	}
}
