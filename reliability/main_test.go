package reliability

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver, to read the sinks back
	"github.com/mcasload/mcasload/internal/testkit"
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
	testkit.RemoveBuilds()
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

// binary returns the path of the real mcasload binary, built once per test run. Tests that run
// it are skipped under -short (the link of DuckDB alone takes minutes on a cold cache).
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real mcasload binary; skipped in -short")
	}
	return testkit.Build(t, testkit.MCASLoad)
}

// run runs the binary to its end (at most 5 minutes) with env added to the clean environment.
func run(t *testing.T, env []string, args ...string) testkit.Result {
	t.Helper()
	return testkit.Run(t, binary(t), env, args...)
}

// start runs the binary in the background; the process is killed when the test ends.
func start(t *testing.T, env []string, args ...string) *testkit.Proc {
	t.Helper()
	return testkit.Start(t, binary(t), env, args...)
}

// keepOnFailure copies dir, if t fails, to a folder that outlives the test and logs where: the
// warehouse a failing kill round left is the evidence to find which write the kill interrupted.
// The folder is under $MCASLOAD_RELIABILITY_KEEP, else the system's temp folder. Call it after
// the t.TempDir that holds dir, so the copy runs before the temp folder goes.
func keepOnFailure(t *testing.T, dir string) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		root := os.Getenv("MCASLOAD_RELIABILITY_KEEP")
		if root == "" {
			root = os.TempDir()
		}
		dst, err := os.MkdirTemp(root, "mcasload-kept-"+strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())+"-")
		if err == nil {
			err = os.CopyFS(dst, os.DirFS(dir))
		}
		if err != nil {
			t.Logf("keep the warehouse of this failure: %v", err)
			return
		}
		t.Logf("kept the warehouse of this failure in %s", dst)
	})
}

// repairTorn handles a run that found the DuckDB file damaged: a kill that tore one of DuckDB's
// in-place metadata block writes (docs/reliability.md, defect 8; TestReliabilityTornWrite makes
// one on purpose). Such a run must say so with the repair hint; repairTorn then rebuilds the file
// with repair --from parquet, as the hint says, and reports true for the caller to count and go
// on. Any other result is left to the caller (false).
func repairTorn(t *testing.T, res testkit.Result, dir string) bool {
	t.Helper()
	if res.Code != 1 || !strings.Contains(res.Stderr, "Corrupt database file") {
		return false
	}
	if !strings.Contains(res.Stderr, "repair --from parquet") {
		t.Errorf("a damaged duckdb file without the repair hint: %s", res)
	}
	t.Logf("a kill tore a DuckDB block; rebuilding the file from Parquet as the hint says: %s", res)
	if r := run(t, nil, "repair", "--from", "parquet", "--warehouse", dir); r.Code != 0 {
		t.Fatalf("repair --from parquet after a torn DuckDB block: %s", r)
	}
	return true
}

// maxTorn is how many DuckDB files one kill test may find damaged and rebuild: a torn block
// write needs a kill within the microseconds DuckDB rewrites a metadata block in place (one
// `make test` run of all so far met one), so more than one in a test is another fault.
const maxTorn = 1

// checkTorn fails t if the kills damaged more DuckDB files than torn block writes explain.
func checkTorn(t *testing.T, torn int) {
	t.Helper()
	if torn > maxTorn {
		t.Errorf("%d DuckDB files were damaged by kills and rebuilt from Parquet: more than a torn block write explains (at most %d)", torn, maxTorn)
	}
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
