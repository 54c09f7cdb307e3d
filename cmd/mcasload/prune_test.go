package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestPruneCommand prunes the first days of a loaded warehouse: prune says what it removed,
// status shows the oldest day and the horizon, verify passes, and loading the same file again
// stores nothing older than the horizon and says so.
func TestPruneCommand(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "wh")
	file := writeLines(t, testRecords(7, 300)) // 2026-02-01 22:00 onwards, over about three days
	if code, _, errs := runMcasload(t, nil, "load", "-w", wh, "--progress=false", file); code != 0 {
		t.Fatalf("load: exit %d\n%s", code, errs)
	}
	code, out, errs := runMcasload(t, nil, "prune", "-w", wh, "--older-than", "2026-02-03")
	if code != 0 || !strings.Contains(out, "tenant default: removed 2 days before 2026-02-03 (2026-02-01 … 2026-02-02)") ||
		!strings.Contains(out, "from the dedupe set") {
		t.Fatalf("prune: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runMcasload(t, nil, "status", "-w", wh, "--format", "json")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, errs)
	}
	var st struct {
		Meta struct {
			Status struct {
				Tenants []struct {
					OldestDay string `json:"oldest_day"`
					Horizon   string `json:"horizon"`
				} `json:"tenants"`
			} `json:"status"`
		} `json:"meta"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Meta.Status.Tenants) != 1 ||
		st.Meta.Status.Tenants[0].OldestDay < "2026-02-03" || st.Meta.Status.Tenants[0].Horizon != "2026-02-03" {
		t.Fatalf("status after prune: %+v (%v)\n%s", st, err, out)
	}
	if code, out, errs := runMcasload(t, nil, "verify", "-w", wh); code != 0 {
		t.Fatalf("verify after prune: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runMcasload(t, nil, "load", "-w", wh, "--progress=false", file)
	if code != 0 || !strings.Contains(out, "0 new") || !strings.Contains(out, "dated before the retention horizon 2026-02-03 (mcasload prune) not stored") {
		t.Fatalf("load behind the horizon: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := runMcasload(t, nil, "prune", "-w", wh, "--older-than", "soon"); code != exitUsage || !strings.Contains(errs, "--older-than") {
		t.Errorf("prune --older-than soon: exit %d, want %d naming the flag\n%s", code, exitUsage, errs)
	}
}
