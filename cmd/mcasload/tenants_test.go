package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/simulator/synth"
)

// The two tenants of the multi-tenant tests, and the generator config each derives its own data
// from (synth.ForTenant: own seed, domain <label>.com, own planted incidents).
var (
	twoTenants  = []string{"contoso", "fabrikam"}
	tenantsEnd  = synthEnd
	tenantsBase = synth.Config{Seed: 5, Users: 60, Days: 5, End: tenantsEnd, Total: 4000, Incidents: true}
)

// writeTenantNDJSON writes every record of tn (which ends by synthEnd) to a file and returns its
// path.
func writeTenantNDJSON(t *testing.T, tn *synth.Tenant) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "activities.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	if _, err := tn.WriteNDJSON(bw, synthEnd.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadTenant loads file into the warehouse dir under label.
func loadTenant(t *testing.T, dir, label, file string) {
	t.Helper()
	if code, out, errs := runMcasload(t, nil, "load", "-w", dir, "--tenant-label", label, "--progress=false", file); code != exitOK {
		t.Fatalf("load %s into %s: exit %d\n%s%s", label, dir, code, out, errs)
	}
}

// readCSV parses CSV text into its header and rows.
func readCSV(t *testing.T, text string) (header []string, rows [][]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("parse csv %.200q: %v", text, err)
	}
	return recs[0], recs[1:]
}

// csvLines renders rows as sorted lines, so answers compare whatever order ties come in.
func csvLines(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, "\x1f")
	}
	slices.Sort(out)
	return out
}

// TestInvestigationsPerTenant: every investigation over a warehouse of two tenants returns, for
// each tenant, exactly the CSV it returns over a warehouse holding that tenant alone, and none of
// its rows names the other tenant's users. The tenants share office IP addresses (the generator
// gives every tenant the same corporate ranges), so an IP pivot across tenants would show.
func TestInvestigationsPerTenant(t *testing.T) {
	if testing.Short() {
		t.Skip("loads three warehouses and runs every investigation on each; skipped in -short")
	}
	both := filepath.Join(t.TempDir(), "both")
	single := map[string]string{}
	var someUser string
	for _, label := range twoTenants {
		tn := synth.New(synth.ForTenant(tenantsBase, label))
		if someUser == "" {
			someUser = tn.Activity(0).User
		}
		file := writeTenantNDJSON(t, tn)
		single[label] = filepath.Join(t.TempDir(), label)
		loadTenant(t, single[label], label, file)
		loadTenant(t, both, label, file)
	}
	window := []string{"--since", tenantsEnd.Add(-6 * 24 * time.Hour).Format(time.RFC3339), "--until", tenantsEnd.Add(time.Hour).Format(time.RFC3339), "--format", "csv"}
	params := map[string][]string{
		"user-timeline": {"--param", "user=" + someUser},
		"ip-pivot":      {"--param", "ip=198.51.100.10"},
	}
	withRows := 0
	for _, inv := range queries.All() {
		args := append(append([]string{"query", inv.Name}, window...), params[inv.Name]...)
		code, out, errs := runMcasload(t, nil, append(args, "-w", both)...)
		if code != exitOK {
			t.Errorf("%s over both tenants: exit %d: %s", inv.Name, code, errs)
			continue
		}
		header, rows := readCSV(t, out)
		if header[0] != queries.TenantColumn {
			t.Errorf("%s over both tenants: the first column is %q, not tenant", inv.Name, header[0])
			continue
		}
		for _, label := range twoTenants {
			code, out, errs := runMcasload(t, nil, append(args, "-w", single[label])...)
			if code != exitOK {
				t.Errorf("%s over %s alone: exit %d: %s", inv.Name, label, code, errs)
				continue
			}
			wantHeader, wantRows := readCSV(t, out)
			if !slices.Equal(header[1:], wantHeader) {
				t.Errorf("%s: columns over both tenants %v, over %s alone %v", inv.Name, header[1:], label, wantHeader)
			}
			var got [][]string
			for _, r := range rows {
				if r[0] == label {
					got = append(got, r[1:])
				}
			}
			if g, w := csvLines(got), csvLines(wantRows); !slices.Equal(g, w) {
				t.Errorf("%s: tenant %s's %d rows over both tenants differ from its %d rows alone:\n got %.300q\nwant %.300q", inv.Name, label, len(g), len(w), g, w)
			}
			withRows += min(len(wantRows), 1)
		}
		for _, r := range rows {
			for _, other := range twoTenants {
				if other != r[0] && strings.Contains(strings.Join(r[1:], " "), "@"+other+".com") {
					t.Errorf("%s: a row of tenant %s names a user of %s: %q", inv.Name, r[0], other, r)
				}
			}
		}
	}
	if withRows < len(queries.All()) {
		t.Errorf("only %d (investigation, tenant) answers hold rows; the planted incidents should give most of the %d a row", withRows, 2*len(queries.All()))
	}
	// Read from the Parquet dataset (--parquet, the session locked to the folder), the per-tenant
	// runs give the same answer.
	for _, name := range []string{"mass-download", "ip-pivot"} {
		args := append(append([]string{"query", name}, window...), params[name]...)
		_, fromDuck, _ := runMcasload(t, nil, append(args, "-w", both)...)
		code, fromParquet, errs := runMcasload(t, nil, append(args, "--parquet", both)...)
		_, dr := readCSV(t, fromDuck)
		_, pr := readCSV(t, fromParquet)
		if code != exitOK || len(dr) == 0 || !slices.Equal(csvLines(dr), csvLines(pr)) {
			t.Errorf("%s over the Parquet dataset (exit %d, %s):\n%.300s\nover DuckDB:\n%.300s", name, code, errs, fromParquet, fromDuck)
		}
	}
	// One tenant selected: the answer is that tenant's alone, without the tenant column.
	code, out, errs := runMcasload(t, nil, append(append([]string{"query", "user-timeline", "-w", both, "--tenant-label", "contoso"}, window...), params["user-timeline"]...)...)
	_, wantOut, _ := runMcasload(t, nil, append(append([]string{"query", "user-timeline", "-w", single["contoso"]}, window...), params["user-timeline"]...)...)
	if code != exitOK || out != wantOut {
		t.Errorf("user-timeline of contoso selected from both (exit %d, %s):\n%.300s\nalone:\n%.300s", code, errs, out, wantOut)
	}
}

