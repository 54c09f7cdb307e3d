package warehouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
)

// execFile runs statements on the warehouse's DuckDB file, as a crash would have left it.
func execFile(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	s, err := openSession(context.Background(), sessionConfig{}, filepath.Join(dir, DatabaseFile), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.detachClose(context.Background())
	for _, q := range stmts {
		if err := s.exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestReconcileRepairsCrashStates builds, by hand, each state a crash can leave between the
// steps of a commit or a compaction, and checks that the next Open repairs it to exactly the
// committed rows in both sinks.
func TestReconcileRepairsCrashStates(t *testing.T) {
	first := rows("a", 120, day0, 30*time.Minute) // 2.5 days
	second := rows("b", 60, day0, 50*time.Minute)
	want := expected(append(append([]row{}, first...), second...))
	day := "2026-03-01"
	cases := []struct {
		name  string
		crash func(t *testing.T, dir string)
		log   string // a line reconciliation must log
	}{
		{"leftover temporary files", func(t *testing.T, dir string) {
			d := filepath.Join(dir, ParquetDir, "tenant="+testTenant, "day="+day)
			os.WriteFile(filepath.Join(d, "."+partName(3, 3)+".tmp"), []byte("half a file"), 0o600)
			os.WriteFile(filepath.Join(d, "."+partName(1, 2)+".tmp"), []byte("half a compaction"), 0o600)
		}, "temporary file"},
		{"published file without mark", func(t *testing.T, dir string) {
			execFile(t, dir, `INSERT INTO wh.pending VALUES (DATE '`+day+`', 2, '`+testTenant+`')`)
		}, "already published"},
		{"pending without file", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ParquetDir, "tenant="+testTenant, "day="+day, partName(2, 2)))
			execFile(t, dir, `INSERT INTO wh.pending VALUES (DATE '`+day+`', 2, '`+testTenant+`')`)
		}, "publishing committed rows"},
		{"file beyond the last commit", func(t *testing.T, dir string) {
			d := filepath.Join(dir, ParquetDir, "tenant="+testTenant, "day="+day)
			testkit.CopyFile(t, filepath.Join(d, partName(2, 2)), filepath.Join(d, partName(7, 7)))
		}, "no committed state backs it"},
		{"half-done compaction", func(t *testing.T, dir string) {
			d := filepath.Join(dir, ParquetDir, "tenant="+testTenant, "day="+day)
			saved := map[string][]byte{}
			for _, n := range []string{partName(1, 1), partName(2, 2)} {
				b, _ := os.ReadFile(filepath.Join(d, n))
				saved[n] = b
			}
			w := openTest(t, dir, SinkBoth)
			if _, err := w.Compact(t.Context(), CompactOptions{Days: []string{day}}); err != nil {
				t.Fatal(err)
			}
			w.Close(t.Context())
			if _, err := os.Stat(filepath.Join(d, partName(1, 2))); err != nil {
				t.Fatalf("compaction did not write %s: %v", partName(1, 2), err)
			}
			for n, b := range saved { // the inputs the crash did not get to delete
				os.WriteFile(filepath.Join(d, n), b, 0o600)
			}
		}, "compacted file already holds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := newMem(t)
			dir := t.TempDir()
			w := openTest(t, dir, SinkBoth)
			commitRows(t, w, mem, first)
			commitRows(t, w, mem, second)
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			tc.crash(t, dir)
			var log bytes.Buffer
			w, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(&log)})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("reconciliation log lacks %q:\n%s", tc.log, log.String())
			}
			st, err := w.Status(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(st.PendingDays) != 0 {
				t.Errorf("pending days after reconciliation: %v", st.PendingDays)
			}
			mustVerify(t, w)
			w.Close(t.Context())
			for _, from := range []string{FromDuckDB, FromParquet} {
				if got := readSink(t, dir, from); !equalContents(got, want) {
					t.Errorf("%s holds %v, want %v", from, got, want)
				}
			}
			for _, f := range testkit.Files(t, filepath.Join(dir, ParquetDir)) {
				if !partRE.MatchString(filepath.Base(f)) {
					t.Errorf("leftover file %s", f)
				}
			}
		})
	}
}

