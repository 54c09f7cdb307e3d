package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestOptimizeCommand packs the row groups of two loads into one: optimize says what it moved,
// a second run finds nothing to do, queries answer as before and verify passes.
func TestOptimizeCommand(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "wh")
	for _, seed := range []int{7, 8} { // two runs: a row group each
		if code, _, errs := runMcasload(t, nil, "load", "-w", wh, "--progress=false", writeLines(t, testRecords(seed, 300))); code != 0 {
			t.Fatalf("load: exit %d\n%s", code, errs)
		}
	}
	count := func() string {
		t.Helper()
		code, out, errs := runMcasload(t, nil, "sql", "-w", wh, "-f", "csv", "SELECT count(*) AS n, count(DISTINCT id) AS ids, sum(length(raw)) AS raw FROM activities")
		if code != 0 {
			t.Fatalf("sql: exit %d\n%s", code, errs)
		}
		return out
	}
	before := count()
	code, out, errs := runMcasload(t, nil, "optimize", "-w", wh)
	if code != 0 || !strings.Contains(out, "activities: packed 2 small row groups (600 of 600 rows): 2 row groups → 1, in ") ||
		!strings.Contains(out, "cloud_app_events: empty") {
		t.Fatalf("optimize: exit %d\n%s\n%s", code, out, errs)
	}
	if after := count(); after != before {
		t.Errorf("after optimize the table holds\n%s\nwant\n%s", after, before)
	}
	code, out, errs = runMcasload(t, nil, "optimize", "-w", wh)
	if code != 0 || !strings.Contains(out, "activities: nothing to pack (600 rows in 1 row group, 1 of them small)") {
		t.Errorf("second optimize: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runMcasload(t, nil, "verify", "-w", wh); code != 0 {
		t.Errorf("verify after optimize: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runMcasload(t, nil, "optimize", "-w", wh, "--memory-budget", "lots"); code != exitUsage || !strings.Contains(errs, "--memory-budget") {
		t.Errorf("optimize --memory-budget lots: exit %d, want %d naming the flag\n%s", code, exitUsage, errs)
	}
	if code, _, errs := runMcasload(t, nil, "optimize", "-w", filepath.Join(t.TempDir(), "none")); code == 0 || !strings.Contains(errs, "--warehouse") {
		t.Errorf("optimize of no warehouse: exit %d, want a failure that names --warehouse\n%s", code, errs)
	}
}
