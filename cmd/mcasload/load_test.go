package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver, to read the sinks back

	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/warehouse"
)

// runMcasload runs the CLI in-process and returns its exit code and output.
func runMcasload(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	code = Run(t.Context(), append([]string{"mcasload"}, args...), stdin, &out, &errb)
	return code, out.String(), errb.String()
}

// loadTestStart is the first activity time of the generated test records.
var loadTestStart = time.Date(2026, 2, 1, 22, 0, 0, 0, time.UTC)

// testRecords renders n activities, deterministic in seed, spread over about three UTC days,
// with the quirks a real record has (unicode, case-colliding keys, string-typed ids, an extra
// field, a failed sign-in with only failedUserData) so raw must survive byte for byte.
func testRecords(seed, n int) []string {
	out := make([]string, n)
	for i := range n {
		h := sha256.Sum256(fmt.Appendf(nil, "%d/%d", seed, i))
		id := fmt.Sprintf("%x", h)
		ts := loadTestStart.Add(time.Duration(i) * 61 * time.Minute / time.Duration(max(n/50, 1))).UnixMilli()
		user := fmt.Sprintf(`"user":{"userName":"user%d@contoso.com"}`, i%17)
		if i%11 == 0 {
			user = fmt.Sprintf(`"failedUserData":{"userName":"user%d@contoso.com"}`, i%17)
		}
		out[i] = fmt.Sprintf(`{"_id":"%s","uid":"%s","timestamp":%d,"created":%d,"appId":20893,"appName":"Microsoft Exchange Online",%s,`+
			`"eventTypeName":"EVENT_CATEGORY_LOGIN","description":"Connexion réussie — ✓ %d","device":{"clientIP":"10.0.%d.%d"},`+
			`"location":{"countryCode":"FR","category":%d},"resolvedActor":{"objType":"23","saasId":"11161"},`+
			`"rawDataJson":{"Level":4,"level":"x%d"},"extra_%d":null}`,
			id, id, ts, ts+1500, user, i, i%200, i%250, 1+i%6, i, i%3)
	}
	return out
}

