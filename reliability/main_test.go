package reliability

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver, to read the sinks back

	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// long is set by `make reliability`: the counts and durations of docs/reliability.md.
var long = os.Getenv("MCASLOAD_RELIABILITY") == "long"

// pick returns the short figure in the normal test run and the long one under `make reliability`.
func pick[T any](short, longer T) T {
	if long {
		return longer
	}
	return short
}

// reportFile, when set, receives the table of what was tried (markdown), for docs/reliability.md.
var reportFile = flag.String("report", os.Getenv("MCASLOAD_RELIABILITY_REPORT"), "write the markdown table of what was tried to `FILE`")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	writeReport()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// reportRow is one line of the table in docs/reliability.md.
type reportRow struct {
	Category, Tried string
	Count           int
	Outcome         string
}

var (
	reportMu   sync.Mutex
	reportRows []*reportRow
)

// record adds a row to the report; the row's outcome becomes a failure note if t fails. The test
// updates count and outcome through the returned row before it ends.
func record(t *testing.T, category, tried string) *reportRow {
	t.Helper()
	r := &reportRow{Category: category, Tried: tried}
	reportMu.Lock()
	reportRows = append(reportRows, r)
	reportMu.Unlock()
	t.Cleanup(func() {
		reportMu.Lock()
		defer reportMu.Unlock()
		switch {
		case t.Skipped():
			r.Outcome = "skipped (see test log)"
		case t.Failed():
			r.Outcome = "FAILED: " + r.Outcome + " (see test log: " + t.Name() + ")"
		}
	})
	return r
}

func (r *reportRow) set(count int, format string, args ...any) {
	reportMu.Lock()
	defer reportMu.Unlock()
	r.Count = count
	r.Outcome = fmt.Sprintf(format, args...)
}

func writeReport() {
	reportMu.Lock()
	defer reportMu.Unlock()
	if len(reportRows) == 0 {
		return
	}
	var b strings.Builder
	mode := "short"
	if long {
		mode = "long (MCASLOAD_RELIABILITY=long)"
	}
	fmt.Fprintf(&b, "Reliability suite, %s run, finished %s\n\n", mode, time.Now().UTC().Format(time.RFC3339))
	b.WriteString("| category | what was tried | count | outcome |\n|---|---|---:|---|\n")
	for _, r := range reportRows {
		fmt.Fprintf(&b, "| %s | %s | %d | %s |\n", r.Category, strings.ReplaceAll(r.Tried, "|", "\\|"), r.Count, strings.ReplaceAll(r.Outcome, "|", "\\|"))
	}
	os.Stdout.WriteString("\n" + b.String())
	if *reportFile != "" {
		if err := os.WriteFile(*reportFile, []byte(b.String()), 0o600); err != nil {
			fmt.Fprintf(os.Stderr, "write report: %v\n", err)
		}
	}
}

// The real binary, built once per test run into a temporary folder.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// binary returns the path of the real mcasload binary, building it on first use. Tests that run
// it are skipped under -short (the link of DuckDB alone takes minutes on a cold cache).
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real mcasload binary; skipped in -short")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "mcasload-reliability-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "mcasload")
		cmd := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", binPath, "github.com/mcasload/mcasload/cmd/mcasload")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build mcasload: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// procResult is how one run of the binary ended.
type procResult struct {
	code    int  // exit code, -1 when killed by a signal
	killed  bool // ended by SIGKILL
	stdout  string
	stderr  string
	elapsed time.Duration
}

func (r procResult) String() string {
	return fmt.Sprintf("exit %d (killed %v) after %s\nstdout:\n%s\nstderr:\n%s", r.code, r.killed, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// run runs the binary to its end (at most 5 minutes) with env added to the test's environment.
func run(t *testing.T, env []string, args ...string) procResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	return exited(t, err, out.String(), errb.String(), time.Since(start))
}

// cleanEnv is the test's environment without MCAS_* and MCASLOAD_* settings, so that a variable
// in the shell running the suite cannot change what a run does.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MCAS_") || strings.HasPrefix(kv, "MCASLOAD_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func exited(t *testing.T, err error, stdout, stderr string, elapsed time.Duration) procResult {
	t.Helper()
	res := procResult{stdout: stdout, stderr: stderr, elapsed: elapsed}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			res.killed = true
		}
	default:
		t.Fatalf("run mcasload: %v", err)
	}
	return res
}

// started is a run of the binary in the background.
type started struct {
	cmd        *exec.Cmd
	out, errb  *lockedBuffer
	start      time.Time
	done       chan struct{}
	err        error
	stopCancel context.CancelFunc
}

// lockedBuffer is a bytes.Buffer safe to read while the process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs the binary in the background; the process is killed when the test ends.
func start(t *testing.T, env []string, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	s := &started{cmd: exec.CommandContext(ctx, binary(t), args...), out: &lockedBuffer{}, errb: &lockedBuffer{}, done: make(chan struct{}), stopCancel: cancel}
	s.cmd.Env = append(cleanEnv(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.errb
	s.start = time.Now()
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		cancel()
	})
	return s
}

// wait waits for the background run to end.
func (s *started) wait(t *testing.T) procResult {
	t.Helper()
	<-s.done
	return exited(t, s.err, s.out.String(), s.errb.String(), time.Since(s.start))
}

// kill sends SIGKILL and waits.
func (s *started) kill(t *testing.T) procResult {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	return s.wait(t)
}

