package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// tenantSims serves each of twoTenants from its own simulator (its own URL, data and domain),
// with faults, and returns the URLs and what each tenant's rows must be.
func tenantSims(t *testing.T) (urls map[string]string, want map[string]map[string]string) {
	t.Helper()
	urls, want = map[string]string{}, map[string]map[string]string{}
	// The data ends an hour before today (UTC): its days, and so the Parquet files each run
	// renames, are the same at any time of day (ending an hour before now, a run at 13:48 UTC
	// met one rename where the kill at parquet-before-rename@2 needs two).
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(-time.Hour)
	base := synth.Config{Seed: 11, Users: 15, Days: 3, End: end, Total: 1500, LateArrivals: -1}
	for i, label := range twoTenants {
		tn := synth.New(synth.ForTenant(base, label))
		srv := startScanSim(t, tn, simulator.Config{FaultSeed: uint64(7 + i),
			FaultRates: map[simulator.Fault]float64{simulator.FaultInternalError: 0.05, simulator.FaultBadGateway: 0.03, simulator.FaultReset: 0.03, simulator.FaultTruncated: 0.02}})
		urls[label], want[label] = srv.URL, sinks.WantTenant(tn, time.Time{})
	}
	return urls, want
}

// TestTenantsScanProcess: two simulated tenants scanned into one warehouse by the real binary,
// with --parallel and faults, each killed at failpoints in turn while the other's scans run in
// between (each run reconciles what the other's kill left), then rerun: each tenant's rows are
// exact in both sinks, in its own tenant= folder.
func TestTenantsScanProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	urls, want := tenantSims(t)
	env := []string{"MCAS_TOKEN=" + scanTestToken}
	dir := t.TempDir()
	scan := func(label string, extra ...string) testkit.Result {
		args := append([]string{"scan", "--url", urls[label], "--tenant-label", label, "-w", dir, "--limit", "500", "--batch-rows", "300",
			"--progress=false", "--rate-limit", "60000", "--parallel", "2", "--threads", "2", "--compact-over", "1"}, extra...)
		return testkit.Run(t, bin, env, args...)
	}
	// Each tenant's kills in the order a run meets them (the scan's commits, then Close's
	// compaction), so every one is reached. contoso's second run scans what its first left,
	// ~500 records of one day, split between two slices where the window's midpoint falls: after
	// midnight UTC each slice held under --batch-rows, the run made one commit and one Parquet
	// file, and a kill at the second rename was never reached; the first is in every run.
	kills := []struct{ tenant, point string }{
		{"contoso", "duckdb-after-commit@2"},
		{"fabrikam", "convert@2"},
		{"contoso", "parquet-before-rename@1"},
		{"fabrikam", "parquet-after-rename@2"},
		{"contoso", "reconcile@1"},
		{"fabrikam", "compact-after-rename@1"},
	}
	for _, k := range kills {
		marker := filepath.Join(t.TempDir(), "marker")
		env := append([]string{failpoint.EnvName + "=" + k.point, failpoint.EnvMarker + "=" + marker}, env...)
		args := []string{"scan", "--url", urls[k.tenant], "--tenant-label", k.tenant, "-w", dir, "--limit", "500", "--batch-rows", "300",
			"--progress=false", "--rate-limit", "60000", "--parallel", "2", "--threads", "2", "--compact-over", "1"}
		if r := testkit.Run(t, bin, env, args...); !r.Killed {
			t.Fatalf("%s killed at %s: the process was not killed (exit %d): %s", k.tenant, k.point, r.Code, r.Stderr)
		}
	}
	// A kill at a random moment of each, then the runs that finish.
	for _, label := range twoTenants {
		p := testkit.Start(t, bin, env, "scan", "--url", urls[label], "--tenant-label", label, "-w", dir, "--limit", "500",
			"--batch-rows", "300", "--progress=false", "--rate-limit", "60000", "--parallel", "2")
		time.Sleep(300 * time.Millisecond)
		p.Kill(t)
	}
	for _, label := range twoTenants {
		if r := scan(label); r.Code != 0 {
			t.Fatalf("scan %s to the end: exit %d: %s", label, r.Code, r.Stderr)
		}
	}
	sinks.ExactlyOncePerTenant(t, dir, want)
	if r := testkit.Run(t, bin, nil, "verify", "-w", dir); r.Code != 0 || !strings.Contains(r.Stdout, "2 tenants") {
		t.Errorf("verify: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// Rescanning one tenant adds nothing to either.
	if r := scan("fabrikam", "--full", "--since", "5d"); r.Code != 0 || !strings.Contains(r.Stdout, " 0 new") {
		t.Errorf("full rescan of fabrikam: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	sinks.ExactlyOncePerTenant(t, dir, want)
}

// TestMigrateProcess upgrades, with the real binary, a warehouse made by the previous version
// (warehouse/testdata/v2-warehouses.md): before the upgrade query, sql --parquet and status read
// it; `mcasload migrate` is killed twice while it moves the Parquet files, a reader reads the
// half-moved folder, and a rerun finishes: both sinks hold exactly what they held, under the
// tenant named on the command line, and verify agrees.
func TestMigrateProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	dir := filepath.Join(testkit.Untar(t, filepath.Join("..", "..", "warehouse", "testdata", "v2-warehouses.tar.gz"), t.TempDir()), "loaded-url")
	before := map[string]map[string]string{}
	for _, sink := range sinks.Names {
		before[sink] = sinks.Rows(t, dir, sink)
	}
	if len(before["duckdb"]) != 300 {
		t.Fatalf("the fixture holds %d rows, want 300", len(before["duckdb"]))
	}
	query := []string{"sql", "--format", "csv", "SELECT tenant, count(*) AS n, count(DISTINCT user_name) AS users FROM activities GROUP BY ALL"}
	r := testkit.Run(t, bin, nil, append(query[:1], append([]string{"-w", dir}, query[1:]...)...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "contoso,300,") {
		t.Fatalf("sql over the unmigrated warehouse: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	users := lines[len(lines)-1][strings.LastIndex(lines[len(lines)-1], ",")+1:]
	if r := testkit.Run(t, bin, nil, append(query[:1], append([]string{"--parquet", dir}, query[1:]...)...)...); r.Code != 0 || !strings.Contains(r.Stdout, "default,300,"+users) {
		t.Errorf("sql --parquet over the unmigrated folder: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, fp := range []string{"layout-after-rename@2", "layout-before-rename@3"} {
		marker := filepath.Join(t.TempDir(), "marker")
		env := []string{failpoint.EnvName + "=" + fp, failpoint.EnvMarker + "=" + marker}
		if r := testkit.Run(t, bin, env, "migrate", "-w", dir, "--tenant-label", "Northwind"); !r.Killed {
			t.Fatalf("migrate with %s was not killed: exit %d %s", fp, r.Code, r.Stderr)
		}
	}
	if r := testkit.Run(t, bin, nil, append(query[:1], append([]string{"--parquet", dir}, query[1:]...)...)...); r.Code != 0 || !strings.Contains(r.Stdout, "northwind,300,"+users) {
		t.Errorf("sql --parquet over the half-moved folder: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = testkit.Run(t, bin, nil, "migrate", "-w", dir, "--tenant-label", "northwind")
	if r.Code != 0 || !strings.Contains(r.Stdout, "are tenant northwind") {
		t.Fatalf("migrate rerun: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	sinks.ExactlyOncePerTenant(t, dir, map[string]map[string]string{"northwind": before["duckdb"]})
	for _, sink := range sinks.Names {
		if got := sinks.TenantRows(t, dir, sink, "northwind"); len(got) != len(before[sink]) {
			t.Errorf("%s after the upgrade: %d rows, before %d", sink, len(got), len(before[sink]))
		}
	}
	if r := testkit.Run(t, bin, nil, "verify", "-w", dir); r.Code != 0 {
		t.Errorf("verify after the upgrade: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// The label is given once: asking for another afterwards changes nothing and says so.
	if r := testkit.Run(t, bin, nil, "migrate", "-w", dir, "--tenant-label", "other"); r.Code != exitFailure || !strings.Contains(r.Stderr, "tenant northwind, not other") {
		t.Errorf("migrate with another label: exit %d %s", r.Code, r.Stderr)
	}
}
