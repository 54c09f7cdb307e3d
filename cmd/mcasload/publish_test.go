package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/remote"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// TestPublishTwoTenantsSync: two simulated tenants (with planted incidents) scanned into one
// warehouse by `scan --publish` to Azurite, so every commit and the final compaction are
// published as they happen; another laptop syncs the dataset; every investigation answers
// byte for byte alike on the warehouse and on the copy, for each tenant; and a second,
// independent Parquet reader (hyparquet) reads the downloaded files with the types and row
// counts per tenant and day that the warehouse holds.
func TestPublishTwoTenantsSync(t *testing.T) {
	end := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	base := synth.Config{Seed: 21, Users: 40, Days: 4, End: end, Total: 1600, Incidents: true, LateArrivals: -1}
	srv, _ := objstoretest.Azurite(t)
	srv.Setenv(t)
	url := srv.URL("team/mcas")
	vars := map[string]string{"MCAS_TOKEN": scanTestToken}
	for _, kv := range srv.Env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	wh := filepath.Join(t.TempDir(), "wh")
	portals := map[string]string{} // tenant → the classic portal's link prefix, from the URL it was scanned from
	for _, label := range twoTenants {
		sim := startScanSim(t, synth.New(synth.ForTenant(base, label)), simulator.Config{})
		u, err := neturl.Parse(sim.URL)
		if err != nil {
			t.Fatal(err)
		}
		portals[label] = u.Scheme + "://" + u.Host + "/#/audits?activity.id=eq("
		code, out, errs := runScanCLI(t, vars, "scan", "--url", sim.URL, "--tenant-label", label, "-w", wh, "--since", "6d",
			"--limit", "500", "--batch-rows", "400", "--progress=false", "--rate-limit", "60000", "--compact-over", "1",
			"--publish", url, "--publish-grace", "0")
		if code != 0 || !strings.Contains(out, "published: version") {
			t.Fatalf("scan %s --publish: exit %d\n%s%s", label, code, out, errs)
		}
		t.Logf("scan %s: %s", label, lastLines(out, 1))
	}
	copyDir := filepath.Join(t.TempDir(), "laptop2")
	if code, out, errs := runMcasload(t, nil, "sync", url, "-w", copyDir); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errs)
	}
	for _, dir := range []string{wh, copyDir} {
		if code, out, errs := runMcasload(t, nil, "verify", "-w", dir, "--remote", url, "--deep"); code != 0 || !strings.Contains(out, "verify --remote: ok") {
			t.Errorf("verify --remote -w %s: exit %d\n%s%s", dir, code, out, errs)
		}
	}
	// The default --portal (classic): the copy links each activity to the portal of the tenant
	// it was scanned from, which it knows from the portals published with the dataset.
	window := []string{"--since", end.AddDate(0, 0, -base.Days-1).Format(time.RFC3339), "--until", end.Add(time.Hour).Format(time.RFC3339)}
	for _, label := range twoTenants {
		nonEmpty, answers := sameInvestigations(t, wh, copyDir, label, window...)
		if nonEmpty < len(queries.All())/2 {
			t.Errorf("%s: only %d of %d investigations found anything; the comparison proves little", label, nonEmpty, len(queries.All()))
		}
		linked := 0
		for name, csv := range answers {
			if strings.Contains(csv, portals[label]) {
				linked++
			}
			for other, link := range portals {
				if other != label && strings.Contains(csv, link) {
					t.Errorf("%s: %s links to %s's portal (%s)", label, name, other, link)
				}
			}
		}
		if linked == 0 {
			t.Errorf("%s: no investigation's portal_url links to %s… on the copy: links are empty on both sides", label, portals[label])
		}
		t.Logf("%s: %d investigations answered alike, %d with rows, %d with classic portal links", label, len(queries.All()), nonEmpty, linked)
	}
	checkWithHyparquet(t, wh, copyDir)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// hyparquetFile is one line of testdata/hyparquet-read.mjs.
type hyparquetFile struct {
	Path       string `json:"path"`
	Rows       int64  `json:"rows"`
	FooterRows int64  `json:"footer_rows"`
	IDs        int64  `json:"ids"`
	BadTS      int64  `json:"bad_ts"`
	BadObjects int64  `json:"bad_objects"`
	Columns    []struct {
		Name       string `json:"name"`
		Type       string `json:"type"`
		Converted  string `json:"converted"`
		Repetition string `json:"repetition"`
		Logical    string `json:"logical"`
		UTC        *bool  `json:"utc"`
		Unit       string `json:"unit"`
	} `json:"columns"`
}

