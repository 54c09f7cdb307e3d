package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// jsonLines decodes each line of s as a JSON object, failing on any line that is not one.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q (%v)", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestJSONLogsWriteDurationsInSeconds(t *testing.T) {
	var buf bytes.Buffer
	jsonLogger(&buf, nil).Info("throttled", "wait", 1500*time.Millisecond, "n", 3)
	rec := jsonLines(t, buf.String())[0]
	if rec["wait"] != 1.5 || rec["n"] != 3.0 {
		t.Errorf("record %v: want wait 1.5 (seconds) and n 3", rec)
	}
}

// TestJSONLogsCarryTheSummaryAndTheError: with --log-format json a load prints its summary as
// one JSON record on stdout and only JSON on stderr; a failing command's error is a JSON record
// with its exit code and hint.
func TestJSONLogsCarryTheSummaryAndTheError(t *testing.T) {
	dir := t.TempDir()
	file := writeLines(t, testRecords(3, 120))
	code, out, errs := runMcasload(t, nil, "--log-format", "json", "load", "-w", dir, "--progress=false", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	recs := jsonLines(t, out)
	if len(recs) != 1 || recs[0]["msg"] != "load done" || recs[0]["level"] != "INFO" {
		t.Fatalf("stdout %q: want one record, msg load done", out)
	}
	sum, _ := recs[0]["summary"].(map[string]any)
	if sum["records"] != 120.0 || sum["new"] != 120.0 || sum["elapsed_seconds"] == nil {
		t.Errorf("summary %v: want records 120, new 120, elapsed_seconds", sum)
	}
	jsonLines(t, errs) // every stderr line is JSON

	code, out, errs = runMcasload(t, nil, "load", "-w", dir, "--log-format", "json", "--sink", "nowhere", file)
	if code != exitUsage || out != "" {
		t.Fatalf("exit %d, stdout %q: want a usage error", code, out)
	}
	recs = jsonLines(t, errs)
	last := recs[len(recs)-1]
	if last["level"] != "ERROR" || last["exit_code"] != float64(exitUsage) || !strings.Contains(last["msg"].(string), "nowhere") {
		t.Errorf("error record %v: want level ERROR, exit_code 2, a message naming the sink", last)
	}

	// An error in the flags themselves, before any command runs, is JSON too.
	code, _, errs = runMcasload(t, nil, "--log-format=json", "load", "--no-such-flag")
	recs = jsonLines(t, errs)
	if code != exitUsage || recs[len(recs)-1]["exit_code"] != float64(exitUsage) {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
