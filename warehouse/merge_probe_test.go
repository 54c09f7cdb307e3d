package warehouse

import (
	"cmp"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMergeProbe measures Close's row group merge of a whole table (MCASLOAD_MERGE_TABLE,
// default activities) of a warehouse (MCASLOAD_MERGE_DIR: a copy, it is changed), with
// MCASLOAD_MERGE_ROWS rows per row group, MCASLOAD_MERGE_GROUPS row groups a slice and DuckDB
// limited to MCASLOAD_MERGE_LIMIT: time and peak RSS of the merge alone (docs/benchmarks.md).
// It is a measurement, skipped unless MCASLOAD_MERGE_DIR is set.
func TestMergeProbe(t *testing.T) {
	dir := os.Getenv("MCASLOAD_MERGE_DIR")
	if dir == "" {
		t.Skip("MCASLOAD_MERGE_DIR not set")
	}
	size, _ := strconv.Atoi(os.Getenv("MCASLOAD_MERGE_ROWS"))
	w, err := Open(t.Context(), Options{Dir: dir, Sinks: SinkBoth, MemoryLimit: os.Getenv("MCASLOAD_MERGE_LIMIT"), Threads: 2, Logger: testLogger(nil),
		Source: "file", LockWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w.mergeRows = size
	if g, _ := strconv.Atoi(os.Getenv("MCASLOAD_MERGE_GROUPS")); g > 0 {
		defer func(old int) { mergeSliceGroups = old }(mergeSliceGroups)
		mergeSliceGroups = g
	}
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	start := time.Now()
	if _, err := w.mergeTail(t.Context(), cmp.Or(os.Getenv("MCASLOAD_MERGE_TABLE"), "activities"), &appendTail{}, size); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM") {
			t.Logf("merge of %d-row groups: %v, %s", size, time.Since(start), l)
		}
	}
	w.Close(t.Context())
}
