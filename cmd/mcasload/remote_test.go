package main

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/remote"
	"github.com/mcasload/mcasload/warehouse"
)

// TestPushSyncQuery pushes a loaded warehouse to each real server, syncs a copy on "another
// laptop", and checks the copy answers every investigation exactly as the warehouse does.
func TestPushSyncQuery(t *testing.T) {
	wh := synthWarehouse(t)
	objstoretest.Each(t, func(t *testing.T, srv *objstoretest.Server) {
		srv.Setenv(t)
		url := srv.URL("team/mcas")
		run := func(want int, args ...string) string {
			t.Helper()
			code, out, errs := runMcasload(t, nil, args...)
			if code != want {
				t.Fatalf("mcasload %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errs)
			}
			return out + errs
		}
		out := run(exitOK, append([]string{"push", url, "-w", wh}, srv.Flags...)...)
		if !strings.Contains(out, "push: version 1 written at "+url) || !strings.Contains(out, "6,0") {
			t.Errorf("push: %s", out)
		}
		if out = run(exitOK, append([]string{"push", url, "-w", wh}, srv.Flags...)...); !strings.Contains(out, "version 1 unchanged") {
			t.Errorf("second push: %s", out)
		}
		copyDir := filepath.Join(t.TempDir(), "laptop2")
		if out = run(exitOK, append([]string{"sync", url, "-w", copyDir}, srv.Flags...)...); !strings.Contains(out, "now holds version 1") {
			t.Errorf("sync: %s", out)
		}
		for _, dir := range []string{wh, copyDir} {
			if out = run(exitOK, append([]string{"verify", "-w", dir, "--remote", url, "--deep"}, srv.Flags...)...); !strings.Contains(out, "verify --remote: ok: version 1") {
				t.Errorf("verify --remote -w %s: %s", dir, out)
			}
		}
		// The copy is read-only: writers and repairs refuse it, and leave no DuckDB file.
		for _, args := range [][]string{
			{"load", "-w", copyDir, "--progress=false", writeLines(t, testRecords(1, 3))},
			{"verify", "-w", copyDir},
			{"repair", "--from", "parquet", "-w", copyDir},
			append([]string{"push", url, "-w", copyDir}, srv.Flags...),
		} {
			if out = run(exitFailure, args...); !strings.Contains(out, "read-only copy of "+url) || !strings.Contains(out, "verify --remote") {
				t.Errorf("%s on a copy: %s", args[0], out)
			}
		}
		if _, err := os.Stat(filepath.Join(copyDir, warehouse.DatabaseFile)); err == nil {
			t.Errorf("a writer created a DuckDB file in the copy")
		}
		if out = run(exitOK, "status", "-w", copyDir); !strings.Contains(out, "read-only copy of "+url) || !strings.Contains(out, "version 1") {
			t.Errorf("status of a copy: %s", out)
		}
		if srv.Name == "azurite" {
			sameAnswers(t, wh, copyDir)
		}
	})
}

// sameAnswers runs every investigation on the warehouse and on the copy, as CSV, and compares
// export and report too.
func sameAnswers(t *testing.T, wh, copyDir string) {
	t.Helper()
	nonEmpty, _ := sameInvestigations(t, wh, copyDir, "", "--since", "2026-02-01", "--until", "2026-03-12")
	sameExportAndReport(t, wh, copyDir)
	if nonEmpty < len(queries.All())/2 {
		t.Errorf("only %d of %d investigations found anything; the comparison proves little", nonEmpty, len(queries.All()))
	}
	t.Logf("%d investigations answered alike, %d with rows", len(queries.All()), nonEmpty)
}

// sameInvestigations runs every investigation with `query NAME --format csv` and window on the
// warehouse and on the copy (only tenant label's rows, when given) and fails on any byte of
// difference; it returns how many answered with rows, and the copy's answers by investigation.
func sameInvestigations(t *testing.T, wh, copyDir, label string, window ...string) (nonEmpty int, answers map[string]string) {
	t.Helper()
	answers = map[string]string{}
	where := ""
	if label != "" {
		where = "tenant = '" + label + "' AND "
	}
	pick := func(q string) string {
		code, out, errs := runMcasload(t, nil, "sql", "-w", wh, "--format", "csv", q)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 2 {
			t.Fatalf("sql %s: exit %d %s%s", q, code, out, errs)
		}
		return lines[1]
	}
	user := pick(`SELECT user_name FROM activities WHERE ` + where + `user_name IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`)
	ip := pick(`SELECT ip FROM activities WHERE ` + where + `ip IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`)
	for _, inv := range queries.All() {
		args := append([]string{"--format", "csv"}, window...)
		if label != "" {
			args = append(args, "--tenant-label", label)
		}
		for _, p := range inv.Params {
			switch {
			case p.Required && p.Name == "user":
				args = append(args, "--param", "user="+user)
			case p.Required && p.Name == "ip":
				args = append(args, "--param", "ip="+ip)
			case p.Required:
				t.Fatalf("%s: no value for required parameter %s", inv.Name, p.Name)
			}
		}
		var got [2]string
		for i, dir := range []string{wh, copyDir} {
			code, out, errs := runMcasload(t, nil, append([]string{"query", inv.Name, "-w", dir}, args...)...)
			if code != 0 {
				t.Fatalf("query %s -w %s: exit %d: %s", inv.Name, dir, code, errs)
			}
			got[i] = out
		}
		if got[0] != got[1] {
			t.Errorf("%s: the copy answers differently:\nwarehouse:\n%s\ncopy:\n%s", inv.Name, got[0], got[1])
		}
		if strings.Count(got[0], "\n") > 1 {
			nonEmpty++
		}
		answers[inv.Name] = got[1]
	}
	return nonEmpty, answers
}

// sameExportAndReport: export and report read the copy as they read the warehouse.
func sameExportAndReport(t *testing.T, wh, copyDir string) {
	t.Helper()
	var exports [2][]byte
	for i, dir := range []string{wh, copyDir} {
		out := filepath.Join(t.TempDir(), "activities.csv")
		if code, _, errs := runMcasload(t, nil, "export", "-w", dir, "--since", "2026-02-01", "--until", "2026-03-12",
			"--format", "csv", "--out", out, "--progress=false"); code != 0 {
			t.Fatalf("export -w %s: exit %d: %s", dir, code, errs)
		}
		exports[i], _ = os.ReadFile(out)
	}
	if len(exports[0]) < 1000 || !bytes.Equal(exports[0], exports[1]) {
		t.Errorf("export: warehouse %d bytes, copy %d bytes, or they differ", len(exports[0]), len(exports[1]))
	}
	whPage, _ := writeReport(t, wh)
	copyPage, _ := writeReport(t, copyDir)
	if w, c := charts(t, whPage), charts(t, copyPage); len(w) == 0 || !maps.Equal(w, c) {
		t.Errorf("report charts: warehouse %v, copy %v", w, c)
	}
}

// TestRemoteDatasetDir: the dataset push publishes is the warehouse's Parquet folder.
func TestRemoteDatasetDir(t *testing.T) {
	if !strings.HasPrefix(warehouse.ParquetDir, remote.DatasetDir+"/") {
		t.Errorf("warehouse.ParquetDir %q is not under remote.DatasetDir %q", warehouse.ParquetDir, remote.DatasetDir)
	}
}

// TestRemoteUsageAndCredentials: a bad URL is a usage error, a URL with a SAS token is refused
// without echoing it, and refused credentials exit 5.
func TestRemoteUsageAndCredentials(t *testing.T) {
	wh := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"push", "-w", wh}, exitUsage, "give exactly one storage URL"},
		{[]string{"push", "gs://bucket/x", "-w", wh}, exitUsage, "scheme"},
		{[]string{"sync", "azblob://acct/cont/p?sv=1&sig=c2VjcmV0", "-w", wh}, exitUsage, "credentials never go in the URL"},
	} {
		code, out, errs := runMcasload(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) || strings.Contains(out+errs, "c2VjcmV0") {
			t.Errorf("%v: exit %d, %s%s; want %d saying %q", tc.args, code, out, errs, tc.code, tc.want)
		}
	}
	srv, _ := objstoretest.VersityGW(t)
	srv.Setenv(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-key")
	code, out, errs := runMcasload(t, nil, append([]string{"sync", srv.URL("x"), "-w", filepath.Join(wh, "copy")}, srv.Flags...)...)
	if code != exitAuth || !strings.Contains(errs, "AWS_ACCESS_KEY_ID") || strings.Contains(errs, "AZURE") || strings.Contains(out+errs, "wrong-secret-key") {
		t.Errorf("wrong S3 key: exit %d %s%s; want %d with a hint", code, out, errs, exitAuth)
	}
}
