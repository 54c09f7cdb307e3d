package main

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// exitRow is one run of the real binary and how it must end.
type exitRow struct {
	name string
	args []string
	env  []string
	code int
	// stderr must hold each of these; stdout must be empty unless wantStdout.
	stderr     []string
	wantStdout bool
}

func (r exitRow) check(t *testing.T, res testkit.Result) {
	t.Helper()
	if res.Code != r.code {
		t.Errorf("%s: exit %d, want %d\n%s", r.name, res.Code, r.code, res)
		return
	}
	for _, s := range r.stderr {
		if !strings.Contains(res.Stderr, s) {
			t.Errorf("%s: stderr lacks %q:\n%s", r.name, s, res.Stderr)
		}
	}
	if r.wantStdout != (res.Stdout != "") {
		t.Errorf("%s: stdout %q (want output: %v)", r.name, res.Stdout, r.wantStdout)
	}
}

// TestExitCodeTable runs the real binary, for every command, through the exit codes of the
// README's table that can be reached today: help and usage errors for each command, then data
// errors, an empty window, rejected records, two sources that agree (0) and differ (11), a lock
// held, a refused credential, signals and success; signals_process_test.go stops every command
// that works for a while with a signal (testSignals). (8 is audit_process_test's, 9 and 10
// detect_test's and detect_process_test's; the precedence is TestCombineExitPrecedence's.)
func TestExitCodeTable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	run := func(row exitRow) testkit.Result { return testkit.Run(t, bin, row.env, row.args...) }

	t.Run("help and usage, every command", func(t *testing.T) {
		for _, cmd := range (&env{}).commands() {
			if cmd.Hidden {
				continue
			}
			for _, row := range []exitRow{
				{name: cmd.Name + " --help", args: []string{cmd.Name, "--help"}, code: exitOK, wantStdout: true},
				{name: cmd.Name + " --no-such-flag", args: []string{cmd.Name, "--no-such-flag"}, code: exitUsage, stderr: []string{"no-such-flag"}},
			} {
				row.check(t, run(row))
			}
		}
		for _, row := range []exitRow{
			{name: "--help", args: []string{"--help"}, code: exitOK, wantStdout: true},
			{name: "no command", args: nil, code: exitUsage, stderr: []string{"give a command"}},
			{name: "unknown command", args: []string{"frobnicate"}, code: exitUsage, stderr: []string{`unknown command "frobnicate"`}},
			{name: "state alone", args: []string{"state"}, code: exitUsage, stderr: []string{"give a subcommand: show, reset"}},
		} {
			row.check(t, run(row))
		}
	})

	// A warehouse loaded from the simulator's NDJSON: sim and load succeed.
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh")
	records := filepath.Join(dir, "records.ndjson")
	for _, row := range []exitRow{
		{name: "sim --ndjson", args: []string{"sim", "--records", "300", "--days", "3", "--users", "10", "--late-arrivals", "-1", "--ndjson", records}, code: exitOK},
		{name: "load", args: []string{"load", "-w", wh, "--progress=false", records}, code: exitOK, wantStdout: true},
	} {
		if res := run(row); res.Code != row.code {
			t.Fatalf("%s: %s", row.name, res)
		}
	}
	csv := filepath.Join(dir, "activities.csv")
	mixed := filepath.Join(dir, "mixed.ndjson")
	first, _, _ := strings.Cut(readFile(t, records), "\n")
	writeFile(t, csv, "_id,timestamp,user\na,1,alice\n")
	writeFile(t, mixed, first+"\n"+`{"timestamp":1}`+"\n")
	missing := filepath.Join(dir, "missing")
	old := []string{"--since", "2020-01-01", "--until", "2020-01-08"}

	tn := synth.New(synth.Config{Seed: 9, Users: 10, Days: 2, End: time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond), Total: 200, LateArrivals: -1})
	srv := startScanSim(t, tn, simulator.Config{})
	good := []string{"MCAS_TOKEN=" + scanTestToken}
	bad := []string{"MCAS_TOKEN=wrong" + strings.Repeat("0", 60)}

	t.Run("data, window, auth, success", func(t *testing.T) {
		out := filepath.Join(dir, "report.html")
		for _, row := range []exitRow{
			{name: "status", args: []string{"status", "-w", wh}, code: exitOK, wantStdout: true},
			{name: "status of no warehouse", args: []string{"status", "-w", missing}, code: exitFailure, stderr: []string{"no warehouse"}},
			{name: "verify", args: []string{"verify", "-w", wh}, code: exitOK, wantStdout: true},
			{name: "state show", args: []string{"state", "show", "-w", wh}, code: exitOK, wantStdout: true},
			{name: "schema", args: []string{"schema"}, code: exitOK, wantStdout: true},
			{name: "version", args: []string{"version"}, code: exitOK, wantStdout: true},
			{name: "query", args: []string{"query", "-w", wh, "failed-login-burst", "--since", "30d"}, code: exitOK, wantStdout: true, stderr: []string{"coverage of", "300 activities"}},
			{name: "sql", args: []string{"sql", "-w", wh, "SELECT count(*) FROM activities"}, code: exitOK, wantStdout: true, stderr: []string{"coverage (full)"}},
			{name: "compare-sources, the stream not loaded", args: []string{"compare-sources", "-w", wh}, code: exitDisagree, wantStdout: true, stderr: []string{"the sources differ: 300 records only in the activities API"}},
			{name: "compare-sources, an empty window", args: append([]string{"compare-sources", "-w", wh}, old...), code: exitNoData, wantStdout: true, stderr: []string{"neither source holds a record"}},
			{name: "domains", args: []string{"domains", "-w", wh}, code: exitOK, wantStdout: true},
			{name: "export to stdout", args: []string{"export", "-w", wh, "--since", "30d", "-f", "csv", "-o", "-", "--progress=false"}, code: exitOK, wantStdout: true, stderr: []string{"exported 300 rows to stdout"}},
			{name: "report", args: []string{"report", "-w", wh, "--since", "30d", "-o", out, "--progress=false"}, code: exitOK, stderr: []string{"wrote " + out}},
			{name: "query, empty window", args: append([]string{"query", "-w", wh, "failed-login-burst"}, old...), code: exitNoData, wantStdout: true, stderr: []string{"nothing in 2020-01-01", "the warehouse holds 300 activities"}},
			{name: "export, empty window", args: append([]string{"export", "-w", wh, "-f", "csv", "-o", "-", "--progress=false"}, old...), code: exitNoData, wantStdout: true, stderr: []string{"nothing in 2020-01-01"}},
			{name: "report, empty window", args: append([]string{"report", "-w", wh, "-o", out, "--force", "--progress=false"}, old...), code: exitNoData, stderr: []string{"nothing in 2020-01-01"}},
			{name: "load with a reject", args: []string{"load", "-w", filepath.Join(dir, "wh-rejects"), "--progress=false", mixed}, code: exitRejected, wantStdout: true, stderr: []string{"1 of 2 records were rejected"}},
			{name: "scan", args: []string{"scan", "--url", srv.URL, "-w", filepath.Join(dir, "wh-scan"), "--progress=false", "--rate-limit", "60000"}, env: good, code: exitOK, wantStdout: true},
			{name: "scan, wrong token", args: []string{"scan", "--url", srv.URL, "-w", filepath.Join(dir, "wh-scan"), "--progress=false"}, env: bad, code: exitAuth},
			{name: "check, wrong token", args: []string{"check", "--url", srv.URL}, env: bad, code: exitAuth, wantStdout: true},
			{name: "check", args: []string{"check", "--url", srv.URL}, env: good, code: exitOK, wantStdout: true},
		} {
			row.check(t, run(row))
		}
	})

	t.Run("compare-sources", func(t *testing.T) {
		// The same simulated tenant from both sources (the stream as a local copy of its
		// export): they agree (0). The warehouse without the stream differs (11, above), and a
		// bad flag is a usage error (2).
		both, export := filepath.Join(dir, "wh-both"), filepath.Join(dir, "export")
		apiRecords := filepath.Join(dir, "both.ndjson")
		sim := []string{"sim", "--records", "300", "--days", "3", "--users", "10", "--end", "2026-03-01T12:00:00Z"}
		for _, row := range []exitRow{
			{name: "sim --ndjson", args: append(slices.Clone(sim), "--ndjson", apiRecords), code: exitOK},
			{name: "sim --stream-to", args: append(slices.Clone(sim), "--stream-to", export, "--stream-only"), code: exitOK, wantStdout: true},
			{name: "load", args: []string{"load", "-w", both, "--progress=false", apiRecords}, code: exitOK, wantStdout: true},
			{name: "stream --folder", args: []string{"stream", "-w", both, "--folder", export, "--progress=false"}, code: exitOK, wantStdout: true},
		} {
			if res := run(row); res.Code != row.code {
				t.Fatalf("%s: %s", row.name, res)
			}
		}
		for _, row := range []exitRow{
			{name: "compare-sources, the sources agree", args: []string{"compare-sources", "-w", both}, code: exitOK, wantStdout: true},
			{name: "compare-sources, a bad --rows", args: []string{"compare-sources", "-w", both, "--rows", "some"}, code: exitUsage, stderr: []string{"--rows"}},
			{name: "compare-sources, --until before --since", args: []string{"compare-sources", "-w", both, "--since", "2026-02-10", "--until", "2026-02-01"}, code: exitUsage, stderr: []string{"--until must be after --since"}},
		} {
			row.check(t, run(row))
		}
	})

	t.Run("lock held", func(t *testing.T) {
		w, err := warehouse.Open(t.Context(), warehouse.Options{Dir: wh, Command: "mcasload load held.ndjson"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(t.Context())
		for _, row := range []exitRow{
			{name: "load", args: []string{"load", "-w", wh, "--progress=false", records}, code: exitLocked, stderr: []string{"held.ndjson"}},
			{name: "scan", args: []string{"scan", "--url", srv.URL, "-w", wh, "--progress=false"}, env: good, code: exitLocked},
			{name: "verify", args: []string{"verify", "-w", wh}, code: exitLocked},
			{name: "repair", args: []string{"repair", "-w", wh, "--from", "duckdb"}, code: exitLocked},
			{name: "migrate", args: []string{"migrate", "-w", wh}, code: exitLocked},
			{name: "optimize", args: []string{"optimize", "-w", wh}, code: exitLocked},
			{name: "status alongside", args: []string{"status", "-w", wh}, code: exitOK, wantStdout: true},
			{name: "sql alongside", args: []string{"sql", "-w", wh, "SELECT 1"}, code: exitOK, wantStdout: true},
		} {
			row.check(t, run(row))
		}
	})

	// The DuckDB file open read-write in another process (a DuckDB shell, a writer between
	// commits): the maintenance commands say so (4), not that the warehouse is missing.
	t.Run("file held", func(t *testing.T) {
		db, err := sql.Open("duckdb", filepath.Join(wh, warehouse.DatabaseFile))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("SELECT count(*) FROM activities"); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"verify", "optimize", "prune"} {
			args := []string{cmd, "-w", wh}
			if cmd == "prune" {
				args = append(args, "--older-than", "400d")
			}
			row := exitRow{name: cmd, args: args, code: exitLocked, stderr: []string{"another process has the warehouse open"}}
			row.check(t, run(row))
		}
	})

	t.Run("signals", func(t *testing.T) {
		testSignals(t, bin, wh, records, tn)
		for _, args := range [][]string{
			{"load", "-w", filepath.Join(dir, "wh-signal"), "--progress=false", "-"}, // stdin quiet: nothing opened yet
			{"sql", "-w", wh, "-"}, // the query never comes
		} {
			cmd := exec.Command(bin, args...)
			cmd.Env = testkit.CleanEnv()
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errb strings.Builder
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second) // the binary installs its signal handler first thing
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("%s ignored SIGINT", args[0])
			}
			stdin.Close()
			if code := cmd.ProcessState.ExitCode(); code != exitStopped || !strings.Contains(errb.String(), "stopped by a signal") {
				t.Errorf("%s after SIGINT: exit %d, %q; want %d", args[0], code, errb.String(), exitStopped)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "wh-signal")); err == nil {
			t.Error("a load stopped before its input came created a warehouse")
		}
	})
}