// checkWithHyparquet reads every downloaded file of the copy with hyparquet: each decodes to
// its footer's row count with distinct ids and valid timestamps and lists; the columns have the
// Parquet types docs/publish.md promises engines; and the rows per tenant and day equal the
// warehouse's DuckDB table.
func checkWithHyparquet(t *testing.T, wh, copyDir string) {
	t.Helper()
	node, modules := testserver.Hyparquet(t)
	files, err := filepath.Glob(filepath.Join(copyDir, remote.DatasetDir, "activities", "tenant=*", "day=*", "*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no downloaded files under %s (%v)", copyDir, err)
	}
	cmd := exec.Command(node, append([]string{filepath.Join("testdata", "hyparquet-read.mjs"), modules}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hyparquet: %v\n%s", err, stderr.String())
	}
	want := map[string]string{ // leaf column → physical/converted type (what engines map)
		"id": "BYTE_ARRAY/UTF8", "ts": "INT64/TIMESTAMP_MICROS", "created": "INT64/TIMESTAMP_MICROS", "app_id": "INT32/INT_32",
		"latitude": "DOUBLE/", "success": "BOOLEAN/", "objects.list.element": "BYTE_ARRAY/UTF8", "raw": "BYTE_ARRAY/UTF8",
	}
	got := map[string]int64{} // tenant/day → rows
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	read := 0
	for sc.Scan() {
		var f hyparquetFile
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("hyparquet output %q: %v", sc.Text(), err)
		}
		read++
		rel, _ := filepath.Rel(filepath.Join(copyDir, remote.DatasetDir), f.Path)
		pf, err := remote.ParsePath(filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		if f.Rows != f.FooterRows || f.IDs != f.Rows || f.BadTS != 0 || f.BadObjects != 0 {
			t.Errorf("%s: hyparquet decoded %d rows (footer %d, %d distinct ids, %d bad timestamps, %d bad lists)", rel, f.Rows, f.FooterRows, f.IDs, f.BadTS, f.BadObjects)
		}
		seen := 0
		for _, c := range f.Columns {
			if strings.HasPrefix(c.Converted, "UINT") || c.Type == "INT96" {
				t.Errorf("%s: column %s has type %s %s", rel, c.Name, c.Type, c.Converted)
			}
			w, ok := want[c.Name]
			if !ok {
				continue
			}
			seen++
			if g := c.Type + "/" + c.Converted; g != w {
				t.Errorf("%s: column %s is %s, want %s", rel, c.Name, g, w)
			}
			if c.Logical == "TIMESTAMP" && (c.UTC == nil || !*c.UTC || c.Unit != "MICROS") {
				t.Errorf("%s: column %s is not a UTC-adjusted microsecond timestamp", rel, c.Name)
			}
			if c.Name == "objects.list.element" && c.Repetition != "OPTIONAL" {
				t.Errorf("%s: objects' element is %s, want the 3-level list's OPTIONAL element", rel, c.Repetition)
			}
		}
		if seen != len(want) {
			t.Errorf("%s: found %d of the columns %v", rel, seen, want)
		}
		got[pf.Tenant+"/"+pf.Day] += f.Rows
	}
	if read != len(files) {
		t.Fatalf("hyparquet reported %d files of %d\n%s", read, len(files), stderr.String())
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf(`ATTACH '%s' AS wh (READ_ONLY)`, filepath.Join(wh, warehouse.DatabaseFile))); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT tenant || '/' || strftime(day, '%Y-%m-%d'), count(*) FROM wh.activities GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	whRows := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		whRows[k] = n
	}
	tenants := map[string]bool{}
	for k := range got {
		tenants[strings.Split(k, "/")[0]] = true
	}
	if !maps.Equal(got, whRows) || len(tenants) != 2 {
		t.Errorf("rows per tenant/day: hyparquet on the download %v, DuckDB on the warehouse %v", got, whRows)
	}
	t.Logf("hyparquet read %d files: %d tenant days, the warehouse's rows and types", read, len(got))
}