func writeLines(t *testing.T, lines []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "activities.ndjson")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadCommand(t *testing.T) {
	lines := testRecords(1, 1200)
	file := writeLines(t, lines)
	dir := filepath.Join(t.TempDir(), "wh")
	code, out, errs := runMcasload(t, nil, "load", "--warehouse", dir, "--batch-rows", "500", "--progress=false", file)
	if code != exitOK {
		t.Fatalf("load exit %d: %s%s", code, out, errs)
	}
	if !strings.Contains(out, "load done: 1,200 records read") || !strings.Contains(out, "1,200 new, 0 duplicate") {
		t.Errorf("summary: %q", out)
	}
	sinks.ExactlyOnce(t, dir, sinks.WantLines(t, lines))

	t.Run("again from stdin adds nothing", func(t *testing.T) {
		code, out, errs := runMcasload(t, strings.NewReader(strings.Join(lines, "\n")), "load", "-w", dir, "--progress=false", "-")
		if code != exitOK || !strings.Contains(out, "0 new, 1,200 duplicate") {
			t.Errorf("reload exit %d: %s%s", code, out, errs)
		}
		sinks.ExactlyOnce(t, dir, sinks.WantLines(t, lines))
	})
	t.Run("status", func(t *testing.T) {
		code, out, errs := runMcasload(t, nil, "status", "-w", dir)
		if code != exitOK {
			t.Fatalf("status exit %d: %s", code, errs)
		}
		for _, want := range []string{"tenant default: 1,200 rows", "source file", "sinks both", "2026-02-01", "pending: nothing", "rejects: none", "mcasload load"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
		code, out, _ = runMcasload(t, nil, "status", "-w", dir, "--format", "json")
		var env statusEnvelope
		if code != exitOK || json.Unmarshal([]byte(out), &env) != nil {
			t.Fatalf("status json exit %d: %s", code, out)
		}
		st := env.Meta.Status
		var perDay int64
		for _, d := range env.Rows {
			perDay += d.ParquetRows
			if d.ParquetRows != d.DuckDBRows {
				t.Errorf("day %s: duckdb %d parquet %d", d.Day, d.DuckDBRows, d.ParquetRows)
			}
		}
		if st.Rows != 1200 || perDay != 1200 || len(st.Runs) != 2 || st.Runs[0].Inserted != 0 || st.Runs[1].Inserted != 1200 {
			t.Errorf("status json: rows %d, parquet %d, runs %+v", st.Rows, perDay, st.Runs)
		}
		var sum struct {
			Duplicates int64 `json:"duplicates"`
			Command    string
		}
		if err := json.Unmarshal(st.Runs[0].Summary, &sum); err != nil || sum.Duplicates != 1200 || sum.Command != "load" {
			t.Errorf("run log summary %s (%v)", st.Runs[0].Summary, err)
		}
	})
	t.Run("verify and repair", func(t *testing.T) {
		if code, out, errs := runMcasload(t, nil, "verify", "-w", dir); code != exitOK || !strings.Contains(out, "verify: ok") {
			t.Fatalf("verify exit %d: %s%s", code, out, errs)
		}
		files, _ := filepath.Glob(filepath.Join(dir, warehouse.ParquetDir, "*", "*", "*.parquet"))
		if err := os.Remove(files[0]); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runMcasload(t, nil, "verify", "-w", dir)
		if code != exitFailure || !strings.Contains(out, "missing in parquet") || !strings.Contains(errs, "mcasload repair") {
			t.Fatalf("verify after damage exit %d: %s%s", code, out, errs)
		}
		if code, out, errs := runMcasload(t, nil, "repair", "-w", dir, "--from", "duckdb"); code != exitOK {
			t.Fatalf("repair exit %d: %s%s", code, out, errs)
		}
		if code, out, errs := runMcasload(t, nil, "verify", "-w", dir); code != exitOK {
			t.Fatalf("verify after repair exit %d: %s%s", code, out, errs)
		}
		sinks.ExactlyOnce(t, dir, sinks.WantLines(t, lines))
	})
}

func TestLoadRejectedExit3(t *testing.T) {
	lines := testRecords(2, 100)
	bad := []string{`{"timestamp":1769990400000}`, `{"_id":"x","timestamp":"soon"}`, `not json`}
	file := writeLines(t, append(append([]string{}, lines...), bad...))
	dir := t.TempDir()
	code, out, errs := runMcasload(t, nil, "load", "-w", dir, "--progress=false", file)
	if code != exitRejected {
		t.Fatalf("exit %d, want %d: %s%s", code, exitRejected, out, errs)
	}
	rejDir := filepath.Join(dir, warehouse.RejectedDir)
	if !strings.Contains(out, "3 records rejected (bad_timestamp: 1, invalid_json: 1, missing_id: 1); see table rejected_activities and "+rejDir) {
		t.Errorf("summary does not say where the rejects are: %q", out)
	}
	if !strings.Contains(errs, "3 of 103 records were rejected") || !strings.Contains(errs, rejDir) {
		t.Errorf("stderr: %q", errs)
	}
	sinks.ExactlyOnce(t, dir, sinks.WantLines(t, lines))
	code, out, _ = runMcasload(t, nil, "status", "-w", dir)
	if code != exitOK || !strings.Contains(out, "rejects: 3 (bad_timestamp 1, invalid_json 1, missing_id 1)") {
		t.Errorf("status exit %d:\n%s", code, out)
	}
}

func TestLoadUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"load", "-w", dir}, "name at least one file"},
		{[]string{"load", "-w", dir, "-", "-"}, "only once"},
		{[]string{"load", "-w", dir, "--sink", "s3", "x"}, "use duckdb, parquet or both"},
		{[]string{"load", "-w", dir, "--batch-rows", "0", "x"}, "must be positive"},
		{[]string{"load", "-w", dir, "--memory-budget", "lots", "x"}, "--memory-budget: parse size \"lots\": use a number and a unit, such as 256MB"},
		{[]string{"load", "-w", dir, "--memory-budget", "100MB", "x"}, "--memory-budget: plan memory budget: 95MiB is below the minimum of 183MiB"},
		{[]string{"load", "-w", dir, "--memory-budget", "1GB", "--memory-limit", "1GB", "x"}, "--memory-limit is a deprecated alias of --memory-budget: pass only --memory-budget"},
		{[]string{"load", "-w", dir, "--memory-limit", "2", "x"}, "--memory-limit: parse size"},
		{[]string{"status", "-w", dir, "--format", "xml"}, "use table or json"},
		{[]string{"repair", "-w", dir, "--from", "both"}, "duckdb or parquet"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errs := runMcasload(t, nil, tt.args...)
			if code != exitUsage || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, exitUsage, tt.want)
			}
		})
	}
	code, _, errs := runMcasload(t, nil, "load", "-w", dir, "--progress=false", filepath.Join(dir, "missing.ndjson"))
	if code != exitUsage || !strings.Contains(errs, "missing.ndjson") {
		t.Errorf("missing file: exit %d, %q", code, errs)
	}
	code, _, errs = runMcasload(t, nil, "status", "-w", filepath.Join(dir, "nowhere"))
	if code != exitFailure || !strings.Contains(errs, "no warehouse") {
		t.Errorf("status of no warehouse: exit %d, %q", code, errs)
	}
}

