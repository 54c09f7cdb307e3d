package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
)

// TestLoadProcess drives the real binary: it kills `mcasload load` at every failpoint of the
// load path, reruns it and compares with an uninterrupted load; runs two writers; reads status
// during a load; and interrupts a load with SIGINT.
func TestLoadProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	lines := testRecords(7, 1200)
	file := writeLines(t, lines)
	want := sinks.WantLines(t, lines)
	// Small commits over three days give several commits and Parquet files per day, so every
	// failpoint is reached mid-run; --compact-over 2 makes Close compact.
	loadArgs := func(dir string, extra ...string) []string {
		args := append([]string{"load", "-w", dir, "--batch-rows", "200", "--progress=false", "--compact-over", "2", "--threads", "2"}, extra...)
		return append(args, file)
	}

	t.Run("uninterrupted", func(t *testing.T) {
		dir := t.TempDir()
		if r := testkit.Run(t, bin, nil, loadArgs(dir)...); r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		sinks.ExactlyOnce(t, dir, want)
	})

	// Each case kills the process at the failpoint named (after the given number of hits), then
	// reruns the same load until it succeeds; prior lists crashes to cause first (reconciliation
	// only has work to do after a crash).
	cases := []struct {
		point string
		prior []string
		args  []string // flags added to every run of the case
	}{
		{point: "convert@3"},
		{point: "ids-before-commit@2"},
		{point: "ids-merge@1"},
		{point: "duckdb-before-commit@2"},
		{point: "duckdb-after-commit@2"},
		{point: "parquet-write@2"},
		{point: "parquet-before-rename@3"},
		{point: "parquet-after-rename@3"},
		{point: "reconcile@1", prior: []string{"parquet-before-rename@2"}},
		{point: "compact-before-rename@1"},
		{point: "compact-after-rename@2"},
		// Commits that close the file each leave a row group to merge (as a scan slower than
		// the hold does); held ones share row groups and leave nothing to merge.
		{point: "merge-before-commit@1", args: []string{"--hold-file", "0"}},
		// A fresh warehouse: the new DuckDB file made under its temporary name, not renamed.
		{point: "create-database@1"},
	}
	covered := map[string]bool{"fetch": true} // fetch belongs to the scan loop
	for _, tc := range cases {
		name, _, _ := strings.Cut(tc.point, "@")
		covered[name] = true
		t.Run("kill at "+tc.point, func(t *testing.T) {
			// Most of a run is fsync and process start-up; cases overlap well even on 2 cores.
			t.Parallel()
			dir := t.TempDir()
			for _, fp := range append(tc.prior, tc.point) {
				marker := filepath.Join(t.TempDir(), "marker")
				r := testkit.Run(t, bin, []string{failpoint.EnvName + "=" + fp, failpoint.EnvMarker + "=" + marker}, loadArgs(dir, tc.args...)...)
				if !r.Killed {
					t.Fatalf("failpoint %s: process was not killed (exit %d): %s", fp, r.Code, r.Stderr)
				}
				got, err := os.ReadFile(marker)
				fpName, _, _ := strings.Cut(fp, "@")
				if err != nil || strings.TrimSpace(string(got)) != fpName {
					t.Fatalf("failpoint %s: marker %q (%v); the process died elsewhere", fp, got, err)
				}
			}
			r := testkit.Run(t, bin, nil, loadArgs(dir, tc.args...)...)
			if r.Code != 0 {
				t.Fatalf("rerun exit %d: %s", r.Code, r.Stderr)
			}
			sinks.ExactlyOnce(t, dir, want)
			if len(tc.prior) > 0 {
				if r := testkit.Run(t, bin, nil, "verify", "-w", dir); r.Code != 0 {
					t.Errorf("verify after recovery: %s%s", r.Stdout, r.Stderr)
				}
			}
		})
	}
	for _, n := range failpoint.Names {
		if !covered[n] {
			t.Errorf("failpoint %s is not exercised by a kill test", n)
		}
	}

	t.Run("two writers, a reader, and SIGINT", func(t *testing.T) {
		dir := t.TempDir()
		// The first writer reads a pipe that stays open: it commits the first full chunk
		// (5000 records) and then waits for more input, holding the lock.
		first := exec.Command(bin, "load", "-w", dir, "--batch-rows", "5000", "--progress=false", "-")
		stdin, err := first.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errb, outb bytes.Buffer
		first.Stderr, first.Stdout = &errb, &outb
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		defer first.Process.Kill()
		more := testRecords(8, 5600)
		go func() {
			stdin.Write([]byte(strings.Join(more, "\n") + "\n"))
			// keep the pipe open: the writer is now a long-running load
		}()
		// A reader sees the committed rows while the load runs.
		var rows string
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, out, _ := runMcasload(t, nil, "status", "-w", dir, "--format", "json")
			if code == exitOK && strings.Contains(out, `"rows": 5000`) {
				rows = out
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("status never showed the first commit during the load: exit %d %s\nwriter: %s", code, out, errb.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(rows, `"finished": null`) {
			t.Errorf("status during the load should show the running run as unfinished:\n%s", rows)
		}
		// A second writer fails at once, naming the first.
		start := time.Now()
		r := testkit.Run(t, bin, nil, "load", "-w", dir, "--progress=false", file)
		if r.Code != exitLocked || !strings.Contains(r.Stderr, fmt.Sprintf("pid %d", first.Process.Pid)) || !strings.Contains(r.Stderr, "mcasload load") {
			t.Errorf("second writer: exit %d, %q; want %d naming pid %d", r.Code, r.Stderr, exitLocked, first.Process.Pid)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("second writer took %s to refuse", el)
		}
		// SIGINT: the first writer commits what it handed over and exits 6.
		if err := first.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		werr := first.Wait()
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.ExitCode() != exitStopped {
			t.Fatalf("after SIGINT: %v, want exit %d\n%s", werr, exitStopped, errb.String())
		}
		if !strings.Contains(outb.String(), "load stopped early") || !strings.Contains(errb.String(), "rerun the same command") {
			t.Errorf("SIGINT output: %s%s", outb.String(), errb.String())
		}
		// The rerun completes the load exactly; the lock was released.
		stdinFile := writeLines(t, more)
		if r := testkit.Run(t, bin, nil, "load", "-w", dir, "--progress=false", stdinFile); r.Code != 0 {
			t.Fatalf("rerun: exit %d %s", r.Code, r.Stderr)
		}
		sinks.ExactlyOnce(t, dir, sinks.WantLines(t, more))
	})
}