// TestPublishGuide follows docs/publish.md's walkthrough verbatim with bash and the real binary,
// against each real server, after the part that needs a cloud account (the URL and the
// credential, here the emulator's, in the environment).
func TestPublishGuide(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "publish.md"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- publish-test: walkthrough -->\n```sh\n"
	i := bytes.Index(doc, []byte(marker))
	if i < 0 {
		t.Fatalf("docs/publish.md has no %q block", marker)
	}
	script, _, ok := strings.Cut(string(doc[i+len(marker):]), "```")
	if !ok || strings.Count(script, "mcasload ") < 6 {
		t.Fatalf("the walkthrough block is not closed or too short:\n%s", script)
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	objstoretest.Each(t, func(t *testing.T, srv *objstoretest.Server) {
		env := append(testkit.CleanEnv(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "URL="+srv.URL("walkthrough"), "AWS_EC2_METADATA_DISABLED=true")
		env = append(env, srv.Env...)
		if srv.Options.S3Endpoint != "" {
			env = append(env, "MCAS_S3_ENDPOINT="+srv.Options.S3Endpoint, "MCAS_S3_PATH_STYLE=true")
		}
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = t.TempDir(), env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("the walkthrough failed: %v\n%s", err, out.String())
		}
		text := out.String()
		for _, want := range []string{"published: version", "now holds version", "verify --remote: ok"} {
			if !strings.Contains(text, want) {
				t.Errorf("the walkthrough's output lacks %q:\n%s", want, text)
			}
		}
		if strings.Count(text, "verify --remote: ok") != 2 || !strings.Contains(text, "fabrikam") {
			t.Errorf("both sides should verify, and the query answer for fabrikam:\n%s", text)
		}
		for _, secret := range srv.Env {
			// The access key id is no secret (and here equals the bucket's name); the rest are.
			if k, v, _ := strings.Cut(secret, "="); k != "AWS_ACCESS_KEY_ID" && len(v) > 12 && strings.Contains(text, v) {
				t.Errorf("the output shows a credential value of %s", secret)
			}
		}
	})
}

// TestPublishFailures: a refused credential stops a load --publish with exit 5 and says how to
// finish, without the secret; the rerun with the right credential publishes what the warehouse
// had committed before (here by a load without --publish). Usage mistakes are refused before
// anything is written.
func TestPublishFailures(t *testing.T) {
	srv, az := objstoretest.Azurite(t)
	url := srv.URL("fail")
	wh := filepath.Join(t.TempDir(), "wh")
	src := writeLines(t, testRecords(3, 40))
	wrongKey := "V3Jvbmcta2V5LW5vdC1henVyaXRlcy1rZXktMDEyMzQ1Njc4OWFiY2RlZg=="
	wrong := map[string]string{"AZURE_STORAGE_CONNECTION_STRING": strings.Replace(az.ConnectionString(), az.AccountKey, wrongKey, 1)}
	if code, out, errs := runMcasload(t, nil, "load", "-w", wh, "--progress=false", src); code != 0 {
		t.Fatalf("load: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := runScanCLI(t, wrong, "load", "-w", wh, "--publish", url, "--progress=false", src)
	if code != exitAuth || !strings.Contains(errs, "AZURE_STORAGE_CONNECTION_STRING") || !strings.Contains(errs, "mcasload push "+url) || strings.Contains(out+errs, wrongKey) {
		t.Errorf("load --publish with a refused key: exit %d, want %d with the credential hint and how to finish, no secret\n%s%s", code, exitAuth, out, errs)
	}
	right := map[string]string{"AZURE_STORAGE_CONNECTION_STRING": az.ConnectionString()}
	code, out, errs = runScanCLI(t, right, "load", "-w", wh, "--publish", url, "--progress=false", src)
	if code != 0 || !strings.Contains(out, " 0 new") || !strings.Contains(out, "published: version 1") || !strings.Contains(out, "40 rows") {
		t.Errorf("rerun with the right key: exit %d; want the 40 committed rows published, none new\n%s%s", code, out, errs)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sink", "duckdb"}, "--sink duckdb"},
		{[]string{"--publish", "azblob://acct/c/p?sig=secret123"}, "docs/publish.md"},
	} {
		args := append([]string{"load", "-w", filepath.Join(t.TempDir(), "wh"), "--progress=false"}, tc.args...)
		if !slices.Contains(tc.args, "--publish") {
			args = append(args, "--publish", url)
		}
		code, out, errs := runScanCLI(t, right, append(args, src)...)
		if code != exitUsage || !strings.Contains(errs, tc.want) || strings.Contains(errs, "secret123") {
			t.Errorf("load %v: exit %d, want %d naming %q without the secret\n%s%s", tc.args, code, exitUsage, tc.want, out, errs)
		}
	}
}