// TestLoadMemoryLimitIsDeprecated: the old flag still works, as the budget of the whole
// process, and says that it is deprecated and what to use.
func TestLoadMemoryLimitIsDeprecated(t *testing.T) {
	lines := testRecords(7, 50)
	dir := filepath.Join(t.TempDir(), "wh")
	code, out, errs := runMcasload(t, nil, "load", "-w", dir, "--memory-limit", "300MB", "--progress=false", writeLines(t, lines))
	if code != exitOK || !strings.Contains(out, "50 new") {
		t.Fatalf("load exit %d: %s%s", code, out, errs)
	}
	if !strings.Contains(errs, "--memory-limit is deprecated; use --memory-budget, which bounds the whole process") {
		t.Errorf("no deprecation notice on stderr: %q", errs)
	}
	sinks.ExactlyOnce(t, dir, sinks.WantLines(t, lines))
	code, _, errs = runMcasload(t, nil, "load", "-w", dir, "--memory-budget", "300MB", "--progress=false", writeLines(t, lines))
	if code != exitOK || strings.Contains(errs, "deprecated") {
		t.Errorf("--memory-budget: exit %d, stderr %q", code, errs)
	}
}

func TestLoadSecondWriterExit4(t *testing.T) {
	dir := t.TempDir()
	w, err := warehouse.Open(t.Context(), warehouse.Options{Dir: dir, Command: "mcasload scan --url https://tenant.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	start := time.Now()
	code, _, errs := runMcasload(t, strings.NewReader(testRecords(3, 1)[0]), "load", "-w", dir, "--progress=false", "-")
	if code != exitLocked || !strings.Contains(errs, "mcasload scan --url https://tenant.example") || !strings.Contains(errs, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("exit %d, stderr %q; want %d naming the holder", code, errs, exitLocked)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the second writer took %s to give up; it must fail at once", el)
	}
}

func TestLoadTakesOverStaleLock(t *testing.T) {
	dir := t.TempDir()
	// A lock file left by a writer that died: its pid is gone and nobody holds the flock.
	stale := warehouse.LockHolder{PID: 2147483646, Host: "old-host", Start: time.Now().Add(-time.Hour), Command: "mcasload load killed.ndjson"}
	b, _ := json.Marshal(stale)
	if err := os.WriteFile(filepath.Join(dir, warehouse.LockFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := testRecords(4, 50)
	code, out, errs := runMcasload(t, nil, "load", "-w", dir, "--progress=false", writeLines(t, lines))
	if code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if !strings.Contains(errs, "stale") || !strings.Contains(errs, "2147483646") {
		t.Errorf("no warning naming the stale holder: %q", errs)
	}
	sinks.ExactlyOnce(t, dir, sinks.WantLines(t, lines))
}

func TestLoadRefusesMixedSources(t *testing.T) {
	dir := t.TempDir()
	f := writeLines(t, testRecords(5, 10))
	if code, _, errs := runMcasload(t, nil, "load", "-w", dir, "--progress=false", f); code != exitOK {
		t.Fatal(errs)
	}
	code, _, errs := runMcasload(t, nil, "load", "-w", dir, "--progress=false", "--source", "simulator", f)
	if code != exitFailure || !strings.Contains(errs, "--allow-mixed-sources") {
		t.Errorf("exit %d, %q; want a refusal with a hint", code, errs)
	}
	if code, _, errs := runMcasload(t, nil, "load", "-w", dir, "--progress=false", "--source", "simulator", "--allow-mixed-sources", f); code != exitOK {
		t.Errorf("with --allow-mixed-sources: exit %d %s", code, errs)
	}
}

func TestLoadProgressLines(t *testing.T) {
	dir := t.TempDir()
	// stderr is a buffer, not a terminal: progress must be plain lines (no carriage returns).
	lines := testRecords(6, 300)
	code, out, errs := runMcasload(t, nil, "load", "-w", dir, "--sink", "duckdb", writeLines(t, lines))
	if code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if strings.Contains(errs, "\r") {
		t.Errorf("progress redrew a line on a non-terminal: %q", errs)
	}
	if got := sinks.Rows(t, dir, "duckdb"); len(got) != 300 {
		t.Errorf("duckdb sink holds %d rows", len(got))
	}
	if got := sinks.Rows(t, dir, "parquet"); len(got) != 0 {
		t.Errorf("--sink duckdb wrote %d Parquet rows", len(got))
	}
}
