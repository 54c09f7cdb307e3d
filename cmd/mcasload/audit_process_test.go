package main

import (
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// TestAuditProcess drives `mcasload audit` (the real binary) over a scanned warehouse from which
// rows were deleted, and over one that missed records an indexing delay longer than the overlap
// hid: it names the windows and ids, and --repair makes the warehouse exact again.
func TestAuditProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	env := []string{"MCAS_TOKEN=" + scanTestToken}
	tn := scanTenant()
	want := sinks.WantTenant(tn, time.Time{})
	// The service's total is only approximate (±5 %): a complete warehouse must still pass.
	srv := startScanSim(t, tn, simulator.Config{Quirks: []simulator.Quirk{simulator.QuirkApproximateTotal}})
	dir := t.TempDir()
	common := []string{"--url", srv.URL, "-w", dir, "--sink", "duckdb", "--rate-limit", "60000", "--progress=false"}
	if r := testkit.Run(t, bin, env, append([]string{"scan", "--limit", "500"}, common...)...); r.Code != 0 {
		t.Fatalf("scan exit %d: %s", r.Code, r.Stderr)
	}
	audit := func(t *testing.T, wantCode int, extra ...string) auditReport {
		t.Helper()
		r := testkit.Run(t, bin, env, append(append([]string{"audit", "--format", "json"}, common...), extra...)...)
		if r.Code != wantCode {
			t.Fatalf("audit %v: exit %d, want %d:\n%s%s", extra, r.Code, wantCode, r.Stdout, r.Stderr)
		}
		var rep auditReport
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatalf("audit output: %v\n%s", err, r.Stdout)
		}
		return rep
	}

	t.Run("complete warehouse", func(t *testing.T) {
		rep := audit(t, exitOK)
		if rep.Incomplete != 0 || len(rep.Windows) < 3 || rep.Requests == 0 {
			t.Fatalf("audit of a complete warehouse: %+v", rep)
		}
	})

	day := time.UnixMilli(tn.Activity(tn.Len() / 2).Timestamp).UTC().Truncate(24 * time.Hour)
	ids := idsOfDay(tn, day)
	t.Run("a day short beyond the tolerance", func(t *testing.T) {
		gone := ids[:len(ids)*3/10]
		deleteActivities(t, dir, gone)
		rep := audit(t, exitIncomplete)
		w := rep.window(day)
		if w == nil || w.Status != "incomplete" || !sameIDs(w.Missing, gone) || rep.Incomplete != 1 {
			t.Fatalf("audit after deleting %d rows of %s: %+v", len(gone), day, rep)
		}
		if rep := audit(t, exitOK, "--repair"); rep.Repaired != len(gone) {
			t.Fatalf("repair loaded %d records, want %d", rep.Repaired, len(gone))
		}
		assertDuckDB(t, dir, want)
		audit(t, exitOK)
	})

	t.Run("a few rows short, found by --exact-since", func(t *testing.T) {
		gone := ids[len(ids)/2 : len(ids)/2+2]
		deleteActivities(t, dir, gone)
		if rep := audit(t, exitOK); rep.Incomplete != 0 {
			t.Fatalf("2 missing rows of %d beat the 5%% tolerance: %+v", len(ids), rep)
		}
		rep := audit(t, exitIncomplete, "--exact-since", day.Format(time.DateOnly))
		if w := rep.window(day); w == nil || !w.Exact || !sameIDs(w.Missing, gone) {
			t.Fatalf("--exact-since %s: %+v", day.Format(time.DateOnly), rep)
		}
		audit(t, exitOK, "--exact-since", day.Format(time.DateOnly), "--repair")
		assertDuckDB(t, dir, want)
	})

	t.Run("an indexing delay longer than the overlap", func(t *testing.T) {
		// The service shows a record 30 minutes after storing it; the scans overlap 10.
		clk := clock.NewOffset(clock.Real{}, 0)
		now := clk.Now().UTC().Truncate(time.Millisecond)
		lagged := synth.New(synth.Config{Seed: 6, Users: 20, Days: 2, End: now, Total: 2000, LateArrivals: -1,
			TieBursts: []synth.TieBurst{{At: now.Add(-20 * time.Minute), Size: 40, Field: "created"}}})
		lsrv := startScanSim(t, lagged, simulator.Config{Clock: clk, VisibilityLag: 30 * time.Minute})
		ldir := t.TempDir()
		lcommon := []string{"--url", lsrv.URL, "-w", ldir, "--sink", "duckdb", "--rate-limit", "60000", "--progress=false"}
		scan := func() time.Time {
			r := testkit.Run(t, bin, env, append([]string{"scan", "--limit", "500"}, lcommon...)...)
			if r.Code != 0 {
				t.Fatalf("scan exit %d: %s", r.Code, r.Stderr)
			}
			return storedWatermark(t, bin, ldir)
		}
		scan()
		clk.Advance(2 * time.Hour)
		wm := scan()
		lwant := createdBefore(lagged, wm)
		missed := missingIDs(t, ldir, lwant)
		if len(missed) < 40 {
			t.Fatalf("the scans missed %d records; the lag should hide at least the 40 stored 20 minutes before the first run", len(missed))
		}
		r := testkit.Run(t, bin, env, append([]string{"audit", "--format", "json", "--exact-since", "1d"}, lcommon...)...)
		var rep auditReport
		if r.Code != exitIncomplete || json.Unmarshal([]byte(r.Stdout), &rep) != nil {
			t.Fatalf("audit --exact-since 1d: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		var found []string
		for _, w := range rep.Windows {
			found = append(found, w.Missing...)
		}
		if !sameIDs(found, missed) {
			t.Fatalf("audit names %d missing ids, the scans missed %d", len(found), len(missed))
		}
		if r := testkit.Run(t, bin, env, append([]string{"audit", "--exact-since", "1d", "--repair"}, lcommon...)...); r.Code != 0 || !strings.Contains(r.Stdout, "repaired") {
			t.Fatalf("audit --repair: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
		}
		assertDuckDB(t, ldir, lwant)
	})

	t.Run("wrong warehouse", func(t *testing.T) {
		loaded := filepath.Join(t.TempDir(), "wh")
		if code, _, errs := runMcasload(t, nil, "load", "-w", loaded, writeLines(t, testRecords(3, 20))); code != 0 {
			t.Fatalf("load: %s", errs)
		}
		r := testkit.Run(t, bin, env, "audit", "--url", srv.URL, "-w", loaded)
		if r.Code != exitFailure || !strings.Contains(r.Stderr, "mcasload load") {
			t.Errorf("audit of a loaded warehouse: exit %d\n%s", r.Code, r.Stderr)
		}
		other := startScanSim(t, tn, simulator.Config{})
		r = testkit.Run(t, bin, env, "audit", "--url", other.URL, "-w", dir, "--sink", "duckdb")
		if r.Code != exitFailure || !strings.Contains(r.Stderr, "holds scans of") || !strings.Contains(r.Stderr, srv.URL) {
			t.Errorf("audit against another tenant: exit %d\n%s", r.Code, r.Stderr)
		}
	})
}

// auditReport is the part of `audit --format json` the tests read.
type auditReport struct {
	Windows []struct {
		From    time.Time `json:"from"`
		Status  string    `json:"status"`
		Exact   bool      `json:"diffed_by_id"`
		Missing []string  `json:"missing_ids"`
	} `json:"windows"`
	Requests   int64 `json:"requests"`
	Repaired   int   `json:"repaired_records"`
	Incomplete int   `json:"incomplete_windows"`
}

func (r auditReport) window(day time.Time) *struct {
	From    time.Time `json:"from"`
	Status  string    `json:"status"`
	Exact   bool      `json:"diffed_by_id"`
	Missing []string  `json:"missing_ids"`
} {
	for i := range r.Windows {
		if r.Windows[i].From.Equal(day) {
			return &r.Windows[i]
		}
	}
	return nil
}

func idsOfDay(tn *synth.Tenant, day time.Time) []string {
	var ids []string
	for i := range tn.Len() {
		if a := tn.Activity(i); time.UnixMilli(a.Timestamp).UTC().Truncate(24 * time.Hour).Equal(day) {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

func sameIDs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// deleteActivities removes rows (and their dedupe entries) from a DuckDB-only warehouse, as a
// loss the audit must notice.
func deleteActivities(t *testing.T, dir string, ids []string) {
	t.Helper()
	db, err := sql.Open("duckdb", filepath.Join(dir, warehouse.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	list := "'" + strings.Join(ids, "','") + "'"
	for _, table := range []string{"activities", "activity_ids"} {
		if _, err := db.Exec(`DELETE FROM ` + table + ` WHERE id IN (` + list + `)`); err != nil {
			t.Fatal(err)
		}
	}
}

// assertDuckDB checks the DuckDB sink alone (the audit tests keep --sink duckdb).
func assertDuckDB(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	if missing := missingIDs(t, dir, want); len(missing) > 0 || len(sinks.Rows(t, dir, "duckdb")) != len(want) {
		t.Fatalf("duckdb holds %d rows, want %d (%d missing)", len(sinks.Rows(t, dir, "duckdb")), len(want), len(missing))
	}
}

// missingIDs lists the ids of want that the DuckDB sink lacks or holds differently.
func missingIDs(t *testing.T, dir string, want map[string]string) []string {
	t.Helper()
	got := sinks.Rows(t, dir, "duckdb")
	var out []string
	for id, w := range want {
		if got[id] != w {
			out = append(out, id)
		}
	}
	return out
}