// TestTenantsLoadAndRead: load refuses to guess a tenant in a warehouse of several; readers
// select tenants (sql, status, export) and refuse an unknown one, naming the known; the Parquet
// dataset holds one folder per tenant that reads on its own.
func TestTenantsLoadAndRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wh")
	a, b := testRecords(31, 300), testRecords(32, 200)
	fileA, fileB := writeLines(t, a), writeLines(t, b)
	if code, out, errs := runMcasload(t, nil, "load", "-w", dir, "--progress=false", fileA); code != exitOK || !strings.Contains(out, "tenant default") {
		t.Fatalf("first load: exit %d\n%s%s", code, out, errs)
	}
	// The same records again under another label are new rows: dedupe is per tenant.
	if code, out, errs := runMcasload(t, nil, "load", "-w", dir, "--tenant-label", "Acme", "--progress=false", fileA, fileB); code != exitOK || !strings.Contains(out, "500 new, 0 duplicate") {
		t.Fatalf("load as acme: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs := runMcasload(t, nil, "load", "-w", dir, "--progress=false", fileB)
	if code != exitUsage || !strings.Contains(errs, "--tenant-label") || !strings.Contains(errs, "acme, default") {
		t.Errorf("load without a label into two tenants: exit %d %s", code, errs)
	}
	if code, _, errs := runMcasload(t, nil, "load", "-w", dir, "--tenant-label", "../x", "--progress=false", fileB); code != exitUsage || !strings.Contains(errs, "tenant label") {
		t.Errorf("load with a bad label: exit %d %s", code, errs)
	}
	want := map[string]map[string]string{"default": sinks.WantLines(t, a), "acme": sinks.WantLines(t, append(append([]string{}, a...), b...))}
	sinks.ExactlyOncePerTenant(t, dir, want)

	count := func(args ...string) string {
		t.Helper()
		code, out, errs := runMcasload(t, nil, append([]string{"sql", "-w", dir, "--format", "csv"}, args...)...)
		if code != exitOK {
			t.Fatalf("sql %v: exit %d %s", args, code, errs)
		}
		return strings.TrimSpace(out)
	}
	if got := count("SELECT tenant, count(*) AS n FROM activities GROUP BY ALL ORDER BY 1"); got != "tenant,n\nacme,500\ndefault,300" {
		t.Errorf("rows per tenant:\n%s", got)
	}
	if got := count("--tenant-label", "acme", "SELECT count(*) AS n, count(DISTINCT tenant) AS t FROM activities"); got != "n,t\n500,1" {
		t.Errorf("acme selected:\n%s", got)
	}
	for _, args := range [][]string{{"sql", "-w", dir, "--tenant-label", "nobody", "SELECT 1"}, {"status", "-w", dir, "--tenant-label", "nobody"}} {
		if code, _, errs := runMcasload(t, nil, args...); code != exitUsage || !strings.Contains(errs, "acme, default") {
			t.Errorf("%v: exit %d %s; want a usage error naming the tenants", args, code, errs)
		}
	}
	code, out, errs := runMcasload(t, nil, "status", "-w", dir, "--tenant-label", "default")
	if code != exitOK || !strings.Contains(out, "tenant default: 300 rows") || strings.Contains(out, "tenant acme") {
		t.Errorf("status of tenant default: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runMcasload(t, nil, "verify", "-w", dir, "--tenant-label", "acme"); code != exitOK || !strings.Contains(out, "1 tenant,") {
		t.Errorf("verify of acme: exit %d\n%s%s", code, out, errs)
	}
	// Hand one tenant's folder over: it reads on its own, as that tenant.
	handed := filepath.Join(t.TempDir(), "tenant=acme")
	copyTree(t, filepath.Join(dir, "parquet", "activities", "tenant=acme"), handed)
	if got := countParquet(t, handed); got != "tenant,n\nacme,500" {
		t.Errorf("the handed-over folder reads as:\n%s", got)
	}
}

// countParquet counts a bare Parquet dataset's rows per tenant through the CLI.
func countParquet(t *testing.T, dir string) string {
	t.Helper()
	code, out, errs := runMcasload(t, nil, "sql", "--parquet", dir, "--format", "csv", "SELECT tenant, count(*) AS n FROM activities GROUP BY ALL ORDER BY 1")
	if code != exitOK {
		t.Fatalf("sql --parquet %s: exit %d %s", dir, code, errs)
	}
	return strings.TrimSpace(out)
}

// copyTree copies the files under from to to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	for _, f := range testkit.Files(t, from) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(to, f)), 0o700); err != nil {
			t.Fatal(err)
		}
		testkit.CopyFile(t, filepath.Join(from, f), filepath.Join(to, f))
	}
}