func TestCompact(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	var all []row
	for i := range 5 {
		rs := rows(string(rune('a'+i)), 40, day0.Add(time.Duration(i)*time.Minute), 40*time.Minute)
		all = append(all, rs...)
		commitRows(t, w, mem, rs)
	}
	before := len(testkit.Files(t, filepath.Join(dir, ParquetDir)))
	res, err := w.Compact(t.Context(), CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files := testkit.Files(t, filepath.Join(dir, ParquetDir))
	if res.FilesBefore != before || res.FilesAfter != len(files) || len(files) != 2 {
		t.Errorf("compact = %+v; files %d before, now %v; want one file per day", res, before, files)
	}
	if !slices.Contains(files, "tenant="+testTenant+"/day=2026-03-01/"+partName(1, 5)) {
		t.Errorf("files = %v, want tenant=%s/day=2026-03-01/%s", files, testTenant, partName(1, 5))
	}
	// A later commit adds a file next to the compacted one; reopening keeps both.
	late := rows("z", 3, day0.Add(time.Hour), time.Minute)
	all = append(all, late...)
	commitRows(t, w, mem, late)
	w.Close(t.Context())
	w = openTest(t, dir, SinkBoth)
	mustVerify(t, w)
	w.Close(t.Context())
	if got := readSink(t, dir, FromParquet); !equalContents(got, expected(all)) {
		t.Errorf("parquet holds %v, want %v", got, expected(all))
	}
	// Close compacts days with more files than CompactOver.
	w, err = Open(t.Context(), Options{Dir: dir, CompactOver: 1, Logger: testLogger(nil)})
	if err != nil {
		t.Fatal(err)
	}
	w.Close(t.Context())
	if files := testkit.Files(t, filepath.Join(dir, ParquetDir)); len(files) != 2 {
		t.Errorf("after Close with CompactOver 1: %v", files)
	}
}

// TestVerifyRepair damages each sink in turn; verify finds each damage whether it compares the
// sinks whole or a day at a time (verifyChunkRows), and repair mends it.
func TestVerifyRepair(t *testing.T) {
	for _, chunk := range []int64{verifyChunkRows, 1} {
		t.Run(fmt.Sprintf("chunk %d rows", chunk), func(t *testing.T) {
			defer func(n int64) { verifyChunkRows = n }(verifyChunkRows)
			verifyChunkRows = chunk
			verifyRepair(t)
		})
	}
}

func verifyRepair(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	defer w.Close(t.Context())
	rs := rows("a", 150, day0, 30*time.Minute)
	commitRows(t, w, mem, rs)
	want := expected(rs)
	mustVerify(t, w)
	dayDir := filepath.Join(dir, ParquetDir, "tenant="+testTenant, "day=2026-03-02")

	// A lost Parquet file: Verify sees the ids missing, Repair from DuckDB rewrites them.
	if err := os.Remove(filepath.Join(dayDir, partName(1, 1))); err != nil {
		t.Fatal(err)
	}
	rep, err := w.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !slices.ContainsFunc(rep.Days, func(d DayCheck) bool { return d.Day == "2026-03-02" && d.MissingInParquet == 48 }) {
		t.Fatalf("verify after losing a file: %+v", rep.Days)
	}
	if err := w.Repair(t.Context(), SinkDuckDB); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, w)

	// A file moved to the wrong day folder: rows outside their day, and ids out of place.
	other := filepath.Join(dir, ParquetDir, "tenant="+testTenant, "day=2026-03-01")
	files, _ := filepath.Glob(filepath.Join(dayDir, "*.parquet"))
	if err := os.Rename(files[0], filepath.Join(other, "part-000000000000-000000000000.parquet")); err != nil {
		t.Fatal(err)
	}
	rep, err = w.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Days, func(d DayCheck) bool { return d.Day == "2026-03-01" && d.OutsideDay == 48 && d.DuplicatesParquet == 0 }) {
		t.Fatalf("verify after moving a file: %+v", rep.Days)
	}
	if err := w.Repair(t.Context(), SinkDuckDB); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, w)

	// Rows lost from DuckDB: Repair from Parquet brings them back.
	execFile(t, dir, `DELETE FROM wh.activities WHERE day = DATE '2026-03-03'`)
	rep, err = w.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Days, func(d DayCheck) bool { return d.Day == "2026-03-03" && d.MissingInDuckDB == 48 }) {
		t.Fatalf("verify after deleting duckdb rows: %+v", rep.Days)
	}
	if err := w.Repair(t.Context(), SinkParquet); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, w)

	// A raw changed after it was stored: Verify sees it; Repair from Parquet restores it.
	execFile(t, dir, `UPDATE wh.activities SET raw = raw || ' ' WHERE id = 'a-000010'`)
	rep, err = w.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Days, func(d DayCheck) bool { return d.Day == "2026-03-01" && d.RawMismatch == 1 }) || rep.OK() {
		t.Fatalf("verify after changing a raw: %+v", rep.Days)
	}
	if err := w.Repair(t.Context(), SinkParquet); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, w)
	for _, from := range []string{FromDuckDB, FromParquet} {
		if got := readSink(t, dir, from); !equalContents(got, want) {
			t.Errorf("%s holds %v, want %v", from, got, want)
		}
	}
}

