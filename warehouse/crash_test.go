package warehouse

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
)

// runLoadChild runs the "load" child on dir, armed with failpoint fp ("" for none). It returns
// whether the child was killed.
func runLoadChild(t *testing.T, dir string, sinks Sinks, fp string) bool {
	t.Helper()
	return runCrashChild(t, "load", dir, sinks, fp)
}

// runCrashChild runs the child role on dir, armed with failpoint fp ("" for none), and returns
// whether the child was killed there.
func runCrashChild(t *testing.T, role, dir string, sinks Sinks, fp string) bool {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "marker")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "WAREHOUSE_TEST_DIR="+dir, "WAREHOUSE_TEST_SINKS="+string(sinks),
		failpoint.EnvName+"="+fp, failpoint.EnvMarker+"="+marker)
	out, err := cmd.CombinedOutput()
	if fp == "" {
		if err != nil {
			t.Fatalf("uninterrupted %s: %v\n%s", role, err, out)
		}
		return false
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("%s with failpoint %s was not killed: %v\n%s", role, fp, err, out)
	}
	name, _, _ := strings.Cut(fp, "@")
	if b, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(b)) != name {
		t.Fatalf("failpoint %s not reached: marker %q, %v", fp, b, err)
	}
	return true
}

// TestCrashAtEveryFailpoint kills a real writer process at each failpoint (and at chains of
// them: a crash, then a crash during the repair), reruns it to completion, and compares both
// sinks with an uninterrupted run: the same ids with the same raw in each day, no leftovers.
func TestCrashAtEveryFailpoint(t *testing.T) {
	cases := []struct {
		sinks Sinks
		crash []string
	}{
		{SinkBoth, []string{"duckdb-before-commit"}},
		{SinkBoth, []string{"duckdb-after-commit@2"}},
		{SinkBoth, []string{"parquet-write"}},
		{SinkBoth, []string{"parquet-before-rename@3"}},
		{SinkBoth, []string{"parquet-after-rename@2"}},
		{SinkBoth, []string{"parquet-before-rename@2", "reconcile"}},
		{SinkBoth, []string{"compact-before-rename"}},
		{SinkBoth, []string{"compact-after-rename@2"}},
		{SinkParquet, []string{"duckdb-after-commit@3"}},
		{SinkParquet, []string{"parquet-after-rename@4", "reconcile"}},
		{SinkParquet, []string{"compact-after-rename"}},
		{SinkBoth, []string{"ids-before-commit@2"}},
		{SinkBoth, []string{"ids-merge", "ids-before-commit"}},
		{SinkBoth, []string{"merge-before-commit"}},
		{SinkBoth, []string{"create-database"}},
	}
	if testing.Short() {
		cases = []struct {
			sinks Sinks
			crash []string
		}{cases[1], cases[5], cases[7], cases[9], cases[14]}
	}
	reference := map[Sinks]map[string]contents{}
	for _, tc := range cases {
		if reference[tc.sinks] != nil {
			continue
		}
		dir := t.TempDir()
		runLoadChild(t, dir, tc.sinks, "")
		reference[tc.sinks] = map[string]contents{FromParquet: readSink(t, dir, FromParquet)}
		if tc.sinks.duckdb() {
			reference[tc.sinks][FromDuckDB] = readSink(t, dir, FromDuckDB)
		}
		if !equalContents(reference[tc.sinks][FromParquet], loadExpected()) {
			t.Fatalf("uninterrupted run holds %v, want %v", reference[tc.sinks][FromParquet], loadExpected())
		}
	}
	for _, tc := range cases {
		t.Run(string(tc.sinks)+"/"+strings.Join(tc.crash, "+"), func(t *testing.T) {
			dir := t.TempDir()
			for _, fp := range tc.crash {
				runLoadChild(t, dir, tc.sinks, fp)
				testkit.CheckModes(t, dir) // including a WAL or temporary file the crash left
			}
			runLoadChild(t, dir, tc.sinks, "")
			for from, want := range reference[tc.sinks] {
				if got := readSink(t, dir, from); !equalContents(got, want) {
					t.Errorf("%s after crash holds %v, uninterrupted run %v", from, got, want)
				}
			}
			for _, f := range testkit.Files(t, filepath.Join(dir, ParquetDir)) {
				if !partRE.MatchString(filepath.Base(f)) {
					t.Errorf("leftover file %s", f)
				}
			}
			w := openTest(t, dir, tc.sinks)
			defer w.Close(t.Context())
			mustVerify(t, w)
			if v, _, _ := w.State(t.Context(), "watermark"); v != "c-000149" {
				t.Errorf("watermark = %q, want the last commit's c-000149", v)
			}
		})
	}
}
