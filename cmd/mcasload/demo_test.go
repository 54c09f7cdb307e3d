package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/testkit/sinks"
)

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and loads a tenant; skipped in -short")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	args := []string{"demo", "-w", dir, "--users", "20", "--days", "3", "--progress=false"}
	code, out, errs := runMcasload(t, nil, args...)
	if code != exitOK {
		t.Fatalf("demo exit %d:\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"simulator serving", "http://127.0.0.1:", "mcasload scan --config " + filepath.Join(dir, "mcasload.toml") + " --profile demo", "url = \"http://127.0.0.1:", "scan done:", "0 rejected", "mcasload status -w " + dir,
		"mcasload query impossible-travel", "demo done", "Try next:"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// A rerun replaces its own earlier warehouse and ends with the same rows.
	rows := len(sinks.Rows(t, dir, "duckdb"))
	if rows == 0 || len(sinks.Rows(t, dir, "parquet")) != rows {
		t.Fatalf("demo warehouse: %d rows in duckdb, parquet differs or empty", rows)
	}
	if code, out, errs := runMcasload(t, nil, args...); code != exitOK || !strings.Contains(out, "0 duplicate") {
		t.Fatalf("second demo exit %d:\n%s\n%s", code, out, errs)
	}
	// It refuses a folder it did not make.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runMcasload(t, nil, "demo", "-w", other, "--users", "20", "--days", "3")
	if code != exitUsage || !strings.Contains(errs, "not made by mcasload demo") {
		t.Errorf("demo over a foreign folder: exit %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(other, "notes.txt")); err != nil {
		t.Errorf("demo touched a foreign folder: %v", err)
	}
}