// TestPublishFailureIsRepaired: when Parquet cannot be written after the DuckDB commit, Commit
// says the rows are committed (ErrNotPublished) and the next Open publishes them.
func TestPublishFailureIsRepaired(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	// A file where the day's folder should be: as root, chmod would not stop the write.
	blocker := filepath.Join(dir, ParquetDir, "tenant="+testTenant, "day=2026-03-01")
	if err := os.MkdirAll(filepath.Dir(blocker), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rs := rows("a", 30, day0, time.Hour)
	rec := batch(mem, rs)
	defer rec.Release()
	res, err := w.Commit(t.Context(), Commit{Records: recs(rec), State: map[string]string{"wm": "1"}})
	if !errors.Is(err, ErrNotPublished) || res.Inserted != 30 {
		t.Fatalf("commit with an unwritable day folder: %+v, %v; want ErrNotPublished and 30 inserted", res, err)
	}
	if err := w.Close(t.Context()); err == nil {
		t.Error("Close published into an unwritable folder")
	}
	os.Remove(blocker)
	w = openTest(t, dir, SinkBoth)
	if v, _, _ := w.State(t.Context(), "wm"); v != "1" {
		t.Errorf("state after the failed publish = %q, want the committed 1", v)
	}
	mustVerify(t, w)
	w.Close(t.Context())
	if got := readSink(t, dir, FromParquet); !equalContents(got, expected(rs)) {
		t.Errorf("parquet holds %v, want %v", got, expected(rs))
	}
}

// TestCompactGroupsOfParts: a day of many parts becomes one file per compactGroupFiles parts
// (reading every part of a crowded day at once ran the default budget out of memory).
func TestCompactGroupsOfParts(t *testing.T) {
	defer func(n int) { compactGroupFiles = n }(compactGroupFiles)
	compactGroupFiles = 4
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	var all []row
	for i := range 10 {
		rs := rows(fmt.Sprintf("g%d-", i), 20, day0.Add(time.Duration(i)*time.Minute), time.Minute)
		all = append(all, rs...)
		commitRows(t, w, mem, rs)
	}
	res, err := w.Compact(t.Context(), CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files := testkit.Files(t, filepath.Join(dir, ParquetDir))
	if res.FilesBefore != 10 || res.FilesAfter != 3 || len(files) != 3 {
		t.Errorf("compact = %+v, files %v; want 10 parts in 3 files (4, 4, 2)", res, files)
	}
	mustVerify(t, w)
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := readSink(t, dir, FromParquet); !equalContents(got, expected(all)) {
		t.Errorf("parquet holds %v, want %v", got, expected(all))
	}
}

// TestCompactKeepsLargeFiles: with KeepBytes (Close's compaction) a merged file at least that
// large stays as it is, inode and all, and only the small parts after it are merged.
func TestCompactKeepsLargeFiles(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	var all []row
	commit := func(from, n int) {
		for i := from; i < from+n; i++ {
			rs := rows(fmt.Sprintf("k%d-", i), 20, day0.Add(time.Duration(i)*time.Minute), time.Second)
			all = append(all, rs...)
			commitRows(t, w, mem, rs)
		}
	}
	commit(0, 4)
	if _, err := w.Compact(t.Context(), CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, ParquetDir)
	files := testkit.Files(t, root)
	if len(files) != 1 {
		t.Fatalf("first compaction left %v, want one file", files)
	}
	big, err := os.Stat(filepath.Join(root, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	commit(4, 3)
	res, err := w.Compact(t.Context(), CompactOptions{KeepBytes: big.Size()})
	if err != nil {
		t.Fatal(err)
	}
	after := testkit.Files(t, root)
	if res.FilesBefore != 4 || res.FilesAfter != 2 || len(after) != 2 {
		t.Errorf("compact = %+v, files %v; want 4 files in 2 (the large one kept, three parts merged)", res, after)
	}
	still, err := os.Stat(filepath.Join(root, files[0]))
	if err != nil || !os.SameFile(big, still) || !still.ModTime().Equal(big.ModTime()) {
		t.Errorf("the large file %s was rewritten or removed (%v)", files[0], err)
	}
	mustVerify(t, w)
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := readSink(t, dir, FromParquet); !equalContents(got, expected(all)) {
		t.Errorf("parquet holds %v, want %v", got, expected(all))
	}
}