// TestMistakesProcess runs each mistake of issue 18 with the real binary: every one ends in a
// clear message and its exit code, or an honest answer with exit 0 that states its coverage.
func TestMistakesProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh")
	records := filepath.Join(dir, "records.ndjson")
	end := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	for _, args := range [][]string{
		{"sim", "--records", "300", "--days", "3", "--users", "10", "--end", end.Format(time.RFC3339), "--ndjson", records},
		{"load", "-w", wh, "--progress=false", records},
	} {
		if r := testkit.Run(t, bin, nil, args...); r.Code != 0 {
			t.Fatal(r)
		}
	}
	run := func(args ...string) testkit.Result { return testkit.Run(t, bin, nil, args...) }

	t.Run("--parquet that is not there", func(t *testing.T) {
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct{ path, says string }{{filepath.Join(dir, "nowhere"), "no such folder"}, {empty, "no Parquet files"}} {
			for _, args := range [][]string{
				{"query", "--parquet", p.path, "failed-login-burst"},
				{"sql", "--parquet", p.path, "SELECT count(*) FROM activities"},
				{"export", "--parquet", p.path, "-o", filepath.Join(dir, "x.parquet")},
				{"report", "--parquet", p.path, "-o", filepath.Join(dir, "x.html")},
			} {
				exitRow{name: strings.Join(args, " "), args: args, code: exitUsage, stderr: []string{"--parquet " + p.path + ": " + p.says}}.check(t, run(args...))
			}
		}
		// The warehouse's own dataset reads.
		exitRow{name: "sql --parquet wh", code: exitOK, wantStdout: true, stderr: []string{"coverage"}}.check(t, run("sql", "--parquet", wh, "SELECT 1"))
	})

	t.Run("a window partly covered, one not covered, a user never seen", func(t *testing.T) {
		r := run("query", "-w", wh, "failed-login-burst", "--since", "2026-03-01", "--until", "2026-03-10")
		exitRow{name: "partial", code: exitOK, wantStdout: true, stderr: []string{"(partial)", "nothing on 2026-03-01 … 2026-03-06"}}.check(t, r)
		r = run("query", "-w", wh, "failed-login-burst", "--since", "2025-01-01", "--until", "2025-01-02", "-f", "json")
		exitRow{name: "none", code: exitNoData, wantStdout: true, stderr: []string{"nothing in 2025-01-01", "300 activities", "--since 2026-03-07"}}.check(t, r)
		var doc struct{ Meta output.Meta }
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || doc.Meta.Coverage == nil || doc.Meta.Coverage.State != output.CoverNone || doc.Meta.Coverage.Warehouse.Activities != 300 {
			t.Errorf("meta.coverage of an empty window: %v %+v", err, doc.Meta.Coverage)
		}
		r = run("query", "-w", wh, "user-timeline", "-p", "user=nobody@example.com", "--since", "2026-03-07", "--until", "2026-03-10", "-f", "json")
		exitRow{name: "unseen user", code: exitOK, wantStdout: true}.check(t, r)
		doc.Meta = output.Meta{}
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || len(doc.Meta.Unseen) != 1 || doc.Meta.Unseen[0].Value != "nobody@example.com" {
			t.Errorf("meta.unseen: %v %+v", err, doc.Meta.Unseen)
		}
		r = run("query", "-w", wh, "user-timeline", "-p", "user=nobody@example.com", "--since", "2026-03-07", "--until", "2026-03-10")
		exitRow{name: "unseen user, table", code: exitOK, wantStdout: true, stderr: []string{"nobody@example.com (--param user) appears in no activity"}}.check(t, r)
		r = run("query", "-w", wh, "ip-pivot", "-p", "ip=192.0.2.77", "--since", "2026-03-07", "--until", "2026-03-10")
		exitRow{name: "unseen ip", code: exitOK, wantStdout: true, stderr: []string{"the IP address 192.0.2.77 (--param ip) appears in no activity"}}.check(t, r)
		r = run("query", "-w", wh, "ip-pivot", "-p", "ip=192.0.2.77", "--since", "2026-03-07", "--until", "2026-03-10", "-f", "json")
		doc.Meta = output.Meta{}
		if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || len(doc.Meta.Unseen) != 1 || doc.Meta.Unseen[0].Value != "192.0.2.77" {
			t.Errorf("meta.unseen of an IP: %v %+v", err, doc.Meta.Unseen)
		}
	})

	t.Run("--out", func(t *testing.T) {
		for _, args := range [][]string{{"report", "-w", wh}, {"export", "-w", wh}} {
			exitRow{name: args[0] + " without --out", code: exitUsage, stderr: []string{"--out is required"}}.check(t, run(args...))
		}
		exitRow{name: "export --out - --partition-by day", code: exitUsage, stderr: []string{"--partition-by"}}.check(t,
			run("export", "-w", wh, "-o", "-", "--partition-by", "day"))
		chdir := t.TempDir() // a file named "-" would land here
		for _, args := range [][]string{
			{"report", "-w", wh, "--since", "2026-03-07", "--until", "2026-03-10", "-o", "-", "--progress=false"},
			{"export", "-w", wh, "--since", "2026-03-07", "--until", "2026-03-10", "-o", "-", "-f", "ndjson", "--progress=false"},
			{"query", "-w", wh, "failed-login-burst", "--since", "2026-03-07", "--until", "2026-03-10", "-o", "-", "-f", "json"},
		} {
			cmd := exec.Command(bin, args...)
			cmd.Dir, cmd.Env = chdir, testkit.CleanEnv()
			out, err := cmd.Output()
			if err != nil || len(out) == 0 {
				t.Errorf("%s -o -: %v, %d bytes on stdout", args[0], err, len(out))
			}
			if args[0] == "report" && !strings.Contains(string(out), "<!DOCTYPE html>") {
				t.Errorf("report -o - wrote %.80q", out)
			}
		}
		if _, err := os.Stat(filepath.Join(chdir, "-")); err == nil {
			t.Error(`--out - wrote a file named "-"`)
		}
		// Parquet to a terminal is refused; redirected, it is written.
		tty := openPTY(t)
		for _, args := range [][]string{
			{"export", "-w", wh, "-o", "-", "--progress=false"},
			{"query", "-w", wh, "failed-login-burst", "-f", "parquet", "-o", "-"},
			{"sql", "-w", wh, "-f", "parquet", "SELECT 1"},
		} {
			cmd := exec.Command(bin, args...)
			var errb strings.Builder
			cmd.Env, cmd.Stdout, cmd.Stderr = testkit.CleanEnv(), tty, &errb
			cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != exitUsage || !strings.Contains(errb.String(), "binary") {
				t.Errorf("%s parquet to a terminal: exit %d, %q; want %d", args[0], code, errb.String(), exitUsage)
			}
		}
	})

	t.Run("inputs people have", func(t *testing.T) {
		pretty := filepath.Join(dir, "pretty.json")
		var b strings.Builder
		for _, line := range strings.Split(strings.TrimSpace(readFile(t, records)), "\n") {
			var v any
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatal(err)
			}
			out, _ := json.MarshalIndent(v, "", "  ")
			b.Write(out)
			b.WriteString("\n")
		}
		writeFile(t, pretty, b.String())
		fresh := filepath.Join(dir, "fresh")
		exitRow{name: "pretty-printed JSON", code: exitOK, wantStdout: true}.check(t, run("load", "-w", fresh, "--progress=false", pretty))
		if r := run("sql", "-w", fresh, "-f", "csv", "SELECT count(*) AS n FROM activities"); !strings.Contains(r.Stdout, "n\n300\n") {
			t.Errorf("pretty-printed JSON loaded %q, want 300 rows", r.Stdout)
		}
		// A JSON array, objects one after another on a line, gzip and saved API pages: a quarter
		// of the records each, all loaded by one command.
		lines := strings.Split(strings.TrimSpace(readFile(t, records)), "\n")
		q := len(lines) / 4
		array, concat, gz, pages := filepath.Join(dir, "array.json"), filepath.Join(dir, "concat.json"), filepath.Join(dir, "part.ndjson.gz"), filepath.Join(dir, "pages.json")
		writeFile(t, array, "[\n"+strings.Join(lines[:q], ",\n")+"\n]\n")
		writeFile(t, concat, strings.Join(lines[q:2*q], ""))
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		zw.Write([]byte(strings.Join(lines[2*q:3*q], "\n") + "\n"))
		zw.Close()
		writeFile(t, gz, zb.String())
		half := 3*q + (len(lines)-3*q)/2
		writeFile(t, pages, `{"data":[`+strings.Join(lines[3*q:half], ",")+`],"hasNext":true,"max":100,"total":`+fmt.Sprint(len(lines)-3*q)+"}\n"+
			`{"data":[`+strings.Join(lines[half:], ",")+`],"hasNext":false,"max":100,"total":`+fmt.Sprint(len(lines)-3*q)+"}\n")
		formats := filepath.Join(dir, "formats")
		exitRow{name: "array, concatenated, gzip, pages", code: exitOK, wantStdout: true}.check(t, run("load", "-w", formats, "--progress=false", array, concat, gz, pages))
		if r := run("sql", "-w", formats, "-f", "csv", "SELECT count(*) AS n FROM activities"); !strings.Contains(r.Stdout, fmt.Sprintf("n\n%d\n", len(lines))) {
			t.Errorf("array, concatenated, gzip and pages loaded %q, want %d rows", r.Stdout, len(lines))
		}
		csv := filepath.Join(dir, "activities.csv")
		html := filepath.Join(dir, "page.html")
		binary := filepath.Join(dir, "data.bin")
		writeFile(t, csv, "_id,timestamp,user\na,1,alice\nb,2,bob\n")
		writeFile(t, html, "<!DOCTYPE html>\n<html><body>Sign in</body></html>\n")
		writeFile(t, binary, "\x00\x01\x02\x03\xff\xfe\x80 binary")
		for _, c := range []struct {
			files []string
			says  string
		}{
			{[]string{csv}, "activities.csv is not JSON: it looks like CSV"},
			{[]string{records, html}, "page.html is not JSON: it looks like HTML"},
			{[]string{binary}, "data.bin is not JSON: it looks like binary data"},
			{[]string{records, filepath.Join(dir, "missing.ndjson")}, "input " + filepath.Join(dir, "missing.ndjson") + ": no such file"},
		} {
			target := filepath.Join(t.TempDir(), "wh")
			exitRow{name: "load " + strings.Join(c.files, " "), code: exitUsage, stderr: []string{c.says, "nothing was loaded"}}.check(t,
				run(append([]string{"load", "-w", target, "--progress=false"}, c.files...)...))
			if _, err := os.Stat(target); err == nil {
				t.Errorf("load of %v created the warehouse before refusing", c.files)
			}
		}
	})
}

// openPTY opens a pseudo-terminal and returns its terminal end, for a binary's stdout.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	go io.Copy(io.Discard, ptmx) // drain what the binary writes
	return tty
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