// running reports whether the process has not ended yet.
func (s *started) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// A row as the sinks must hold it: "day raw", the day being the UTC day of the activity.
func dayRaw(tsMillis int64, raw string) string {
	return time.UnixMilli(tsMillis).UTC().Format("2006-01-02") + " " + raw
}

// tenantWant is every activity of tn created before `before` (all when zero) as id → day raw,
// computed from the generator's output, never through the simulator's filters.
func tenantWant(tn *synth.Tenant, before time.Time) map[string]string {
	want := map[string]string{}
	var buf []byte
	for i := range tn.Len() {
		a := tn.Activity(i)
		if !before.IsZero() && a.Created >= before.UnixMilli() {
			continue
		}
		buf = tn.AppendJSON(buf[:0], i)
		want[a.ID] = dayRaw(a.Timestamp, string(buf))
	}
	return want
}

// linesWant is what the sinks must hold after loading lines (every one valid).
func linesWant(t *testing.T, lines []string) map[string]string {
	t.Helper()
	want := map[string]string{}
	for _, l := range lines {
		var r struct {
			ID string `json:"_id"`
			TS int64  `json:"timestamp"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("test record %.80q: %v", l, err)
		}
		want[r.ID] = dayRaw(r.TS, l)
	}
	return want
}

// openDuck opens an in-memory DuckDB to read warehouse files with; the caller closes it at once
// after reading, since an attached warehouse file stays locked while it is open.
func openDuck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// sinkRows reads id → day raw from one sink of the warehouse in dir ("duckdb" or "parquet"). It
// fails on an id stored twice and on a row stored under a day other than its UTC day (for
// Parquet: outside its day's folder).
func sinkRows(t *testing.T, dir, sink string) map[string]string {
	t.Helper()
	db := openDuck(t)
	defer db.Close()
	var q string
	if sink == "duckdb" {
		if _, err := db.Exec(fmt.Sprintf("ATTACH '%s' AS wh (READ_ONLY)", filepath.Join(dir, warehouse.DatabaseFile))); err != nil {
			t.Fatalf("attach %s: %v", dir, err)
		}
		q = `SELECT id, strftime(timezone('UTC', ts), '%Y-%m-%d'), strftime(day, '%Y-%m-%d'), raw, '' FROM wh.activities`
	} else {
		glob := filepath.Join(dir, warehouse.ParquetDir, "*", "*.parquet")
		if files, _ := filepath.Glob(glob); len(files) == 0 {
			return map[string]string{}
		}
		q = fmt.Sprintf(`SELECT id, strftime(timezone('UTC', ts), '%%Y-%%m-%%d'), regexp_extract(filename, 'day=([0-9-]+)', 1), raw, filename
			FROM read_parquet('%s', filename=true, hive_partitioning=false)`, glob)
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("read %s sink: %v", sink, err)
	}
	defer rows.Close()
	got := map[string]string{}
	dups, misplaced := 0, 0
	for rows.Next() {
		var id, day, stored, raw, file string
		if err := rows.Scan(&id, &day, &stored, &raw, &file); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[id]; dup {
			if dups++; dups <= 3 {
				t.Errorf("%s holds id %s twice", sink, id)
			}
		}
		if stored != day {
			if misplaced++; misplaced <= 3 {
				var ts struct {
					TS any `json:"timestamp"`
				}
				_ = json.Unmarshal([]byte(raw), &ts)
				t.Errorf("%s: row %s of UTC day %s (timestamp %v) is stored under day %s %s", sink, id, day, ts.TS, stored, file)
			}
		}
		got[id] = day + " " + raw
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if dups+misplaced > 0 {
		t.Errorf("%s of %s: %d ids stored twice, %d rows outside their day, of %d rows", sink, dir, dups, misplaced, len(got))
	}
	return got
}

// assertExact checks that both sinks of dir hold exactly want: the same ids, each once, in its
// day, with raw byte for byte.
func assertExact(t *testing.T, dir string, want map[string]string) bool {
	t.Helper()
	ok := true
	for _, sink := range []string{"duckdb", "parquet"} {
		got := sinkRows(t, dir, sink)
		missing, extra, differ := 0, 0, 0
		var example string
		for id, w := range want {
			g, found := got[id]
			switch {
			case !found:
				missing++
				if example == "" {
					example = "missing " + id
				}
			case g != w:
				differ++
				if example == "" {
					example = fmt.Sprintf("id %s holds %.100q, want %.100q", id, g, w)
				}
			}
		}
		for id := range got {
			if _, found := want[id]; !found {
				extra++
				if example == "" {
					example = "unexpected " + id
				}
			}
		}
		if missing+extra+differ > 0 {
			ok = false
			t.Errorf("%s of %s holds %d rows, want %d: %d missing, %d unexpected, %d different (e.g. %s)", sink, dir, len(got), len(want), missing, extra, differ, example)
		}
	}
	return ok && !t.Failed()
}

// grepTree returns the files under dir whose content holds any of the secrets.
func grepTree(t *testing.T, dir string, secrets ...string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if s != "" && bytes.Contains(data, []byte(s)) {
				hits = append(hits, fmt.Sprintf("%s (holds %.12s…)", p, s))
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return hits
}

// leaks returns a description of every secret found in texts.
func leaks(secrets []string, texts map[string]string) []string {
	var out []string
	for name, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}