// TestSimServesTenants: `mcasload sim --tenants` serves each tenant on its own URL with its own
// data; scanning both into one warehouse, each under its label, stores each exactly once.
func TestSimServesTenants(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr testkit.Buffer
	args := []string{"mcasload", "sim", "--tenants", "fabrikam,contoso", "--addr", "127.0.0.1:0", "--records", "1500", "--users", "10",
		"--days", "2", "--seed", "5", "--end", tenantsEnd.Format(time.RFC3339), "--rate-limit", "0", "--late-arrivals", "-1"}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, strings.NewReader(""), &stdout, &stderr) }()
	urls := map[string]string{}
	var token string
	waitSimLines(t, &stdout, &stderr, done, func(line string) {
		if rest, ok := strings.CutPrefix(line, "url "); ok {
			label, u, _ := strings.Cut(rest, ": ")
			urls[label] = u
		}
		if tk, ok := strings.CutPrefix(line, simTokenPrefix); ok {
			token = tk
		}
	}, func() bool { return len(urls) == 2 && token != "" })
	if urls["contoso"] == urls["fabrikam"] {
		t.Fatalf("one URL for two tenants: %v", urls)
	}
	dir := filepath.Join(t.TempDir(), "wh")
	want := map[string]map[string]string{}
	for _, label := range twoTenants {
		code, out, errs := runScanCLI(t, map[string]string{"MCAS_TOKEN": token}, "scan", "--url", urls[label], "--tenant-label", label, "-w", dir,
			"--since", "2026-03-01", "--parallel", "2", "--progress=false")
		if code != exitOK {
			t.Fatalf("scan %s: exit %d\n%s%s", label, code, out, errs)
		}
		cfg := synth.ForTenant(synth.Config{Seed: 5, Users: 10, Days: 2, Total: 1500, End: tenantsEnd, LateArrivals: -1}, label)
		want[label] = sinks.WantTenant(synth.New(cfg), time.Time{})
	}
	sinks.ExactlyOncePerTenant(t, dir, want)
	code, out, _ := runMcasload(t, nil, "state", "show", "-w", dir)
	if code != exitOK || !strings.Contains(out, "contoso: scan ") || !strings.Contains(out, "fabrikam: scan ") {
		t.Errorf("state show lists each tenant's watermark: exit %d\n%s", code, out)
	}
	// Resetting one tenant's watermarks leaves the other's.
	if code, out, errs := runMcasload(t, nil, "state", "reset", "-w", dir, "--all", "--tenant-label", "contoso"); code != exitOK || !strings.Contains(out, "reset contoso: scan ") || strings.Contains(out, "fabrikam") {
		t.Errorf("state reset of contoso: exit %d\n%s%s", code, out, errs)
	}
	var marks struct{ Rows []watermarkEntry }
	code, out, _ = runMcasload(t, nil, "state", "show", "-w", dir, "--format", "json")
	if err := json.Unmarshal([]byte(out), &marks); code != exitOK || err != nil || len(marks.Rows) != 2 {
		t.Fatalf("state show json: exit %d %v\n%s", code, err, out)
	}
	for _, m := range marks.Rows {
		if m.Reset != (m.Tenant == "contoso") {
			t.Errorf("after resetting contoso: %s's watermark reset %v", m.Tenant, m.Reset)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("sim exit %d: %s", code, stderr.String())
	}
}
