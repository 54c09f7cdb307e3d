package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
	for _, want := range []string{"simulator serving tenant contoso", "simulator serving tenant fabrikam", "http://127.0.0.1:",
		"mcasload scan --config " + filepath.Join(dir, "mcasload.toml") + " --profile contoso", "mcasload scan --config " + filepath.Join(dir, "mcasload.toml") + " --profile fabrikam",
		"[profile.contoso]\nurl = \"http://127.0.0.1:", "tenant-label = \"fabrikam\"", "scan done:", "0 rejected", "mcasload status -w " + dir,
		"tenant contoso:", "tenant fabrikam:", "mcasload query impossible-travel", "demo done", "with 2 tenants", "Try next:",
		"[profile.contoso.stream]", "folder = \"" + filepath.Join(dir, demoExportDir, "contoso") + "\"",
		"mcasload stream --config " + filepath.Join(dir, "mcasload.toml") + " --profile fabrikam", "stream done:", "FROM cloud_app_events"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// Each tenant is in its own folder, with its own rows, the same in both sinks.
	for _, sink := range sinks.Names {
		if got := sinks.Tenants(t, dir, sink); strings.Join(got, ",") != "contoso,fabrikam" {
			t.Errorf("%s holds the tenants %v", sink, got)
		}
	}
	for _, label := range []string{"contoso", "fabrikam"} {
		rows := len(sinks.TenantRows(t, dir, "duckdb", label))
		if rows == 0 || len(sinks.TenantRows(t, dir, "parquet", label)) != rows {
			t.Fatalf("demo warehouse: tenant %s has %d rows in duckdb, parquet differs or empty", label, rows)
		}
	}
	// Each tenant's stream export was loaded into cloud_app_events, and status counts as many
	// keys as lines were written (all distinct) in both sinks: every line once, beside the
	// activities.
	exports := regexp.MustCompile(`stream export of tenant (\w+): ([\d,]+) CloudAppEvents lines in \d+ hourly files under (\S+) `).FindAllStringSubmatch(out, -1)
	if len(exports) != 2 {
		t.Fatalf("demo output names %d stream exports:\n%s", len(exports), out)
	}
	for _, m := range exports {
		if n, _ := strconv.Atoi(strings.ReplaceAll(m[2], ",", "")); n < 100 || m[3] != filepath.Join(dir, demoExportDir, m[1]) {
			t.Errorf("tenant %s: %s lines under %s", m[1], m[2], m[3])
		}
		if !regexp.MustCompile(`(?m)^tenant ` + m[1] + `: .*\n(?:  .*\n)*?  cloud_app_events: ` + m[2] + ` rows over \d+ days, newest 20\S+ \S+; Parquet ` + m[2] + ` rows; 0 rejected`).MatchString(out) {
			t.Errorf("status does not count tenant %s's %s stream rows:\n%s", m[1], m[2], out)
		}
	}
	// The investigations answer per tenant: each tenant's planted incident shows under its name.
	_, travel, _ := runMcasload(t, nil, "query", "impossible-travel", "-w", dir, "--since", "4d", "--format", "csv")
	for _, label := range []string{"contoso", "fabrikam"} {
		if !strings.Contains(travel, "\n"+label+",") || !strings.Contains(travel, "@"+label+".com") {
			t.Errorf("impossible-travel over the demo lacks tenant %s's rows:\n%s", label, travel)
		}
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
