package warehouse

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// rowGroups counts the row groups of a table in the warehouse's DuckDB file.
func rowGroups(t *testing.T, dir, table string) int {
	t.Helper()
	return countWhere(t, dir, `SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('wh.`+table+`')`)
}

// countWhere runs a query of one integer on the warehouse file in dir, read-only.
func countWhere(t *testing.T, dir, q string) int {
	t.Helper()
	s, err := openSession(context.Background(), sessionConfig{}, filepath.Join(dir, DatabaseFile), true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.detachClose(context.Background())
	var n int
	if err := s.conn.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// openHolding opens a writer like openTest, logging to log, that keeps the file attached hold
// after a commit (-1: lets go of it after every commit, as large commits do).
func openHolding(t *testing.T, dir string, hold time.Duration, log *bytes.Buffer) *Writer {
	t.Helper()
	return openHoldingThreads(t, dir, hold, log, 2)
}

// openHoldingThreads is openHolding with DuckDB's threads (the commits run on half of them).
func openHoldingThreads(t *testing.T, dir string, hold time.Duration, log *bytes.Buffer, threads int) *Writer {
	t.Helper()
	w, err := Open(context.Background(), Options{Dir: dir, Sinks: SinkBoth, MemoryLimit: "300MB", Threads: threads, Logger: testLogger(log),
		Source: "simulator", LockWait: 5 * time.Second, Tenant: testTenant, HoldIdle: hold})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// holdsExactly checks that both sinks hold exactly rs (the first of each id) and that verify
// agrees.
func holdsExactly(t *testing.T, dir string, rs []row) {
	t.Helper()
	want := expected(rs)
	for _, from := range []string{FromDuckDB, FromParquet} {
		if got := readSink(t, dir, from); !equalContents(got, want) {
			t.Errorf("%s holds %v, want %v", from, got, want)
		}
	}
	w := openTest(t, dir, SinkBoth)
	mustVerify(t, w)
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// firstRun stores 100 rows in one commit of a run of their own, and returns them.
func firstRun(t *testing.T, dir string, mem memory.Allocator) []row {
	t.Helper()
	first := rows("a", 100, day0, time.Minute)
	w := openTest(t, dir, SinkBoth)
	commitRows(t, w, mem, first)
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return first
}

// TestCloseMergesRowGroups: with the commits on one DuckDB thread Close counts the run's row
// groups from its checkpoints; on several it reads them from the table's storage.
func TestCloseMergesRowGroups(t *testing.T) {
	for _, threads := range []int{2, 4} {
		t.Run(fmt.Sprintf("%d threads", threads), func(t *testing.T) { testCloseMergesRowGroups(t, threads) })
	}
}

func testCloseMergesRowGroups(t *testing.T, threads int) {
	mem := newMem(t)
	dir := t.TempDir()
	first := firstRun(t, dir, mem)
	if n := rowGroups(t, dir, "activities"); n != 1 {
		t.Fatalf("one commit: %d row groups, want 1", n)
	}

	// A run of five commits, each of which lets go of the file (as large commits do, past
	// HoldCache), leaves five row groups until Close merges them into one; the first run's
	// row group stays as it was.
	var log bytes.Buffer
	w := openHoldingThreads(t, dir, -1, &log, threads)
	all := append([]row{}, first...)
	for i := range 5 {
		rs := rows(string(rune('b'+i)), 100, day0.Add(time.Duration(i)*time.Hour), time.Minute)
		all = append(all, rs...)
		commitRows(t, w, mem, append(rs, first[i])) // with a duplicate, which stays out
	}
	if err := w.releaseHold(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := rowGroups(t, dir, "activities"); n != 6 {
		t.Fatalf("before Close: %d row groups, want 6 (one per commit)", n)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := rowGroups(t, dir, "activities"); n != 2 {
		t.Errorf("after Close: %d row groups, want 2 (the first run's, and this run's merged)", n)
	}
	if !strings.Contains(log.String(), "merged row groups") {
		t.Errorf("no merge logged:\n%s", log.String())
	}
	holdsExactly(t, dir, all)
}

// TestMergeSlices merges a run's rows a slice at a time: each slice finds its rows again after
// the previous slice's checkpoint renumbered the rowids.
func TestMergeSlices(t *testing.T) {
	defer func(g int) { mergeSliceGroups = g }(mergeSliceGroups)
	mergeSliceGroups = 1
	mem := newMem(t)
	dir := t.TempDir()
	first := firstRun(t, dir, mem)
	var log bytes.Buffer
	w := openHolding(t, dir, -1, &log)
	w.mergeRows = vectorRows // slices of 2048 rows: 6000 rows move in three
	all := append([]row{}, first...)
	for i := range 20 {
		rs := rows(fmt.Sprintf("b%02d-", i), 300, day0.Add(time.Duration(i)*time.Hour), time.Second)
		all = append(all, rs...)
		commitRows(t, w, mem, rs)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "unmerged") {
		t.Fatalf("merge failed:\n%s", log.String())
	}
	// 1 (first run) + 3 new + at most 2 commits' row groups cut by a slice's end.
	if n := rowGroups(t, dir, "activities"); n > 6 {
		t.Errorf("after Close: %d row groups, want at most 6 (21 before)", n)
	}
	holdsExactly(t, dir, all)
}

// TestHeldCommitsNotMerged: commits that keep the file attached and stay in the WAL append to
// one row group; Close leaves it (nothing to gain from a rewrite).
func TestHeldCommitsNotMerged(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	var log bytes.Buffer
	w := openHolding(t, dir, time.Hour, &log)
	var all []row
	for i := range 4 {
		rs := rows(fmt.Sprintf("h%d-", i), 100, day0.Add(time.Duration(i)*time.Hour), time.Minute)
		all = append(all, rs...)
		commitRows(t, w, mem, rs)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "merged row groups") || !strings.Contains(log.String(), "row groups already merged") {
		t.Errorf("held commits were merged again, or not looked at:\n%s", log.String())
	}
	if n := rowGroups(t, dir, "activities"); n != 1 {
		t.Errorf("%d row groups, want 1", n)
	}
	if got, want := readSink(t, dir, FromDuckDB), expected(all); !equalContents(got, want) {
		t.Errorf("duckdb holds %v, want %v", got, want)
	}
}

func TestRowGroupRows(t *testing.T) {
	for _, tc := range []struct {
		limit       string
		rows, bytes int64
		want        int
	}{
		{"107MiB", 1000, 3_400_000, 12288},        // the simulator's records at the default budget
		{"2GB", 1000, 3_400_000, maxRowGroupRows}, // capped at DuckDB's default
		{"107MiB", 10, 1_000_000, 0},              // 100 KB rows: not even a vector fits
		{"not a size", 1000, 1000, 0},
		{"107MiB", 0, 0, 0},
	} {
		if got := rowGroupRows(mergeMemory(tc.limit), &appendTail{rows: tc.rows, bytes: tc.bytes}); got != tc.want {
			t.Errorf("rowGroupRows(%s, %d rows of %d bytes) = %d, want %d", tc.limit, tc.rows, tc.bytes, got, tc.want)
		}
	}
}
