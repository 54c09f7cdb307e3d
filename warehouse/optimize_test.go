package warehouse

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPackSmall(t *testing.T) {
	defer func(n int64) { optimizeSliceRows = n }(optimizeSliceRows)
	optimizeSliceRows = 100 // small: under 50 rows
	cases := []struct {
		name   string
		sizes  []int64
		slices [][]rowidRange
		small  int
	}{
		{"empty table", nil, nil, 0},
		{"full row groups", []int64{100, 100, 60}, nil, 0},
		{"a lone small row group stays", []int64{100, 10, 100}, nil, 1},
		{"two small ones that fit one slice", []int64{100, 10, 20}, [][]rowidRange{{{110, 129}, {100, 109}}}, 2},
		{"from the end backwards, a slice at most 100 rows",
			[]int64{40, 40, 100, 40, 30},
			[][]rowidRange{{{220, 249}, {180, 219}}, {{40, 79}, {0, 39}}}, 4},
		{"a slice closes where the next would overflow",
			[]int64{30, 30, 30, 30, 30},
			[][]rowidRange{{{120, 149}, {90, 119}, {60, 89}}, {{30, 59}, {0, 29}}}, 5},
		{"row groups emptied by deletes are skipped", []int64{10, 0, 10}, [][]rowidRange{{{10, 19}, {0, 9}}}, 3},
		{"a slice of one row group is not moved", []int64{49, 100, 49, 100, 49}, [][]rowidRange{{{298, 346}, {149, 197}}}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			slices, small := packSmall(tc.sizes)
			if small != tc.small || !reflect.DeepEqual(slices, tc.slices) {
				t.Errorf("packSmall(%v) = %v, %d small; want %v, %d", tc.sizes, slices, small, tc.slices, tc.small)
			}
		})
	}
}

// smallGroupsRun stores rows in commits that each let go of the file, so that each leaves a
// row group of its own (as a load at the default budget leaves row groups of ~10k rows), and
// returns every row stored.
func smallGroupsRun(t *testing.T, dir string, commits int) []row {
	t.Helper()
	mem := newMem(t)
	first := firstRun(t, dir, mem)
	var log bytes.Buffer
	w := openHolding(t, dir, -1, &log)
	w.mergeRows = 1 // below a vector: Close keeps the commits' row groups, which Optimize is for
	all := append([]row{}, first...)
	for i := range commits {
		// Three days, interleaved across commits; every third commit re-delivers a stored row.
		rs := rows(fmt.Sprintf("s%02d-", i), 300, day0.Add(time.Duration(i%3)*24*time.Hour+time.Duration(i)*time.Minute), 7*time.Second)
		all = append(all, rs...)
		if i%3 == 0 {
			rs = append(rs, first[i])
		}
		commitRows(t, w, mem, rs)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return all
}

// TestOptimizePacksRowGroups: Optimize leaves both sinks holding exactly what they held, in
// fewer row groups, and a second run finds nothing to do.
func TestOptimizePacksRowGroups(t *testing.T) {
	defer func(n int64) { optimizeSliceRows = n }(optimizeSliceRows)
	optimizeSliceRows = 2048 // small: under 1024 rows
	dir := t.TempDir()
	all := smallGroupsRun(t, dir, 12)
	before := rowGroups(t, dir, "activities")
	if before < 13 {
		t.Fatalf("before: %d row groups, want at least 13 (one per commit)", before)
	}
	holdsExactly(t, dir, all)

	w := openTest(t, dir, SinkBoth)
	res, err := w.Optimize(t.Context(), OptimizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// 13 row groups (100 rows, then 12 of 300) packed whole into slices of at most 2,048 rows
	// from the end: 1,800, then 1,900.
	got, moved := res[0], int64(len(all))
	if got.Table != "activities" || got.Rows != int64(len(all)) || got.GroupsBefore != before || got.Moved != moved {
		t.Errorf("activities: %+v, want %d rows, %d moved out of %d row groups", got, len(all), moved, before)
	}
	if after := rowGroups(t, dir, "activities"); after != 2 || got.GroupsAfter != 2 {
		t.Errorf("after: %d row groups (reported %d), want 2", after, got.GroupsAfter)
	}
	if res[1].Table != "activity_ids" || res[1].Moved != moved {
		t.Errorf("activity_ids: %+v, want %d rows moved", res[1], moved)
	}
	holdsExactly(t, dir, all)

	w = openTest(t, dir, SinkBoth)
	res, err = w.Optimize(t.Context(), OptimizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Moved != 0 {
			t.Errorf("second run moved %d rows of %s, want none", r.Moved, r.Table)
		}
	}
}

// TestOptimizeKilled kills a real optimize between copying its second slice and the COMMIT,
// then the next run at its first (the same rows): after each kill both sinks hold exactly what
// they held, and a last run finishes the packing (the first run's slice of 1,800 rows, and the
// 1,900 left in one more).
func TestOptimizeKilled(t *testing.T) {
	dir := t.TempDir()
	all := smallGroupsRun(t, dir, 12)
	before := rowGroups(t, dir, "activities")
	for _, fp := range []string{"optimize-before-commit@2", "optimize-before-commit@1", ""} {
		runCrashChild(t, "optimize", dir, SinkBoth, fp)
		holdsExactly(t, dir, all)
	}
	if after := rowGroups(t, dir, "activities"); after != 2 {
		t.Errorf("after the last run: %d row groups (%d before), want 2", after, before)
	}
	for _, f := range []string{DatabaseFile + ".wal"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
}

// runOptimizeChild is the "optimize" child role: Optimize in slices of 2,048 rows.
func runOptimizeChild(ctx context.Context, opts Options) error {
	optimizeSliceRows = 2048
	w, err := Open(ctx, opts)
	if err != nil {
		return err
	}
	res, err := w.Optimize(ctx, OptimizeOptions{MemoryLimit: "200MB"})
	if err != nil {
		return err
	}
	var moved []string
	for _, r := range res {
		moved = append(moved, fmt.Sprintf("%s %d", r.Table, r.Moved))
	}
	fmt.Println("moved:", strings.Join(moved, ", "))
	return w.Close(ctx)
}
